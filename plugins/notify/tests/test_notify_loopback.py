"""The notify plugin end to end: a router on the paper venue, apprise's ``json://`` notifier
pointed at a loopback receiver (conftest.py). Nothing leaves 127.0.0.1.

Each notifier URL carries a canary in its password and its path, as a Telegram or Discord URL
carries its token: the canary must reach the receiver only as what it is (the basic-auth
header, the request path), never a message, a log line or an error.
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from router_notify.plugin import NotifyPlugin

from router_core import Fill, OrderResult, OrderStatus, Router, Side, hookimpl, make_plugin_manager
from router_core.testing import FakeClock

pytest.importorskip("router_paper", reason="alert-router-paper is not installed")

CANARY = "cn" + secrets.token_hex(12)
PATH_CANARY = "pc" + secrets.token_hex(12)
URL_VAR = "T_NOTIFY_URL"
REJECTION = "EOrder:Insufficient funds (test venue)"

CONFIG = """
[router]
state_dir = "state"
reconcile_window_seconds = 0.05

[accounts.main]
broker = "paper"
fill_price = "100"

[plugins.notify]
urls_env = ["T_NOTIFY_URL"]
{extra}
"""


class RejectingVenue:
    """A venue that refuses every order, as Kraken does without funds."""

    @hookimpl(tryfirst=True)
    def router_submit_order(self, order: Any) -> OrderResult:
        return OrderResult(OrderStatus.REJECTED, order.client_order_id,
                           quantity=order.quantity, reason=REJECTION, venue_code="EOrder")


def make_router(tmp_path: Path, url: str, extra: str = "", *, reject: bool = False,
                clock: FakeClock | None = None) -> tuple[Router, NotifyPlugin]:
    path = tmp_path / "config.toml"
    path.write_text(CONFIG.format(extra=extra))
    # the summary loop reads the fake clock every 10 ms instead of every 30 s
    notify = NotifyPlugin(environ={URL_VAR: url}, summary_poll_seconds=0.01)
    plugins: list[tuple[str, object]] = [("notify", notify)]
    if reject:
        plugins.append(("rejecting-venue", RejectingVenue()))
    router = Router.from_config_file(path, clock=clock or FakeClock(),
                                     plugins=make_plugin_manager(["paper"], extra=plugins))
    return router, notify


class Running:
    """``await running(tmp_path, url, ...)``: a started router; ``await running.close(r)``
    closes one early (draining the notifier's queue); the rest close after the test."""

    def __init__(self) -> None:
        self.routers: list[Router] = []

    async def __call__(self, *args: Any, **kwargs: Any) -> tuple[Router, NotifyPlugin]:
        router, notify = make_router(*args, **kwargs)
        await router.start()
        self.routers.append(router)
        return router, notify

    async def close(self, router: Router) -> None:
        self.routers.remove(router)
        await router.close()


@pytest.fixture
async def running() -> AsyncIterator[Running]:
    manager = Running()
    yield manager
    for router in manager.routers:
        await router.close()


async def route(router: Router, alert_id: str, **fields: Any) -> Any:
    alert = {"ticker": "BTCUSD", "action": "buy", "quantity": "0.5", "price": "100",
             "id": alert_id, **fields}
    acceptance = router.accept(json.dumps(alert).encode(), "application/json")
    return await router.execute(acceptance.alert_id)


def canary_url(receiver: Any) -> str:
    return receiver.url(path=f"/hook/{PATH_CANARY}", auth=f"router:{CANARY}")


async def test_a_rejected_leg_sends_one_message_naming_account_symbol_and_reason(
        tmp_path, receiver, running, caplog):
    caplog.set_level(logging.DEBUG)
    router, notify = await running(tmp_path, canary_url(receiver), reject=True)
    report = await route(router, "fail-1")
    assert [leg.result.status for leg in report.legs] == [OrderStatus.REJECTED]

    messages = await receiver.wait_for(1)
    await asyncio.sleep(0.2)  # room for a duplicate to show up, if there were one
    assert len(receiver.received) == 1
    message = messages[0]
    assert set(message) >= {"title", "message", "type"}
    assert message["type"] == "failure"
    text = message["title"] + "\n" + message["message"]
    assert "main" in text and "BTC" in text and REJECTION in text
    assert "buy" in text and "0.5" in text and "rejected" in text
    # the canary reached the receiver only where it belongs
    assert receiver.paths == [f"/hook/{PATH_CANARY}"]
    assert receiver.headers[0]["Authorization"].startswith("Basic ")
    assert CANARY not in receiver.raw[0].decode() and PATH_CANARY not in receiver.raw[0].decode()
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert CANARY not in logged and PATH_CANARY not in logged
    assert CANARY not in repr(notify.service.sender)


async def test_a_refused_alert_is_a_failure_too(tmp_path, receiver, running):
    router, _ = await running(tmp_path, receiver.url())
    router.halt("maintenance")
    report = await route(router, "halted-1")
    assert report.refused
    [message] = await receiver.wait_for(1)
    assert "refused" in message["title"] and "maintenance" in message["message"]


async def test_level_failures_says_nothing_about_a_fill(tmp_path, receiver, running):
    router, notify = await running(tmp_path, receiver.url())
    report = await route(router, "fill-1")
    assert report.ok
    await running.close(router)  # drains the queue: anything queued has been sent
    assert receiver.received == []
    assert notify.service is None


async def test_level_fills_reports_the_fill(tmp_path, receiver, running):
    router, _ = await running(tmp_path, receiver.url(), 'level = "fills"')
    await route(router, "fill-2")
    [message] = await receiver.wait_for(1)
    assert message["type"] == "success"
    assert "filled 0.5 @ 100" in message["message"] and "main" in message["message"]


async def test_level_all_reports_an_alert_with_nothing_to_do(tmp_path, receiver, running):
    router, _ = await running(tmp_path, receiver.url(), 'level = "all"')
    await route(router, "fill-3")
    await route(router, "exit-1", action="exit", quantity=None)
    messages = await receiver.wait_for(2)
    assert len(messages) == 2


async def test_a_hanging_notifier_does_not_hold_up_the_orders(tmp_path, receiver, running):
    receiver.hang = True
    router, notify = await running(tmp_path, receiver.url(), "timeout_seconds = 30",
                                   reject=True)
    first = await route(router, "hang-1")
    await receiver.wait_until_waiting()  # the first notification is stuck in the receiver
    # The next alerts execute and report while the receiver still holds that request.
    reports = [await route(router, f"hang-{n}") for n in range(2, 5)]
    assert receiver.waiting == 1 and receiver.received == []
    assert first.legs and all(r.legs[0].result.status is OrderStatus.REJECTED for r in reports)
    assert notify.service is not None and notify.service.queue.qsize() == 3
    receiver.release()
    assert len(await receiver.wait_for(4)) == 4


async def test_a_full_queue_drops_the_newest_counts_and_logs_once_per_burst(
        tmp_path, receiver, running, caplog):
    receiver.hang = True
    router, notify = await running(tmp_path, receiver.url(), "queue_size = 2\n"
                                   "timeout_seconds = 30", reject=True)
    ids = [(await route(router, "burst-1")).alert_id]
    await receiver.wait_until_waiting()  # the worker holds 1; the queue takes 2 more
    with caplog.at_level(logging.WARNING, logger="router_notify"):
        for n in range(2, 8):
            ids.append((await route(router, f"burst-{n}")).alert_id)
    service = notify.service
    assert service is not None
    assert service.dropped == 4 and service.queue.qsize() == 2
    full = [r for r in caplog.records if "queue full" in r.getMessage()]
    assert len(full) == 1
    receiver.release()
    messages = await receiver.wait_for(3)
    # what was kept is the start of the burst, in order; the newest were dropped
    assert [m["message"].rsplit("alert ", 1)[1] for m in messages] == ids[:3]
    await route(router, "after-burst")  # the queue takes it: the burst is over
    messages = await receiver.wait_for(5)
    titles = [m["title"] for m in messages]
    assert "alert-router: notifications dropped" in titles
    assert any("4 notification(s) were dropped" in m["message"] for m in messages)


async def test_a_failing_notifier_is_retried_with_backoff(tmp_path, receiver, running):
    receiver.fail_first = 2
    clock = FakeClock()
    router, _ = await running(tmp_path, receiver.url(), "retries = 3\nbackoff_seconds = 2",
                              reject=True, clock=clock)
    await route(router, "retry-1")
    [message] = await receiver.wait_for(1)
    assert "rejected" in message["title"]
    assert len(receiver.raw) == 3  # two refusals, then delivered
    backoffs = [s for s in clock.sleeps if s >= 1]
    assert len(backoffs) == 2
    assert 1 <= backoffs[0] <= 2 and 2 <= backoffs[1] <= 4  # 2 * 2**n, jittered down by <= 1/2


async def test_a_notifier_that_never_works_is_given_up_and_logged(
        tmp_path, receiver, running, caplog):
    caplog.set_level(logging.DEBUG)
    receiver.status = 500
    router, notify = await running(tmp_path, canary_url(receiver), "retries = 1",
                                   reject=True)
    await route(router, "dead-1")
    await running.close(router)
    assert notify.service is None and len(receiver.raw) == 2
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert "not delivered after 2 attempt(s)" in logged
    assert CANARY not in logged and PATH_CANARY not in logged


async def test_an_unreachable_notifier_leaks_no_url_into_the_logs(tmp_path, running, caplog):
    caplog.set_level(logging.DEBUG)
    dead = f"json://router:{CANARY}@127.0.0.1:9/hook/{PATH_CANARY}"  # discard port: refused
    router, _ = await running(tmp_path, dead, "retries = 0", reject=True)
    await route(router, "unreachable-1")
    await running.close(router)
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert "not delivered" in logged
    assert CANARY not in logged and PATH_CANARY not in logged


async def test_the_daily_summary_counts_alerts_legs_and_accounts(tmp_path, receiver, running):
    clock = FakeClock(start=1_700_000_000.0)  # 2023-11-14 22:13:20 UTC
    router, _ = await running(tmp_path, receiver.url(), 'summary_time = "23:00"',
                                   reject=True, clock=clock)
    await route(router, "sum-1")
    await route(router, "sum-2")
    assert len(await receiver.wait_for(2)) == 2  # the two failures themselves
    clock.advance(50 * 60)  # 23:03:20: the summary is due
    messages = await receiver.wait_for(3)
    summary = messages[2]
    assert summary["title"] == "alert-router: summary 2023-11-14 23:03 UTC"
    assert "2 alert(s), 2 failed, 0 refused" in summary["message"]
    assert "main: rejected 2" in summary["message"]
    clock.advance(60)  # not due again until tomorrow
    await asyncio.sleep(0.1)
    assert len(receiver.received) == 3


async def test_without_urls_the_plugin_stays_idle(tmp_path, running):
    path = tmp_path / "config.toml"
    path.write_text(CONFIG.format(extra="").replace('urls_env = ["T_NOTIFY_URL"]', ""))
    notify = NotifyPlugin(environ={})
    router = Router.from_config_file(path, clock=FakeClock(), plugins=make_plugin_manager(
        ["paper"], extra=[("notify", notify)]))
    await router.start()
    try:
        assert notify.service is None
        assert (await route(router, "idle-1")).ok
    finally:
        await router.close()


# -- router_fill_recorded: one message per recorded fill -----------------------------------


def fill(trade: str, client_order_id: str = "") -> Fill:
    return Fill(trade_id=trade, venue_order_id="V" + trade, client_order_id=client_order_id,
                symbol="XBT/USD", side=Side.BUY, quantity=Decimal("0.5"),
                price=Decimal("101.5"), fee=Decimal("0.26"), fee_currency="USD", time=1.0)


async def record(router: Router, item: Fill) -> bool:
    router.start_fill_streams()
    assert router.fill_streams is not None
    return (await router.fill_streams.record("main", item, "stream")).new


async def test_level_fills_sends_one_message_per_recorded_fill(
        tmp_path: Path, receiver: Any, running: Any) -> None:
    router, _ = await running(tmp_path, canary_url(receiver), 'level = "fills"')
    report = await route(router, "fill-hook-1")
    leg = report.legs[0]
    await receiver.wait_for(1)  # the alert's own message
    assert await record(router, fill("T1", leg.result.client_order_id))
    assert not await record(router, fill("T1", leg.result.client_order_id))  # a repeat
    assert await record(router, fill("T2"))  # an order placed by hand
    await running.close(router)  # drains the queue
    messages = [m for m in receiver.received if "fill on" in m["title"]]
    assert len(messages) == 2
    ours, foreign = (m["title"] + "\n" + m["message"] for m in messages)
    assert "main" in ours and "buy 0.5 @ 101.5" in ours and "fee 0.26 USD" in ours
    assert "router's order, leg open" in ours and report.alert_id in ours
    assert "foreign order" in foreign and "trade T2" in foreign
    assert all(CANARY not in raw.decode() for raw in receiver.raw)


async def test_level_failures_sends_nothing_for_a_fill(
        tmp_path: Path, receiver: Any, running: Any) -> None:
    router, _ = await running(tmp_path, receiver.url())
    assert await record(router, fill("T3"))
    await running.close(router)
    await asyncio.sleep(0.05)
    assert receiver.received == []
