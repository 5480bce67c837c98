"""Test helpers for the ProjectX broker against ``FakeProjectX``: a context, a broker, orders.

Kept in the package (not a conftest) so the tests of this distribution and the fan-out tests
of others can share them.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx

from router_core import (
    BrokerContext,
    Instrument,
    Order,
    OrderType,
    Side,
)
from router_core.testing import FakeClock

from ..projectx import ProjectXBroker, ProjectXConfig
from .kit import fake_context, new_order
from .projectx import FAKE_API_KEY, FAKE_USERNAME, FakeProjectX

ENV = {"PROJECTX_USERNAME": FAKE_USERNAME, "PROJECTX_API_KEY": FAKE_API_KEY}
BASE_URL = "https://gateway.invalid"  # never dialled: the ASGI transport answers in-process


def clock_at(moment: datetime) -> FakeClock:
    """A fake clock at ``moment`` (naive: UTC)."""
    aware = moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
    return FakeClock(aware.timestamp())


def projectx_context(tmp_path: Path, fake: FakeProjectX, clock: FakeClock, *,
                     account: str = "px", environ: dict[str, str] | None = None,
                     transport: httpx.AsyncBaseTransport | None = None) -> BrokerContext:
    return fake_context(tmp_path, fake, clock, account=account,
                        environ=ENV if environ is None else environ, transport=transport)


def projectx_broker(tmp_path: Path, fake: FakeProjectX, clock: FakeClock, *,
                    account: str = "px", **settings: Any) -> ProjectXBroker:
    """An unstarted broker on the fake (``gateway = custom`` at ``BASE_URL``)."""
    settings.setdefault("gateway", "custom")
    settings.setdefault("base_url", BASE_URL)
    config = ProjectXConfig.model_validate(settings)
    return ProjectXBroker(config, projectx_context(tmp_path, fake, clock, account=account))


def order(instrument: Instrument, quantity: str | Decimal = "1", side: Side = Side.BUY,
          order_type: OrderType = OrderType.MARKET, *, client_order_id: str | None = None,
          account: str = "px", **fields: Any) -> Order:
    return new_order(instrument, quantity, side, order_type, account=account,
                     client_order_id=client_order_id, **fields)


class HostTransport(httpx.AsyncBaseTransport):
    """Requests to each host go to its own in-process fake (one router, several venues)."""

    def __init__(self, apps: dict[str, Any]) -> None:
        self._transports = {host: httpx.ASGITransport(app=app) for host, app in apps.items()}

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        transport = self._transports.get(request.url.host)
        if transport is None:
            raise httpx.ConnectError(f"no fake for {request.url.host}", request=request)
        return await transport.handle_async_request(request)


async def started_router(tmp_path: Path, config: str, *, clock: FakeClock,
                         transport: httpx.AsyncBaseTransport,
                         plugins: tuple[str, ...] = ("propfirms",)) -> Any:
    """A started Router on ``config`` (TOML; ``{state}`` is replaced by a state folder)."""
    from router_core import Router, make_plugin_manager

    tmp_path.mkdir(parents=True, exist_ok=True)
    path = tmp_path / "router.toml"
    path.write_text(config.replace("{state}", str(tmp_path / "state")))
    router = Router.from_config_file(path, clock=clock, transport=transport,
                                     plugins=make_plugin_manager(list(plugins)))
    problems = await router.start()
    assert problems == [], problems
    return router


async def route(router: Any, alert: dict[str, Any]) -> Any:
    """Accept and execute one alert (a fresh ``id`` unless it has one: two identical alerts
    are two intents here); its ExecutionReport."""
    import json

    body = {"id": str(uuid.uuid4()), **alert}
    acceptance = router.accept(json.dumps(body).encode(), "application/json")
    return await router.execute(acceptance.alert_id)
