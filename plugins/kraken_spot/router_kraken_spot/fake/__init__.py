"""A loopback fake of Kraken spot REST for tests and benchmarks (never a real exchange).

``FakeKraken`` (``app.py``) is the ASGI app: signatures, nonces, rate counters, faults and the
control API; ``FakeVenue`` (``venue.py``) is the engine and account state behind it. Run it
in-process with ``httpx.ASGITransport(app=FakeKraken())`` or as a loopback server::

    python -m router_kraken_spot.fake --port 8765
"""

from ..fake_data import FAKE_API_KEY, FAKE_API_SECRET
from .app import Call, FakeKraken, Fault, main
from .venue import FakeVenue, KrakenAnswer

__all__ = ["FAKE_API_KEY", "FAKE_API_SECRET", "Call", "FakeKraken", "FakeVenue", "Fault",
           "KrakenAnswer", "main"]
