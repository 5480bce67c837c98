"""The ``rules`` table of a prop-firm account: the firm's limits the router enforces first.

It sits under the account in the config file (``[accounts.NAME.rules]``), so it is validated
with the broker's settings and every mistake names ``accounts.NAME.rules.<key>``. Times are
wall-clock times in ``timezone`` (an IANA name, read with ``zoneinfo``), because the firms
publish their rules that way ("flat by 15:10 CT", "the trading day starts at 17:00 CT").
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

RootName = Annotated[str, Field(pattern=r"^[A-Z0-9]{1,6}$")]
Money = Annotated[Decimal, Field(gt=0, allow_inf_nan=False)]


def _no_float(value: Any) -> Any:
    return str(value) if isinstance(value, float) else value


class Blackout(BaseModel):
    """One window without new entries (a news release); exits still go through."""

    model_config = ConfigDict(extra="forbid", frozen=True, hide_input_in_errors=False)

    name: str = Field(default="blackout", max_length=100,
                      description="what the window is for, shown in the refusal")
    start: datetime = Field(description="first minute of the window; without an offset it is "
                            "read in the rules' timezone")
    end: datetime = Field(description="end of the window (exclusive)")
    roots: list[RootName] = Field(default_factory=list,
                                  description="futures roots it applies to; empty: all")

    @model_validator(mode="after")
    def _ordered(self) -> Blackout:
        if self.end <= self.start:
            raise ValueError("end must be after start")
        return self


class PropRules(BaseModel):
    """A prop firm's rules for one account. Every limit is optional; none set checks nothing.

    Check each figure against your firm's current rules: firms change them, and they differ
    per plan and account size.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, hide_input_in_errors=False)

    timezone: str = Field(default="America/Chicago",
                          description="IANA time zone of the times below")
    session_start: time = Field(default=time(17, 0),
                                description="when the firm's trading day begins (the daily "
                                "loss counts from here; entries reopen after the flatten)")
    daily_loss_limit: Money | None = Field(
        default=None, description="USD the account may lose in one trading day, counted from "
        "its balance when the day began (open profit and loss included where the venue "
        "reports it)")
    trailing_drawdown: Money | None = Field(
        default=None, description="USD below the account's high-water mark at which the firm "
        "fails the account; entries are refused once the balance is at or under that floor")
    drawdown_mode: Literal["end_of_day", "intraday"] = Field(
        default="end_of_day", description="end_of_day: the high-water mark moves with the "
        "balance at the close of each trading day; intraday: with every balance seen")
    drawdown_floor_max: Money | None = Field(
        default=None, description="the floor stops trailing at this balance (many firms stop "
        "it at the starting balance)")
    starting_balance: Money | None = Field(
        default=None, description="the account's starting balance, the first high-water "
        "mark; unset: the first balance the router reads")
    max_contracts: int | None = Field(default=None, gt=0,
                                      description="contracts open across every symbol")
    max_contracts_per_symbol: int | None = Field(default=None, gt=0,
                                                 description="contracts open on one symbol")
    max_contracts_by_root: dict[RootName, Annotated[int, Field(gt=0)]] = Field(
        default_factory=dict, description="per-root limits that replace "
        "max_contracts_per_symbol, e.g. { NQ = 3, MNQ = 30 }")
    flatten_at: time | None = Field(
        default=None, description="after this time the router closes the account's positions, "
        "cancels its orders and refuses entries until the next trading day begins")
    blackouts: list[Blackout] = Field(default_factory=list,
                                      description="windows without new entries")
    blackout_file: Path | None = Field(
        default=None, description="a TOML file of [[blackout]] tables (name, start, end, "
        "roots) the user keeps up to date; read again when it changes")

    @field_validator("daily_loss_limit", "trailing_drawdown", "drawdown_floor_max",
                     "starting_balance", mode="before")
    @classmethod
    def _decimal_text(cls, value: Any) -> Any:
        return _no_float(value)  # a float's binary noise never becomes a limit

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r} (an IANA name such as "
                             "America/Chicago)") from None
        return value

    @model_validator(mode="after")
    def _flatten_before_session(self) -> PropRules:
        if self.flatten_at is not None and self.flatten_at == self.session_start:
            raise ValueError("flatten_at must differ from session_start")
        return self

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def local(self, epoch: float) -> datetime:
        return datetime.fromtimestamp(epoch, self.zone)

    def trading_day(self, epoch: float) -> date:
        """The trading day ``epoch`` belongs to: the day that starts at ``session_start`` the
        evening before (17:00 CT Sunday opens Monday's trading day)."""
        now = self.local(epoch)
        day = now.date()
        return day + timedelta(days=1) if now.time() >= self.session_start else day

    def after_flatten(self, epoch: float) -> bool:
        """Whether ``epoch`` lies between the flatten time and the next session start."""
        if self.flatten_at is None:
            return False
        clock = self.local(epoch).time()
        if self.flatten_at < self.session_start:
            return self.flatten_at <= clock < self.session_start
        return clock >= self.flatten_at or clock < self.session_start

    def aware(self, moment: datetime) -> datetime:
        """``moment`` with the rules' zone when it names none."""
        return moment if moment.tzinfo is not None else moment.replace(tzinfo=self.zone)
