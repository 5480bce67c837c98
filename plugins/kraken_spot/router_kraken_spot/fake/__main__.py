"""``python -m router_kraken_spot.fake``: the fake Kraken as a loopback server."""

from .app import main

main()
