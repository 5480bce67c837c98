"""Garbage-collector settings for a process that serves alerts for a long time.

Two costs of CPython's cyclic collector show up on the router's hot path (bench/README.md):

* Its oldest generation is scanned whole, and after start-up it holds every module, schema,
  plugin and instrument loaded: about 60,000 objects, 20-35 ms per full collection on the
  bench machine, with the event loop stopped. A burst of alerts, or a fan-out to 50 accounts,
  keeps enough objects alive across young collections to trigger a full one every 1,000 legs
  or so. Objects frozen by ``gc.freeze`` are left out of every collection, and what start-up
  built lives as long as the server anyway.
* The young generation is collected every 700 net allocations of tracked objects. One order
  in flight holds a few hundred (requests, futures, models, journal rows), so a burst of 100
  or 50 legs in flight trigger a collection every few orders, and whatever is in flight then
  is walked and promoted again. The router makes little cyclic garbage, so a higher threshold
  collects about as much, in fewer and larger passes.

This changes the whole process: the web app's lifespan (``server.create_app``, which
``alert-router serve`` runs) applies it once the router has started and gives the settings
back on shutdown. A program that embeds ``Router`` for a long time can call it too, after
``await router.start()``.
"""

from __future__ import annotations

import gc
from collections.abc import Callable

# Net allocations of tracked objects between young collections (CPython's default: 700).
YOUNG_GENERATION_THRESHOLD = 10_000


def tune_for_serving() -> Callable[[], None]:
    """Freeze every object tracked now (start-up's modules, config, plugins) and raise the
    young generation's threshold to ``YOUNG_GENERATION_THRESHOLD``, unless the collector is
    switched off (threshold 0) or set higher already. Returns the function that gives the
    collector its previous threshold back and unfreezes those objects."""
    gc.freeze()
    thresholds = gc.get_threshold()
    young, middle, old = thresholds
    if young and young < YOUNG_GENERATION_THRESHOLD:
        gc.set_threshold(YOUNG_GENERATION_THRESHOLD, middle, old)

    def restore() -> None:
        gc.set_threshold(*thresholds)
        gc.unfreeze()

    return restore
