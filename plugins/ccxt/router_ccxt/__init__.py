"""alert-router's ccxt broker: one plugin for every exchange ccxt supports.

``broker = "ccxt"`` with ``exchange = "<ccxt id>"``. ccxt itself is imported only when an
account of this broker is validated or built, so the core's start-up stays as fast without it.
"""

__version__ = "0.1.0"
