"""From webhook bytes to a validated ``Alert``: decode, parse, dialect, validate.

Authentication (passphrase, IP allowlist) is the web layer's job; this module only reads the
body. It imports pydantic (through ``alert``) but neither FastAPI nor the plugin machinery: the
caller passes a ``PluginSet`` whose ``router_parse_alert`` implementations are the dialects.

TradingView sends ``application/json`` when the alert message is valid JSON and ``text/plain``
otherwise, so both media types are read the same way: the body is tried as JSON, and every
dialect sees the raw text as well as the parsed value.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

from .alert import Alert, validate_alert
from .errors import AlertError

if TYPE_CHECKING:
    from .plugins import PluginSet

# A backstop only: the webhook enforces the configured ``max_body_bytes`` (64 KiB by default,
# at most this) before the body gets here.
MAX_BODY_BYTES = 1024 * 1024
MAX_DEPTH = 32
MAX_INT_DIGITS = 30  # longer integers become Decimal so the model refuses them by field name

ACCEPTED_MEDIA_TYPES = ("application/json", "text/plain")


def parse_alert(raw: bytes, content_type: str | None, plugins: PluginSet) -> Alert:
    """The alert a webhook body carries, or ``AlertError`` naming the field and the reason.

    :param raw: the body exactly as received.
    :param content_type: the ``Content-Type`` header, parameters included, or ``None``.
    :param plugins: the plugin set whose dialects (``router_parse_alert``) are tried in order.
    """
    media_type = media_type_of(content_type)
    text = decode_body(raw)
    data, json_problem = load_json(text)
    native = _run_dialects(plugins, text, media_type, data)
    if native is None:
        tried = ", ".join(dialect_names(plugins))
        prefix = f"not valid JSON ({json_problem}) and " if json_problem else ""
        raise AlertError("body", f"{prefix}not a recognised alert; tried dialects: {tried}")
    return validate_alert(native)


def parse_alert_dict(data: Mapping[str, Any], plugins: PluginSet | None = None) -> Alert:
    """An ``Alert`` from an already parsed body; with ``plugins`` the dialects are tried first.

    Numbers in ``data`` should be ``Decimal``, ``int`` or numeric strings (floats are accepted
    and read through their shortest repr).
    """
    if plugins is None:
        return validate_alert(data)
    text = json.dumps(data, default=str)
    native = _run_dialects(plugins, text, "application/json", data)
    if native is None:
        tried = ", ".join(dialect_names(plugins))
        raise AlertError("body", f"not a recognised alert; tried dialects: {tried}")
    return validate_alert(native)


def media_type_of(content_type: str | None) -> str:
    """The media type without parameters; a missing header reads as ``text/plain``."""
    media_type = (content_type or "").split(";", 1)[0].strip().lower()
    if not media_type:
        return "text/plain"
    if media_type in ACCEPTED_MEDIA_TYPES or media_type.endswith("+json"):
        return media_type
    hint = ""
    if media_type == "application/x-www-form-urlencoded":
        hint = " (curl -d sends this; add -H 'Content-Type: application/json')"
    raise AlertError(
        "Content-Type",
        f"unsupported media type {media_type[:60]!r}; send application/json or text/plain{hint}",
    )


def decode_body(raw: bytes) -> str:
    if len(raw) > MAX_BODY_BYTES:
        raise AlertError("body", f"larger than {MAX_BODY_BYTES // 1024 // 1024} MiB")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise AlertError("body", f"not valid UTF-8 (byte {exc.start})") from None
    text = text.removeprefix("\ufeff").strip()
    if not text:
        raise AlertError("body", "empty")
    return text


def load_json(text: str) -> tuple[Any, str | None]:
    """``(value, None)`` when ``text`` is JSON, else ``(None, what is wrong)``.

    Floats become ``Decimal`` (never binary floats for money); ``NaN``/``Infinity`` become
    non-finite Decimals that the model refuses by field name; deep nesting is refused outright.
    """
    try:
        data = _DECODER.decode(text)
    except json.JSONDecodeError as exc:
        return None, f"{exc.msg} at line {exc.lineno} column {exc.colno}"
    except RecursionError:
        raise AlertError("body", f"JSON nested deeper than {MAX_DEPTH} levels") from None
    except ValueError as exc:  # e.g. an integer beyond Python's digit limit
        return None, " ".join(str(exc).split())[:120]
    # Only a body with more brackets than the limit can be nested that deep.
    if text.count("{") + text.count("[") > MAX_DEPTH and _depth(data) > MAX_DEPTH:
        raise AlertError("body", f"JSON nested deeper than {MAX_DEPTH} levels")
    return data, None


def _parse_float(text: str) -> Decimal:
    try:
        return Decimal(text)
    except InvalidOperation:  # e.g. 1e99999999999999999999: beyond what Decimal can hold
        raise AlertError("body", f"number out of range: {text[:24]}...") from None


def _parse_int(text: str) -> int | Decimal:
    return int(text) if len(text.lstrip("-")) <= MAX_INT_DIGITS else Decimal(text)


# Built once: ``json.loads`` with hooks would build a decoder for every body.
_DECODER = json.JSONDecoder(parse_float=_parse_float, parse_int=_parse_int,
                            parse_constant=Decimal)


def _depth(value: Any) -> int:
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        deepest = max(deepest, level)
        if deepest > MAX_DEPTH:
            break
        stack.extend((child, level + 1) for child in children)
    return deepest


def _run_dialects(
    plugins: PluginSet, text: str, media_type: str, data: Any
) -> dict[str, Any] | None:
    return plugins.calls.parse_alert(text, media_type, data)


def dialect_names(plugins: PluginSet) -> list[str]:
    """The dialects in the order they are tried (a module's ``DIALECT`` name, else its plugin
    name)."""
    impls = plugins.hook.router_parse_alert.get_hookimpls()
    # pluggy calls the last registered (and tryfirst) implementations first.
    return [getattr(impl.plugin, "DIALECT", impl.plugin_name) for impl in reversed(impls)]
