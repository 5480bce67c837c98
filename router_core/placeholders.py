"""TradingView alert messages as a user writes them: placeholders, sample values, and the
messages other tools taught them to write.

TradingView fills ``{{placeholders}}`` by plain text substitution when the alert fires; one it
does not know stays in the body as written. ``render`` does the same with a fixed, documented
set of sample values (``SAMPLE_VALUES``; ``{{time}}`` and ``{{timenow}}`` from the current
time), so ``alert-router validate`` can check a message before it is pasted into TradingView.

``foreign_format`` recognises bodies written for other tools (TradingView's default strategy
message, 3Commas and Alertatron) and says what to use instead.

Standard library only: the CLI imports this module inside ``run``, and nothing here may slow
down ``alert-router --help``.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

# What the templates put in "passphrase": the user must replace it with the server's.
PASSPHRASE_PLACEHOLDER = "<your webhook passphrase>"  # noqa: S105 - a placeholder, not a secret

# The sample values, one per placeholder TradingView documents for alert messages. The two
# times are computed by ``sample_values``: {{time}} is the start of the current 60-minute bar
# ({{interval}} is "60") and {{timenow}} the current second, both in UTC.
SAMPLE_VALUES: dict[str, str] = {
    "ticker": "BTCUSD",
    "exchange": "KRAKEN",
    "open": "49900",
    "high": "50100",
    "low": "49800",
    "close": "50000",
    "volume": "12.5",
    "interval": "60",
    "time": "",  # now, floored to the hour
    "timenow": "",  # now, to the second
    **{f"plot_{n}": "50000" for n in range(20)},
    "strategy.order.action": "buy",
    "strategy.order.contracts": "1",
    "strategy.order.price": "50000",
    "strategy.order.id": "Long",
    "strategy.order.comment": "Long",
    "strategy.order.alert_message": "alert_message",  # the Pine script's text: a stand-in
    "strategy.position_size": "1",
    "strategy.market_position": "long",
    "strategy.market_position_size": "1",
    "strategy.prev_market_position": "flat",
    "strategy.prev_market_position_size": "0",
}
PLOT_SAMPLE = "50000"  # {{plot("Title")}}, the by-name form of {{plot_N}}
ALERT_MESSAGE = "strategy.order.alert_message"

# A placeholder as TradingView writes it: two braces, a name, two braces, on one line.
PLACEHOLDER = re.compile(r"\{\{([^{}\r\n]{0,100}?)\}\}")
_PLOT_BY_NAME = re.compile(r'plot\("[^"]{1,64}"\)')


def sample_values(now: datetime | None = None) -> dict[str, str]:
    """``SAMPLE_VALUES`` with the two times filled in from ``now`` (default: the clock)."""
    moment = (now or datetime.now(UTC)).astimezone(UTC)
    values = dict(SAMPLE_VALUES)
    values["timenow"] = moment.strftime("%Y-%m-%dT%H:%M:%SZ")
    values["time"] = moment.strftime("%Y-%m-%dT%H:00:00Z")
    return values


def is_known(name: str) -> bool:
    return name in SAMPLE_VALUES or bool(_PLOT_BY_NAME.fullmatch(name))


@dataclass(frozen=True, slots=True)
class Rendering:
    """A message with its known placeholders replaced.

    ``used``: each known placeholder (name without braces) and the value put in, in order of
    first use. ``unknown``: each placeholder TradingView would leave as written.
    """

    text: str
    used: dict[str, str] = field(default_factory=dict)
    unknown: list[str] = field(default_factory=list)


def render(
    text: str, overrides: Mapping[str, str] | None = None, now: datetime | None = None
) -> Rendering:
    """``text`` as TradingView would send it, with sample values (``overrides`` win)."""
    values = {**sample_values(now), **(overrides or {})}
    used: dict[str, str] = {}
    unknown: list[str] = []

    def fill(match: re.Match[str]) -> str:
        name = match.group(1)
        if name in values:
            value = values[name]
        elif _PLOT_BY_NAME.fullmatch(name):
            value = PLOT_SAMPLE
        else:
            if name not in unknown:
                unknown.append(name)
            return match.group(0)
        used.setdefault(name, value)
        return value

    return Rendering(PLACEHOLDER.sub(fill, text), used, unknown)


def unknown_reason(name: str) -> str:
    """Why ``{{name}}`` stays unrendered, with the likely intended placeholder."""
    text = f"unknown placeholder {{{{{name}}}}}: TradingView will not fill it"
    plain = name.strip().lower()
    if plain.startswith("syminfo."):
        return (f"{text} (syminfo.* is not a documented alert placeholder: build the value in "
                "Pine and pass it through alert() or alert_message)")
    if plain != name and is_known(plain):
        return f"{text}; write {{{{{plain}}}}} (lower case, no spaces)"
    guess = difflib.get_close_matches(plain, list(SAMPLE_VALUES), n=1, cutoff=0.75)
    if guess:
        return f"{text}; did you mean {{{{{guess[0]}}}}}?"
    return text


# --- messages written for other tools --------------------------------------------------------

_TV_DEFAULT = re.compile(r"\bfilled on\b.*\bnew strategy position is\b", re.I | re.S)
_ALERTATRON = re.compile(r"^\s*[\w-]+\([^)]*\)\s*\{.*\}", re.S)
_THREE_COMMAS_BOT = ("message_type", "bot_id", "email_token", "delay_seconds")
_THREE_COMMAS_SIGNAL = ("secret", "bot_uuid", "max_lag")
_THREE_COMMAS_ACTIONS = {
    "enter_long": ('"action": "buy" with "sentiment": "long"', "indicator-buy"),
    "enter_short": ('"action": "sell" with "sentiment": "short"', "indicator-sell"),
    "exit_long": ('"action": "exit"', "exit"),
    "exit_short": ('"action": "exit"', "exit"),
}


def foreign_format(text: str, data: Any = None) -> str | None:
    """What to change when ``text`` (parsed as ``data`` when JSON) was written for another
    tool; ``None`` when it does not look like one."""
    if data is None and _TV_DEFAULT.search(text):
        return ("this is TradingView's default strategy message; alert-router needs JSON: run "
                "`alert-router template --kind strategy` and paste its output over the text in "
                "the alert's Message box")
    if data is None and _ALERTATRON.match(text):
        return ("this is an Alertatron command; alert-router needs JSON: run `alert-router "
                "template --kind indicator-buy` (or another --kind) and paste its output")
    if not isinstance(data, dict):
        return None
    bot_keys = [key for key in _THREE_COMMAS_BOT if key in data]
    if bot_keys:
        return (f"this is a 3Commas bot message ({', '.join(bot_keys)}); alert-router reads "
                "its own JSON: run `alert-router template --kind indicator-buy` (or --kind "
                "strategy for a strategy alert) and paste its output; your webhook passphrase "
                "takes the place of the bot's token")
    action = data.get("action")
    if isinstance(action, str) and action.strip().lower() in _THREE_COMMAS_ACTIONS:
        ours, kind = _THREE_COMMAS_ACTIONS[action.strip().lower()]
        return (f'"action": "{action.strip()}" is a 3Commas signal-bot action; alert-router\'s '
                f"is {ours}: run `alert-router template --kind {kind}`")
    signal_keys = [key for key in _THREE_COMMAS_SIGNAL if key in data]
    if signal_keys:
        return (f"this is a 3Commas signal-bot message ({', '.join(signal_keys)}); remove "
                "secret, bot_uuid and max_lag, put your webhook passphrase in \"passphrase\" "
                "(max_lag_seconds in the server's config replaces max_lag), or run "
                "`alert-router template --kind strategy`")
    return None
