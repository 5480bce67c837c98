"""Kraken spot broker plugin for alert-router.

Modules: ``signing`` (API-Sign), ``endpoints`` (the allowlist and rate costs), ``errors`` (the
error table), ``client`` (transport, nonces, limits), ``instruments`` (AssetPairs cache and
symbol resolution), ``orders`` (Order -> AddOrder form), ``broker`` (the Broker), ``config``
(the account settings), ``plugin`` (the entry point); for tests and benchmarks ``fake`` (a
loopback Kraken), ``fake_data`` (its starting state) and ``testing`` (in-process helpers).
"""

__version__ = "0.1.0"
