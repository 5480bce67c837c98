"""The native alert format v1: the one shape every webhook body becomes before routing.

Field names follow TradersPost's so an existing alert message pastes in unchanged: JSON names
are camelCase (aliases), Python attributes snake_case. The model is the single source of truth
for ``schemas/alert.v1.schema.json`` (see ``alert_json_schema``; a test fails when the
committed file drifts).

Two deliberate differences from TradersPost:

* an unknown top-level field is refused, naming the field: for real money a typo such as
  ``"quantityTyp"`` must not pass silently and size an order some other way;
* contradictions (a limit price on a market order, a buy with a short sentiment, ...) are
  refused instead of guessed at.

Numbers arrive as JSON numbers or, because TradingView renders placeholders into strings, as
strings (``"0.25"``); both become ``Decimal``. Floats never appear when the body was parsed with
``parse_float=Decimal`` (``intake.py`` does).

Validation is pydantic's, with plain Python validators for numbers, enums and times so the
messages name the reason in words a trader understands. Every failure surfaces as
``AlertError(field, reason)`` with the JSON path of the field (``stopLoss.stopPrice``).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated, Any

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    PlainValidator,
    SecretStr,
    SerializationInfo,
    ValidationError,
    WithJsonSchema,
    model_validator,
)
from pydantic_core import PydanticCustomError

from .errors import AlertError
from .models import Action, OrderType, QuantityType, Sentiment, TimeInForce

SCHEMA_ID = "https://alert-router.invalid/schemas/alert.v1.schema.json"

# A number outside these bounds is a typo or an attack, never a price or a size.
MAX_EXPONENT = 30  # |adjusted exponent|: 1e30 and 1e-30 pass, 1e31 and 1e-31 do not
MAX_DIGITS = 30  # significant digits
MAX_NUMBER_TEXT = 64  # characters of a number given as a string

MAX_ID_LENGTH = 128
MAX_TEXT_LENGTH = 128
MAX_TICKER_LENGTH = 40
# The characters normalize.py reads in a ticker (any case): KRAKEN:XBTUSD, NQ1!, BTCUSDT.P
TICKER_PATTERN = r"[A-Za-z0-9._/!:-]+"
MAX_ACCOUNTS = 64

ORDER_TYPES = (
    OrderType.MARKET,
    OrderType.LIMIT,
    OrderType.STOP,
    OrderType.STOP_LIMIT,
    OrderType.TRAILING_STOP,
)
PERCENT_QUANTITY_TYPES = frozenset(
    {QuantityType.PERCENT_OF_EQUITY, QuantityType.PERCENT_OF_POSITION, QuantityType.RISK_PERCENT}
)
RISK_QUANTITY_TYPES = frozenset({QuantityType.RISK_PERCENT, QuantityType.RISK_DOLLAR_AMOUNT})
EXIT_REFUSED_QUANTITY_TYPES = RISK_QUANTITY_TYPES | {QuantityType.PERCENT_OF_EQUITY}
# Named once for ``contradictions`` (every alert): an enum member looked up on its class costs
# ~65 ns, and these tuples were built from four of them per alert.
LIMIT_PRICED_ORDER_TYPES = (OrderType.LIMIT, OrderType.STOP_LIMIT)
STOP_PRICED_ORDER_TYPES = (OrderType.STOP, OrderType.STOP_LIMIT)
UNBRACKETED_ACTIONS = (Action.CANCEL, Action.EXIT)

# TradersPost fields a pasted message may carry that alert-router does not act on: refused with
# a reason of their own rather than "unknown field", so the sender knows it is not a typo.
UNSUPPORTED_TRADERSPOST_FIELDS = frozenset(
    {
        "marketPriceType",
        "extendedHours",
        "expiresAt",
        "optionType",
        "intrinsicValue",
        "expiration",
        "strikeCount",
        "strikesAway",
        "strikePrice",
    }
)

_NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")
_NON_FINITE = frozenset({"nan", "+nan", "-nan", "snan", "inf", "+inf", "-inf", "infinity",
                         "+infinity", "-infinity"})


def _fail(kind: str, reason: str) -> PydanticCustomError:
    # The reason goes through the context so user text with braces is never a template.
    return PydanticCustomError(kind, "{reason}", {"reason": reason})


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


# --- numbers ---------------------------------------------------------------------------------


def parse_decimal(value: object) -> Decimal:
    """A finite, sane Decimal from a JSON number or a numeric string; raises a pydantic error."""
    short = False  # written in at most MAX_DIGITS characters: it cannot have more digits
    if isinstance(value, Decimal):
        number = value
    elif isinstance(value, bool):  # before int: True is an int
        raise _fail("number_type", f"expected a number, got {str(value).lower()}")
    elif isinstance(value, int):
        number = Decimal(value)
    elif isinstance(value, str):
        text = value.strip()
        if not text:
            raise _fail("number_parsing", "expected a number, got an empty string")
        if "{{" in text:
            raise _fail("placeholder", "placeholder was not rendered by TradingView")
        if len(text) > MAX_NUMBER_TEXT:
            raise _fail("number_parsing", f"number longer than {MAX_NUMBER_TEXT} characters")
        if not _NUMBER.fullmatch(text):
            if text.lower() in _NON_FINITE:
                raise _fail("number_finite", "must be a finite number")
            raise _fail("number_parsing", f"not a number: {_short(text)}")
        short = len(text) <= MAX_DIGITS
        try:
            number = Decimal(text)
        except InvalidOperation:  # an exponent beyond what Decimal can hold
            raise _fail("number_range", f"out of range (exponent beyond +/-{MAX_EXPONENT})") \
                from None
    elif isinstance(value, float):
        try:
            number = Decimal(repr(value))
        except InvalidOperation:  # pragma: no cover - repr of a float always parses
            raise _fail("number_parsing", f"not a number: {_short(value)}") from None
    else:
        raise _fail("number_type", f"expected a number, got {_json_type(value)}")
    if not number.is_finite():
        raise _fail("number_finite", "must be a finite number")
    if number:
        digits = None if short else number.as_tuple().digits
        if digits is not None and len(digits) > MAX_DIGITS and \
                len(bytes(digits).rstrip(b"\0")) > MAX_DIGITS:
            raise _fail("number_range", f"more than {MAX_DIGITS} significant digits")
        if abs(number.adjusted()) > MAX_EXPONENT:
            raise _fail("number_range", f"out of range (exponent beyond +/-{MAX_EXPONENT})")
    return number


def _positive(value: object) -> Decimal:
    number = parse_decimal(value)
    if number <= 0:
        raise _fail("number_positive", f"must be greater than 0, got {format(number, 'f')}")
    return number


def _json_type(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, Mapping):
        return "an object"
    if isinstance(value, list | tuple):
        return "a list"
    return type(value).__name__


def _plain(value: Decimal) -> str:
    return format(value, "f")


_NUMBER_SCHEMA: dict[str, Any] = {
    "anyOf": [
        {"type": "number", "exclusiveMinimum": 0},
        {"type": "string", "pattern": r"^\s*\+?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?\s*$"},
    ],
    "description": "A number greater than 0, as a JSON number or a string (\"0.25\").",
}

PositiveDecimal = Annotated[
    Decimal,
    PlainValidator(_positive),
    PlainSerializer(_plain, return_type=str, when_used="json"),
    WithJsonSchema(_NUMBER_SCHEMA),
]


# --- enums, text, times ----------------------------------------------------------------------


def _enum(enum: type[StrEnum], allowed: tuple[StrEnum, ...] | None = None) -> Any:
    members = tuple(allowed or enum)
    lookup = {m.value: m for m in members}
    names = ", ".join(lookup)

    def validate(value: object) -> StrEnum:
        if isinstance(value, enum) and value in members:
            return value
        if isinstance(value, str):
            text = value.strip().lower()
            found = lookup.get(text)
            if found is not None:
                return found
            if "{{" in text:
                raise _fail("placeholder", "placeholder was not rendered by TradingView")
            raise _fail("enum", f"unknown value {_short(value)}; expected one of: {names}")
        raise _fail("enum", f"expected a string, one of: {names}; got {_json_type(value)}")

    return Annotated[
        enum,
        PlainValidator(validate),
        PlainSerializer(lambda m: m.value, return_type=str, when_used="json"),
        WithJsonSchema({"type": "string", "enum": list(lookup)}),
    ]


def _text(max_length: int, pattern: str | None = None, allowed: str = "") -> Any:
    compiled = re.compile(pattern) if pattern else None

    def validate(value: object) -> str:
        if not isinstance(value, str):
            raise _fail("string_type", f"expected a string, got {_json_type(value)}")
        text = value.strip()
        if not text:
            raise _fail("string_empty", "must not be empty")
        if "{{" in text:
            raise _fail("placeholder", "placeholder was not rendered by TradingView")
        if len(text) > max_length:
            raise _fail("string_too_long", f"longer than {max_length} characters")
        if compiled is not None and not compiled.fullmatch(text):
            raise _fail("string_pattern", f"{_short(text)} is not a {allowed}")
        return text

    schema: dict[str, Any] = {"type": "string", "minLength": 1, "maxLength": max_length}
    if pattern:
        schema["pattern"] = f"^\\s*{pattern}\\s*$"
    return Annotated[str, PlainValidator(validate), WithJsonSchema(schema)]


def _flag(value: object) -> bool:
    # JSON true/false, or the strings TradingView renders from a Pine bool.
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    raise _fail("bool_type", f"expected true or false, got {_short(value)}")


Flag = Annotated[bool, PlainValidator(_flag), WithJsonSchema({"type": "boolean"})]


def parse_time(value: object) -> datetime:
    """An aware datetime from TradingView's ``yyyy-MM-ddTHH:mm:ssZ`` (any ISO 8601 with zone)."""
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, str):
        text = value.strip()
        if "{{" in text:
            raise _fail("placeholder", "placeholder was not rendered by TradingView")
        try:
            parsed = datetime.fromisoformat(text) if len(text) <= 40 else None
        except ValueError:
            parsed = None
        if parsed is None:
            raise _fail(
                "datetime_parsing",
                f"not a time: {_short(value)}; expected UTC like 2024-05-01T13:30:00Z",
            )
        moment = parsed
    else:
        raise _fail("datetime_type", f"expected a time string, got {_json_type(value)}")
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise _fail("datetime_zone", "time without a zone; TradingView sends UTC ending in Z")
    return moment.astimezone(UTC)


def format_time(moment: datetime) -> str:
    text = moment.astimezone(UTC).isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


Time = Annotated[
    datetime,
    PlainValidator(parse_time),
    PlainSerializer(format_time, return_type=str, when_used="json"),
    WithJsonSchema({"type": "string", "format": "date-time"}),
]

if TYPE_CHECKING:  # to a type checker each field is its enum; at run time, the validator
    ActionField = Action
    SentimentField = Sentiment
    QuantityTypeField = QuantityType
    OrderTypeField = OrderType
    TimeInForceField = TimeInForce
else:
    ActionField = _enum(Action)
    SentimentField = _enum(Sentiment)
    QuantityTypeField = _enum(QuantityType)
    OrderTypeField = _enum(OrderType, ORDER_TYPES)
    TimeInForceField = _enum(TimeInForce)


class StopLossType(StrEnum):
    STOP = "stop"
    STOP_LIMIT = "stop_limit"
    TRAILING_STOP = "trailing_stop"


if TYPE_CHECKING:
    StopLossTypeField = StopLossType
else:
    StopLossTypeField = _enum(StopLossType)


# --- the model -------------------------------------------------------------------------------

_CONFIG = ConfigDict(
    frozen=True,
    extra="forbid",
    populate_by_name=True,
    hide_input_in_errors=True,  # an error message must never echo a passphrase
)


class TakeProfit(BaseModel):
    """Exactly one of ``limitPrice`` (absolute), ``percent`` or ``amount`` (from the entry)."""

    model_config = _CONFIG

    limit_price: PositiveDecimal | None = Field(None, alias="limitPrice")
    percent: PositiveDecimal | None = None
    amount: PositiveDecimal | None = None


class StopLoss(BaseModel):
    """A protective stop attached to the entry.

    ``stop``/``stop_limit``: exactly one of ``stopPrice`` (absolute), ``percent`` or ``amount``
    (distance from the entry); ``stop_limit`` also needs ``limitPrice``. ``trailing_stop``:
    exactly one of ``trailAmount`` or ``trailPercent``.
    """

    model_config = _CONFIG

    type: StopLossTypeField = StopLossType.STOP
    stop_price: PositiveDecimal | None = Field(None, alias="stopPrice")
    limit_price: PositiveDecimal | None = Field(None, alias="limitPrice")
    percent: PositiveDecimal | None = None
    amount: PositiveDecimal | None = None
    trail_amount: PositiveDecimal | None = Field(None, alias="trailAmount")
    trail_percent: PositiveDecimal | None = Field(None, alias="trailPercent")


class AccountTarget(BaseModel):
    """One account the alert fans out to; ``multiplier`` scales the computed size."""

    model_config = _CONFIG

    account: _text(64)  # type: ignore[valid-type]
    multiplier: PositiveDecimal | None = None


# Bare account names already validated, each with its (immutable) target: an alert names the
# same few accounts every time, and a fan-out names up to MAX_ACCOUNTS of them (~0.7 µs each).
_NAMED_TARGETS: dict[str, AccountTarget] = {}
MAX_NAMED_TARGETS = 4096


def _named_target(name: str) -> AccountTarget | dict[str, str]:
    """The target a bare name stands for; a name that does not validate is handed on as
    ``{"account": name}``, so the alert's own validation names its place in the list."""
    target = _NAMED_TARGETS.get(name)
    if target is None:
        try:
            target = AccountTarget.__pydantic_validator__.validate_python({"account": name})
        except ValidationError:
            return {"account": name}
        if len(_NAMED_TARGETS) < MAX_NAMED_TARGETS:
            _NAMED_TARGETS[name] = target
    return target


def _accounts_before(value: object) -> object:
    # A bare name is the short form of {"account": name}; one name alone is a list of one.
    if isinstance(value, str):
        value = [value]
    if isinstance(value, list | tuple):
        if len(value) > MAX_ACCOUNTS:
            raise _fail("too_long", f"more than {MAX_ACCOUNTS} accounts")
        return [_named_target(v) if isinstance(v, str) else v for v in value]
    raise _fail("list_type", f"expected a list of account names, got {_json_type(value)}")


_ACCOUNTS_SCHEMA: dict[str, Any] = {
    "type": "array",
    "maxItems": MAX_ACCOUNTS,
    "items": {
        "anyOf": [
            {"type": "string", "minLength": 1, "maxLength": 64},
            {
                "type": "object",
                "properties": {
                    "account": {"type": "string", "minLength": 1, "maxLength": 64},
                    "multiplier": _NUMBER_SCHEMA,
                },
                "required": ["account"],
                "additionalProperties": False,
            },
        ]
    },
    "description": "Account names from the config, or {account, multiplier} objects.",
}

def _accounts_json(targets: tuple[AccountTarget, ...],
                   info: SerializationInfo) -> list[dict[str, str | None]]:
    # What pydantic writes for each target, built here: ~0.2 µs less an account, on the
    # webhook's ack path of a fan-out (public_dict).
    if not info.exclude_none:
        return [{"account": t.account,
                 "multiplier": None if t.multiplier is None else _plain(t.multiplier)}
                for t in targets]
    return [{"account": t.account} if t.multiplier is None else
            {"account": t.account, "multiplier": _plain(t.multiplier)} for t in targets]


Accounts = Annotated[
    tuple[AccountTarget, ...],
    BeforeValidator(_accounts_before),
    PlainSerializer(_accounts_json, when_used="json"),
    WithJsonSchema(_ACCOUNTS_SCHEMA),
]


_EXTRAS_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "Venue-specific options passed to the broker.",
}


class Alert(BaseModel):
    """One validated alert. Immutable; build it with ``validate_alert`` to get ``AlertError``."""

    model_config = ConfigDict(
        **_CONFIG,
        title="alert-router alert v1",
        json_schema_extra={"$id": SCHEMA_ID},
    )

    ticker: _text(  # type: ignore[valid-type]
        MAX_TICKER_LENGTH, TICKER_PATTERN, "symbol (letters, digits and . _ / ! : -)"
    )
    action: ActionField
    sentiment: SentimentField | None = None
    quantity: PositiveDecimal | None = None
    quantity_type: QuantityTypeField | None = Field(None, alias="quantityType")
    price: PositiveDecimal | None = None
    signal_price: PositiveDecimal | None = Field(None, alias="signalPrice")
    order_type: OrderTypeField = Field(OrderType.MARKET, alias="orderType")
    limit_price: PositiveDecimal | None = Field(None, alias="limitPrice")
    stop_price: PositiveDecimal | None = Field(None, alias="stopPrice")
    trail_amount: PositiveDecimal | None = Field(None, alias="trailAmount")
    trail_percent: PositiveDecimal | None = Field(None, alias="trailPercent")
    time_in_force: TimeInForceField | None = Field(None, alias="timeInForce")
    expire_time: Time | None = Field(None, alias="expireTime")
    take_profit: TakeProfit | None = Field(None, alias="takeProfit")
    stop_loss: StopLoss | None = Field(None, alias="stopLoss")
    # router fields
    passphrase: SecretStr | None = Field(None, exclude=True, max_length=256)
    accounts: Accounts = ()
    id: _text(MAX_ID_LENGTH) | None = None  # type: ignore[valid-type]
    time: Time | None = None
    timenow: Time | None = None
    interval: _text(16) | None = None  # type: ignore[valid-type]
    strategy: _text(MAX_TEXT_LENGTH) | None = None  # type: ignore[valid-type]
    order_id: _text(MAX_TEXT_LENGTH) | None = Field(None, alias="orderId")  # type: ignore[valid-type]
    leverage: PositiveDecimal | None = None
    reduce_only: Flag = Field(False, alias="reduceOnly")
    post_only: Flag = Field(False, alias="postOnly")
    extras: Annotated[dict[str, Any], WithJsonSchema(_EXTRAS_SCHEMA)] = Field(
        default_factory=dict
    )

    @model_validator(mode="before")
    @classmethod
    def _check_names(cls, data: Any) -> Any:
        # Most bodies use no snake_case name at all: one set operation answers for them.
        if isinstance(data, Mapping) and not _SNAKE_NAMES.isdisjoint(data):
            for name, alias in _SNAKE_ALIASES.items():
                if name in data and alias in data:
                    raise AlertError(alias, f"given twice, as {alias} and as {name}")
        return data

    @model_validator(mode="after")
    def _check_contradictions(self) -> Alert:
        problems = contradictions(self)
        if problems:
            raise AlertValidationError(problems)
        return self

    # --- helpers ---

    def public_dict(self) -> dict[str, Any]:
        """JSON-ready dict (camelCase names, Decimals as strings) without the passphrase."""
        # model_dump(mode="json", by_alias=True, exclude_none=True) without its Python wrapper
        # (one per delivery, on the webhook's ack path)
        return self.__pydantic_serializer__.to_python(
            self, mode="json", by_alias=True, exclude_none=True)

    def intent_key(self) -> str | None:
        """The key that makes one trading intent one set of orders, however often it arrives.

        The sender's ``id`` when given; else, for TradingView bodies carrying the bar ``time``,
        a hash of what identifies the strategy's order on that bar; else ``None`` (the router
        then keys on the hash of the body).
        """
        if self.id is not None:
            return self.id
        if self.time is None:
            return None
        parts = (
            self.strategy or "",
            self.ticker,
            self.action.value,
            self.sentiment.value if self.sentiment else "",
            format_time(self.time),
            self.order_id or "",
        )
        digest = hashlib.sha256("\x1f".join(parts).encode()).hexdigest()
        return f"tv:{digest}"

    def summary(self) -> str:
        """One line for logs and the CLI: ``buy 0.5 BTCUSD market``."""
        words = [self.action.value]
        if self.quantity is not None:
            words.append(_plain(self.quantity))
            if self.quantity_type and self.quantity_type is not QuantityType.FIXED_QUANTITY:
                words.append(self.quantity_type.value)
        words.append(self.ticker)
        if self.sentiment:
            words.append(f"sentiment={self.sentiment.value}")
        words.append(self.order_type.value)
        for label, value in (("limit", self.limit_price), ("stop", self.stop_price),
                             ("price", self.price)):
            if value is not None:
                words.append(f"{label}={_plain(value)}")
        if self.take_profit:
            words.append("tp")
        if self.stop_loss:
            words.append("sl")
        if self.accounts:
            words.append("accounts=" + ",".join(a.account for a in self.accounts))
        return " ".join(words)


_SNAKE_ALIASES = {
    name: info.alias
    for name, info in Alert.model_fields.items()
    if info.alias is not None and info.alias != name
}
_SNAKE_NAMES = frozenset(_SNAKE_ALIASES)


# --- cross-field rules -----------------------------------------------------------------------


def contradictions(alert: Alert) -> list[AlertError]:
    """Every rule the fields break together, in field order; empty when consistent."""
    out: list[AlertError] = []
    add = out.append
    action, ot, qt = alert.action, alert.order_type, alert.quantity_type

    # direction: buy + short (or sell + long) is no contradiction but a partial close, as
    # TradersPost reads it: the strategy stays short after the buy, only smaller.

    # size
    if action is Action.CANCEL and (alert.quantity is not None or qt is not None):
        add(AlertError("quantity", "has no meaning with action cancel"))
    if action is Action.EXIT and qt in EXIT_REFUSED_QUANTITY_TYPES:
        # exit closes all or part of the position: it is sized in units, cash or percent of
        # the position, never from equity or risk.
        add(AlertError("quantityType", f"{qt.value} has no meaning with action exit (use "
                                       "fixed_quantity, dollar_amount or percent_of_position)"))
    if qt is not None:
        if alert.quantity is None:
            add(AlertError("quantityType", f"{qt.value} needs a quantity"))
        if qt is QuantityType.PERCENT_OF_POSITION and action not in (
            Action.BUY, Action.SELL, Action.EXIT
        ):
            add(AlertError("quantityType", f"percent_of_position needs action buy or sell, "
                                           f"not {action.value}"))
        if qt in PERCENT_QUANTITY_TYPES and alert.quantity is not None and alert.quantity > 100:
            add(AlertError("quantity", f"{_plain(alert.quantity)} is above 100 percent "
                                       f"for {qt.value}"))
        if qt in RISK_QUANTITY_TYPES and action is not Action.EXIT:
            sl = alert.stop_loss
            if sl is None or (sl.stop_price is None and sl.amount is None and sl.percent is None):
                add(AlertError("stopLoss", f"{qt.value} needs a stop loss "
                                           "(stopLoss.stopPrice, amount or percent)"))

    # order type and its prices (each test with its cheap half first: an alert breaks few)
    if alert.limit_price is not None and ot not in LIMIT_PRICED_ORDER_TYPES:
        add(AlertError("limitPrice", f"given with orderType {ot.value}; "
                                     "use orderType limit or stop_limit"))
    if alert.stop_price is not None and ot not in STOP_PRICED_ORDER_TYPES:
        add(AlertError("stopPrice", f"given with orderType {ot.value}; "
                                    "use orderType stop or stop_limit"))
    if alert.limit_price is None and ot is OrderType.LIMIT and alert.price is None:
        add(AlertError("limitPrice", "orderType limit needs limitPrice (or price)"))
    if alert.limit_price is None and ot is OrderType.STOP_LIMIT:
        add(AlertError("limitPrice", "orderType stop_limit needs limitPrice"))
    if alert.stop_price is None and ot in STOP_PRICED_ORDER_TYPES:
        add(AlertError("stopPrice", f"orderType {ot.value} needs stopPrice"))
    trails = [] if alert.trail_amount is None and alert.trail_percent is None else [
        n for n, v in (("trailAmount", alert.trail_amount), ("trailPercent", alert.trail_percent))
        if v is not None]
    if ot is OrderType.TRAILING_STOP and len(trails) != 1:
        add(AlertError("trailAmount", "orderType trailing_stop needs exactly one of "
                                      f"trailAmount or trailPercent (got {len(trails)})"))
    if trails and ot is not OrderType.TRAILING_STOP:
        add(AlertError(trails[0], f"given with orderType {ot.value}; "
                                  "use orderType trailing_stop"))
    if alert.trail_percent is not None and alert.trail_percent >= 100:
        add(AlertError("trailPercent", "must be below 100"))

    # time in force
    if alert.time_in_force is TimeInForce.GTD and alert.expire_time is None:
        add(AlertError("expireTime", "timeInForce gtd needs expireTime"))
    if alert.expire_time is not None and alert.time_in_force is not TimeInForce.GTD:
        add(AlertError("expireTime", "only meaningful with timeInForce gtd"))

    # brackets
    if alert.take_profit is not None:
        tp = alert.take_profit
        given = [n for n, v in (("limitPrice", tp.limit_price), ("percent", tp.percent),
                                ("amount", tp.amount)) if v is not None]
        if len(given) != 1:
            add(AlertError("takeProfit", "give exactly one of limitPrice, percent or amount "
                                         f"(got {_listing(given)})"))
    if alert.stop_loss is not None:
        out.extend(_stop_loss_problems(alert.stop_loss))
    if action in UNBRACKETED_ACTIONS:
        for name, value in (("takeProfit", alert.take_profit), ("stopLoss", alert.stop_loss)):
            if value is not None:
                add(AlertError(name, f"has no meaning with action {action.value}"))

    # accounts
    seen: set[str] = set()
    for index, target in enumerate(alert.accounts):
        if target.account in seen:
            add(AlertError(f"accounts[{index}]", f"account {target.account!r} listed twice"))
        seen.add(target.account)
    return out


def _stop_loss_problems(sl: StopLoss) -> list[AlertError]:
    out: list[AlertError] = []
    prices = [n for n, v in (("stopPrice", sl.stop_price), ("percent", sl.percent),
                             ("amount", sl.amount)) if v is not None]
    trails = [n for n, v in (("trailAmount", sl.trail_amount),
                             ("trailPercent", sl.trail_percent)) if v is not None]
    if sl.type is StopLossType.TRAILING_STOP:
        if len(trails) != 1 or prices:
            out.append(AlertError("stopLoss", "type trailing_stop needs exactly one of "
                                              f"trailAmount or trailPercent (got "
                                              f"{_listing(trails + prices)})"))
        if sl.limit_price is not None:
            out.append(AlertError("stopLoss.limitPrice", "not used by type trailing_stop"))
    else:
        if len(prices) != 1 or trails:
            out.append(AlertError("stopLoss", "give exactly one of stopPrice, percent or "
                                              f"amount (got {_listing(prices + trails)})"))
        if sl.type is StopLossType.STOP_LIMIT and sl.limit_price is None:
            out.append(AlertError("stopLoss.limitPrice", "type stop_limit needs limitPrice"))
        if sl.type is StopLossType.STOP and sl.limit_price is not None:
            out.append(AlertError("stopLoss.limitPrice", "given with type stop; "
                                                         "use type stop_limit"))
    if sl.percent is not None and sl.percent >= 100:
        out.append(AlertError("stopLoss.percent", "must be below 100"))
    if sl.trail_percent is not None and sl.trail_percent >= 100:
        out.append(AlertError("stopLoss.trailPercent", "must be below 100"))
    return out


def _listing(names: list[str]) -> str:
    return ", ".join(names) if names else "none"


# --- errors ----------------------------------------------------------------------------------


class AlertValidationError(AlertError):
    """Every problem of one alert; behaves as the first one (one line), lists all in ``errors``."""

    def __init__(self, errors: list[AlertError]) -> None:
        if not errors:
            raise ValueError("AlertValidationError needs at least one error")
        self.errors = list(errors)
        super().__init__(errors[0].field, errors[0].reason)


_REASONS = {
    "missing": "required",
    "extra_forbidden": "unknown field",
    "model_type": "expected an object",
    "model_attributes_type": "expected an object",
    "dict_type": "expected an object",
    "list_type": "expected a list",
    "tuple_type": "expected a list",
    "string_type": "expected a string",
}


def field_name(key: object) -> str:
    """A body's key as it may appear in an error: printable, one line, at most 64 characters.

    Keys come from the sender; a key with a newline or a control character must not turn one
    error line into two (logs, the CLI, the 422 body).
    """
    text = key if isinstance(key, str) else str(key)
    if len(text) <= 64 and text.isprintable():
        return text
    return printable(text)[:64]


def printable(text: str) -> str:
    """``text`` with every non-printable character escaped (``\\n``, ``\\x00``)."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode() for c in text)


def field_path(loc: tuple[int | str, ...]) -> str:
    """``("stopLoss", "stopPrice")`` -> ``stopLoss.stopPrice``; list indexes in brackets."""
    path = ""
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            name = field_name(part)
            path += f".{name}" if path else name
    return path


def alert_errors(exc: ValidationError | AlertError) -> list[AlertError]:
    """One ``AlertError`` per problem, with the JSON path and a one-line human reason."""
    if isinstance(exc, AlertValidationError):
        return [_one_line(e) for e in exc.errors]
    if isinstance(exc, AlertError):
        return [_one_line(exc)]
    out: list[AlertError] = []
    for error in exc.errors(include_url=False):
        loc = tuple(error["loc"])
        # PlainValidator/BeforeValidator on a union field add the branch name; drop it.
        loc = tuple(p for p in loc if not (isinstance(p, str) and p.startswith("function-")))
        path = field_path(loc) or "body"
        kind = error["type"]
        if kind == "extra_forbidden" and len(loc) == 1 and loc[0] in UNSUPPORTED_TRADERSPOST_FIELDS:
            reason = "TradersPost field not supported by alert-router; remove it"
        else:
            reason = _REASONS.get(kind) or str(error["msg"])
        out.append(AlertError(path, " ".join(reason.split())))
    return out


def _one_line(error: AlertError) -> AlertError:
    field, reason = printable(error.field), printable(" ".join(error.reason.split()))
    if (field, reason) == (error.field, error.reason):
        return error
    return AlertError(field, reason)


def validate_alert(data: Mapping[str, Any]) -> Alert:
    """An ``Alert`` from a native dict, or ``AlertValidationError`` listing every problem."""
    if not isinstance(data, Mapping):
        raise AlertError("body", f"expected a JSON object, got {_json_type(data)}")
    try:
        # Alert.model_validate(data) without its Python wrapper (one per delivery)
        return Alert.__pydantic_validator__.validate_python(data)
    except ValidationError as exc:
        raise AlertValidationError(alert_errors(exc)) from None


# --- JSON schema -----------------------------------------------------------------------------


def alert_json_schema() -> dict[str, Any]:
    """The JSON Schema of the native alert (draft 2020-12), generated from ``Alert``.

    The schema checks shapes and names; the cross-field rules (``contradictions``) live in the
    model only.
    """
    schema = Alert.model_json_schema(by_alias=True, mode="validation")
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", **schema}


def alert_json_schema_text() -> str:
    """The schema as committed: sorted keys, two-space indent, trailing newline."""
    import json

    return json.dumps(alert_json_schema(), indent=2, sort_keys=True) + "\n"


SCHEMA_FILE = "alert.v1.schema.json"


def write_alert_schema(root: str = ".") -> list[str]:
    """Regenerate the committed schema files under ``root`` (repository and packaged copy)."""
    from .schema_files import write_schema_files

    return write_schema_files(SCHEMA_FILE, alert_json_schema_text(), root)


if __name__ == "__main__":  # python -m router_core.alert: regenerate the schema files
    for path in write_alert_schema():
        print("wrote", path)
