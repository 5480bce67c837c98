"""Kraken spot broker plugin for alert-router.

Modules: ``signing`` (API-Sign), ``endpoints`` (the allowlist and rate costs), ``errors`` (the
error table), ``client`` (transport, nonces, limits), ``instruments`` (AssetPairs cache and
symbol resolution), ``orders`` (Order -> AddOrder form), ``broker`` (the Broker), ``fake`` (a
loopback Kraken for tests and benchmarks), ``plugin`` (the entry point).
"""

__version__ = "0.1.0"
