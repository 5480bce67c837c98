"""The pure parts: which reports are wanted at each level, what a message says, the daily
tally and when it is due, the settings model, and the service's queue and backoff (with a
fake sender: no network)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, time
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from pydantic import SecretStr, ValidationError
from router_notify.messages import Kind, Message, render, wanted
from router_notify.sender import UrlMask, read_urls, url_parts
from router_notify.service import NotifyService
from router_notify.settings import NotifySettings
from router_notify.summary import Tally, next_due

from router_core import (
    ConfigError,
    ExecutionReport,
    LegPurpose,
    LegReport,
    OrderResult,
    OrderStatus,
    Side,
)
from router_core.testing import FakeClock


def leg(status: OrderStatus, account: str = "main", reason: str | None = None,
        filled: str | None = None) -> LegReport:
    result = OrderResult(status, "cid-1", quantity=Decimal("0.50"),
                         filled_quantity=Decimal(filled) if filled else None,
                         average_price=Decimal("100.0") if filled else None, reason=reason)
    return LegReport(account, "paper", LegPurpose.OPEN, result, Side.BUY, "BTC/USD")


def report(*legs: LegReport, refused: str | None = None) -> ExecutionReport:
    return ExecutionReport("0123456789abcdef", "intent", tuple(legs), refused=refused)


REJECTED = report(leg(OrderStatus.REJECTED, reason="insufficient funds"))
DENIED = report(leg(OrderStatus.DENIED, reason="risk: max_position"))
UNKNOWN = report(leg(OrderStatus.UNKNOWN))
REFUSED = report(refused="trading is halted (maintenance)")
FILLED = report(leg(OrderStatus.FILLED, filled="0.5"))
ACCEPTED = report(leg(OrderStatus.ACCEPTED))
NOTHING = report()


@pytest.mark.parametrize(("level", "expected"), [
    ("failures", [True, True, True, True, False, False, False]),
    ("fills", [True, True, True, True, True, False, False]),
    ("all", [True] * 7),
])
def test_levels(level, expected):
    reports = [REJECTED, DENIED, UNKNOWN, REFUSED, FILLED, ACCEPTED, NOTHING]
    assert [wanted(r, level) for r in reports] == expected


def test_a_failed_leg_message_says_account_symbol_side_quantity_outcome_and_reason():
    message = render(REJECTED)
    assert message.kind is Kind.FAILURE
    assert message.title == "alert-router: rejected on main BTC/USD"
    assert message.body.splitlines()[0] == ("main BTC/USD buy 0.5 open: rejected "
                                            "(insufficient funds)")
    assert message.body.endswith("alert 0123456789abcdef")


def test_a_fill_and_a_refusal_read_as_such():
    assert render(FILLED).kind is Kind.SUCCESS
    assert "filled 0.5 @ 100" in render(FILLED).body
    refused = render(REFUSED)
    assert refused.kind is Kind.FAILURE and "halted (maintenance)" in refused.body


def test_only_the_failed_accounts_are_in_the_title():
    mixed = report(leg(OrderStatus.FILLED, "alice", filled="0.5"),
                   leg(OrderStatus.REJECTED, "bob", reason="no margin"))
    message = render(mixed)
    assert message.title == "alert-router: rejected on bob BTC/USD"
    assert "alice BTC/USD buy 0.5 open: filled" in message.body


def test_the_tally_counts_alerts_legs_and_accounts():
    tally = Tally()
    for each in (REJECTED, FILLED, REFUSED, report(leg(OrderStatus.FILLED, "bob", filled="1"))):
        tally.record(each)
    tally.record_fill(foreign=False)  # router_fill_recorded: a leg's fill, then a foreign one
    tally.record_fill(foreign=True)
    zone = ZoneInfo("UTC")
    message = tally.message(datetime(2026, 1, 1, 21, tzinfo=zone),
                            datetime(2026, 1, 2, 21, tzinfo=zone), dropped=2)
    assert message.title == "alert-router: summary 2026-01-02 21:00 UTC"
    assert message.body.splitlines() == [
        "since 2026-01-01 21:00 UTC: 4 alert(s), 1 failed, 1 refused",
        "legs: filled 2, rejected 1",
        "  bob: filled 1",
        "  main: filled 1, rejected 1",
        "fills: 2 (1 foreign)",
        "2 notification(s) were dropped (queue full or notifier down)",
    ]
    assert message.kind is Kind.WARNING


def test_a_quiet_day_still_gets_a_summary():
    body = Tally().message(datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 1, 2, tzinfo=UTC)).body
    assert "0 alert(s)" in body and "no orders" in body


def test_next_due_is_today_or_tomorrow_in_the_zone():
    utc = ZoneInfo("UTC")
    at_20 = datetime(2026, 3, 1, 20, 0, tzinfo=utc).timestamp()
    assert next_due(at_20, time(21), utc) == datetime(2026, 3, 1, 21, tzinfo=utc).timestamp()
    at_22 = datetime(2026, 3, 1, 22, 0, tzinfo=utc).timestamp()
    assert next_due(at_22, time(21), utc) == datetime(2026, 3, 2, 21, tzinfo=utc).timestamp()
    exactly = datetime(2026, 3, 1, 21, 0, tzinfo=utc).timestamp()
    assert next_due(exactly, time(21), utc) > exactly  # never twice for one moment
    berlin = ZoneInfo("Europe/Berlin")
    due = next_due(at_20, time(21), berlin)  # 20:00 UTC is 21:00 in Berlin in March
    assert datetime.fromtimestamp(due, berlin).hour == 21
    assert due == datetime(2026, 3, 2, 20, tzinfo=utc).timestamp()


def test_settings_defaults_and_bounds():
    settings = NotifySettings()
    assert (settings.level, settings.urls_env, settings.summary_time) == ("failures", [], None)
    assert NotifySettings(summary_time="21:30").summary_time == time(21, 30)
    assert NotifySettings(summary_time=time(7)).summary_time == time(7)  # TOML local time
    for bad in ({"level": "everything"}, {"queue_size": 0}, {"summary_time": "9pm"},
                {"summary_timezone": "Mars/Olympus"}, {"urls_env": ["A", "A"]},
                {"url": "x"}):
        with pytest.raises(ValidationError):
            NotifySettings.model_validate(bad)


def test_a_url_pasted_into_urls_env_is_refused_without_echoing_it():
    pasted = "tgram://123456:AAEsecrettoken/987"
    with pytest.raises(ValidationError) as caught:
        NotifySettings(urls_env=[pasted])
    assert pasted not in str(caught.value)
    assert "must name environment variables" in str(caught.value)


def test_an_unset_variable_is_named_with_its_key():
    settings = NotifySettings(urls_env=["A_URL", "B_URL"])
    with pytest.raises(ConfigError) as caught:
        read_urls(settings, {"A_URL": "json://127.0.0.1:9/x"})
    assert caught.value.key == "urls_env.1" and "B_URL is not set" in caught.value.reason
    urls = read_urls(settings, {"A_URL": "json://h/x", "B_URL": "ntfy://topic"})
    assert all(isinstance(url, SecretStr) for url in urls)
    assert "json://h/x" not in repr(urls)


def test_an_invalid_url_names_the_variable_not_the_value():
    from router_notify.sender import AppriseSender

    with pytest.raises(ConfigError) as caught:
        AppriseSender([SecretStr("nosuchscheme://secret-value-123")], ["X_URL"], 1.0)
    assert caught.value.key == "urls_env.0" and "X_URL" in caught.value.reason
    assert "secret-value-123" not in str(caught.value)


def test_the_url_mask_hides_tokens_and_their_decoded_form():
    import logging

    parts = url_parts([SecretStr("tgram://123456789:AAE%2Dtoken-abc/chatid42")])
    record = logging.LogRecord("apprise", logging.WARNING, __file__, 1,
                               "POST https://api.telegram.org/bot123456789:AAE-token-abc/x to %s",
                               ("chatid42",), None)
    UrlMask(parts).filter(record)
    text = record.getMessage()
    assert "AAE-token-abc" not in text and "123456789" not in text and "chatid42" not in text


class FakeSender:
    def __init__(self, answers: list[bool | Exception]) -> None:
        self.answers = answers
        self.sent: list[Message] = []
        self.gate = asyncio.Event()
        self.gate.set()

    async def send(self, message: Message) -> bool:
        await self.gate.wait()
        self.sent.append(message)
        answer = self.answers.pop(0) if self.answers else True
        if isinstance(answer, Exception):
            raise answer
        return answer


def service(sender: FakeSender, clock: FakeClock | None = None, **settings: object
            ) -> NotifyService:
    return NotifyService(sender, NotifySettings.model_validate(settings),
                         clock or FakeClock(), random_fraction=lambda: 0.5)


def test_backoff_doubles_up_to_the_cap_with_jitter():
    notify = service(FakeSender([]), backoff_seconds=1, backoff_cap_seconds=5)
    # equal jitter at 0.5: three quarters of min(cap, 1 * 2**n)
    assert [notify.backoff(n) for n in range(5)] == [0.75, 1.5, 3.0, 3.75, 3.75]
    low = NotifyService(FakeSender([]), NotifySettings(backoff_seconds=4), FakeClock(),
                        random_fraction=lambda: 0.0)
    high = NotifyService(FakeSender([]), NotifySettings(backoff_seconds=4), FakeClock(),
                         random_fraction=lambda: 1.0)
    assert (low.backoff(0), high.backoff(0)) == (2.0, 4.0)


async def test_a_raising_notifier_is_retried_then_given_up():
    clock = FakeClock()
    sender = FakeSender([RuntimeError("bug"), False, False])
    notify = service(sender, clock, retries=2, backoff_seconds=1)
    assert await notify.deliver(Message("t", "b")) is False
    assert len(sender.sent) == 3 and clock.sleeps == [0.75, 1.5]
    assert (notify.failed, notify.sent) == (1, 0)


async def test_offer_only_enqueues_and_stop_drains():
    sender = FakeSender([])
    sender.gate.clear()  # the notifier is stuck
    notify = service(sender, level="all", drain_seconds=1)
    notify.start()
    notify.offer(REJECTED)
    notify.offer(FILLED)
    await asyncio.sleep(0)
    assert sender.sent == []  # offer returned without waiting for the notifier
    sender.gate.set()
    await notify.stop()
    assert [m.kind for m in sender.sent] == [Kind.FAILURE, Kind.SUCCESS]


async def test_stop_gives_up_on_a_stuck_notifier_after_drain_seconds():
    sender = FakeSender([])
    sender.gate.clear()
    notify = service(sender, drain_seconds=0)
    notify.start()
    notify.offer(REJECTED)
    await notify.stop()  # returns although the notifier never answers
    assert sender.sent == [] and notify._tasks == []
