"""``json.dumps``'s very text, from json's C encoder made once.

``json.dumps`` (``JSONEncoder.encode``) builds a C encoder on every call, about 1 µs of the
2.5-3 µs that a leg's order summary, its outcome or an alert's claim text take to encode; the
journal encodes two to four of them per order (bench/). The encoder made here is the one
``json.dumps`` would build with its defaults (and ``sort_keys``), so the text is the same byte
for byte, with or without json's C accelerator (tests/test_json_text.py).

It skips one thing ``json.dumps`` does: the circular-reference check, which needs a fresh
table per call. Everything encoded with it is a tree built just before from the router's own
models (``Alert.public_dict``, ``order_summary``, ``OrderResult.to_dict``,
``ExecutionReport.to_dict``), which has no cycle.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from json.encoder import c_make_encoder, encode_basestring_ascii  # type: ignore[attr-defined]
from typing import Any


def text_encoder(*, sort_keys: bool = False) -> Callable[[Any], str]:
    """A function returning ``json.dumps(value, sort_keys=sort_keys)`` for ``value``; it
    raises ``TypeError`` for what JSON cannot hold, as ``json.dumps`` does."""
    if c_make_encoder is None:  # a Python without json's C accelerator
        return json.JSONEncoder(sort_keys=sort_keys).encode
    chunks = c_make_encoder(None, json.JSONEncoder().default, encode_basestring_ascii, None,
                            ": ", ", ", sort_keys, False, True)
    return lambda value: "".join(chunks(value, 0))
