"""Garbage-collector settings for a process that serves alerts for a long time.

Two costs of CPython's cyclic collector show up on the router's hot path (bench/README.md):

* Its oldest generation is scanned whole, and after start-up it holds every module, schema,
  plugin and instrument loaded: about 60,000 objects, 20-35 ms per full collection on the
  bench machine, with the event loop stopped. A fan-out to 50 accounts keeps enough objects
  alive across young collections to trigger a full one every 1,000 legs or so. Objects frozen by
  ``gc.freeze`` are left out of every collection, and what start-up built lives as long as
  the process anyway.
* The young generation is collected every 700 net allocations of tracked objects. One order
  in flight holds a few hundred (requests, futures, models, journal rows), so 50 legs in
  flight trigger a collection every few legs, and whatever is in flight then is promoted,
  which is what makes the full collections come. The router makes little cyclic garbage, so a
  higher threshold collects about as much and far less often.

This changes the whole process, so only ``alert-router serve`` calls it, once it is ready. A
program that embeds ``Router`` for a long time can call it too, after ``await router.start()``.
"""

from __future__ import annotations

import gc

# Net allocations of tracked objects between young collections (CPython's default: 700).
YOUNG_GENERATION_THRESHOLD = 10_000


def tune_for_serving() -> None:
    """Collect once, freeze every object that survives (start-up's modules, config, plugins),
    and raise the young generation's threshold to ``YOUNG_GENERATION_THRESHOLD``. Call it
    once, when the process is ready to serve; calling it again freezes what was built since.
    Objects frozen are never collected, so start-up's garbage is collected first."""
    gc.collect()
    gc.freeze()
    young, middle, old = gc.get_threshold()
    if young and young < YOUNG_GENERATION_THRESHOLD:  # 0: the collector is off; keep it so
        gc.set_threshold(YOUNG_GENERATION_THRESHOLD, middle, old)
