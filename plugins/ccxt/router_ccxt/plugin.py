"""Entry point ``ccxt`` (group ``router_core.plugins``): registers the broker.

The broker module imports no ccxt at import time: registering it costs nothing, and ccxt's own
import (about half a second) is paid only when an account names ``broker = "ccxt"``.
"""

from __future__ import annotations

from typing import Any

from router_core import hookimpl


@hookimpl
def router_register_brokers(register: Any) -> None:
    from .broker import CcxtBroker

    register(CcxtBroker)
