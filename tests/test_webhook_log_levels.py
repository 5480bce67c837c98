"""The accepted alert's log line: exactly as operators read it at INFO, and not even its
summary built when INFO is off (an embedder, the bench)."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from pydantic import SecretStr

from router_core.journal import ClaimOutcome
from router_core.router import Acceptance
from router_core.security import WebhookSettings
from router_core.webhook import Delivery, Webhook


class _Alert:
    def __init__(self) -> None:
        self.summaries = 0

    def summary(self) -> str:
        self.summaries += 1
        return "buy 1 BTCUSD market"


def _accept(alert: _Alert) -> tuple[Webhook, Delivery, Acceptance]:
    webhook = Webhook(object(), WebhookSettings(passphrase=SecretStr("p")),  # type: ignore[arg-type]
                      is_ready=lambda: True, admin_allowed=lambda request: False)
    delivery = Delivery(request=None, headers={}, sender="10.0.0.1",  # type: ignore[arg-type]
                        content_type="application/json")
    acceptance = Acceptance(ClaimOutcome.NEW, "alert-1", alert)  # type: ignore[arg-type]
    return webhook, delivery, acceptance


def test_the_accepted_line_at_info(caplog: pytest.LogCaptureFixture) -> None:
    alert = _Alert()
    webhook, delivery, acceptance = _accept(alert)
    with caplog.at_level(logging.INFO, logger="router_core.server"):
        webhook._accepted(delivery, acceptance)
    assert [r.getMessage() for r in caplog.records] == [
        "alert alert-1 accepted from 10.0.0.1 via webhook: buy 1 BTCUSD market"]


def test_no_summary_is_built_for_a_line_nobody_keeps(caplog: Any) -> None:
    alert = _Alert()
    webhook, delivery, acceptance = _accept(alert)
    with caplog.at_level(logging.WARNING, logger="router_core.server"):
        webhook._accepted(delivery, acceptance)
    assert alert.summaries == 0 and not caplog.records
