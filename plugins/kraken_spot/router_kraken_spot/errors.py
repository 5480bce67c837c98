"""One table: every documented Kraken spot error string -> the core's typed error + retry class.

Kraken answers HTTP 200 with ``{"error": ["EOrder:Insufficient funds"], ...}``; an entry may carry
extra text after the documented string (``EGeneral:Invalid arguments:volume``,
``EService:Throttled: 1700000000``), so lookup is exact first, then the longest documented
prefix. Retry classes: FATAL (fix the request or the account), RETRY_READ (a read may be retried;
never an order), WAIT (back off on this key), AMBIGUOUS (an AddOrder may have been placed: look it
up by cl_ord_id, never re-send blindly).
"""

from __future__ import annotations

from dataclasses import dataclass

from router_core import (
    AmbiguousOutcome,
    AuthError,
    BrokerError,
    InsufficientFunds,
    InvalidOrder,
    MarketClosed,
    OrderNotFound,
    PermissionDenied,
    RateLimited,
    RetryClass,
    UnknownSymbol,
    VenueUnavailable,
)

F, R, W, A = RetryClass.FATAL, RetryClass.RETRY_READ, RetryClass.WAIT, RetryClass.AMBIGUOUS


@dataclass(frozen=True, slots=True)
class ErrorRule:
    code: str
    error: type[BrokerError]
    retry: RetryClass
    meaning: str
    # True where Kraken does not promise that an AddOrder answered with this error was not
    # placed: raised as AmbiguousOutcome for order entry.
    ambiguous_for_orders: bool = False


_RULES = (
    ErrorRule("EGeneral:Invalid arguments", InvalidOrder, F, "malformed or missing parameter"),
    ErrorRule("EGeneral:Invalid arguments:Index unavailable", InvalidOrder, F,
              "index price trigger unavailable; use trigger=last"),
    ErrorRule("EGeneral:Permission denied", PermissionDenied, F,
              "the API key lacks the permission this call needs"),
    ErrorRule("EGeneral:Temporary lockout", RateLimited, W,
              "too many failed calls on this key; Kraken locked it for about 15 minutes"),
    ErrorRule("EGeneral:Internal error", VenueUnavailable, R, "Kraken internal error",
              ambiguous_for_orders=True),
    ErrorRule("EGeneral:Too many requests", RateLimited, W, "flood control"),
    ErrorRule("EGeneral:Unknown method", InvalidOrder, F, "unknown endpoint"),
    ErrorRule("EAPI:Invalid key", AuthError, F, "Kraken does not know this API key"),
    ErrorRule("EAPI:Invalid signature", AuthError, F, "the request signature was refused"),
    ErrorRule("EAPI:Invalid nonce", AuthError, R,
              "nonce not above the last one Kraken accepted for this key (is the key used "
              "by another program?)"),
    ErrorRule("EAPI:Rate limit exceeded", RateLimited, W, "the REST call counter is exceeded"),
    ErrorRule("EAPI:Bad request", InvalidOrder, F, "bad request"),
    ErrorRule("EAPI:Feature disabled", PermissionDenied, F, "feature disabled for this key"),
    ErrorRule("EAuth:Rate limit exceeded", RateLimited, W, "authentication throttled"),
    ErrorRule("EAuth:Too many requests", RateLimited, W, "authentication throttled"),
    ErrorRule("EAuth:Account temporary disabled", PermissionDenied, W,
              "the account is temporarily disabled"),
    ErrorRule("EAuth:Account unconfirmed", PermissionDenied, F, "the account is not confirmed"),
    ErrorRule("ESession:Invalid session", AuthError, R, "invalid session"),
    ErrorRule("EService:Unavailable", VenueUnavailable, R, "Kraken's API or engine is offline",
              ambiguous_for_orders=True),
    ErrorRule("EService:Busy", VenueUnavailable, R, "Kraken is overloaded",
              ambiguous_for_orders=True),
    ErrorRule("EService:Market in cancel_only mode", MarketClosed, W,
              "the market accepts cancels only"),
    ErrorRule("EService:Market in post_only mode", MarketClosed, W,
              "the market accepts post-only limit orders only"),
    ErrorRule("EService:Market in limit_only mode", MarketClosed, W,
              "the market accepts limit orders only"),
    ErrorRule("EService:Deadline elapsed", VenueUnavailable, R,
              "the order's deadline passed before the engine took it",
              ambiguous_for_orders=True),
    ErrorRule("EService:Throttled", RateLimited, W, "too many concurrent requests"),
    ErrorRule("EDatabase:Internal error", VenueUnavailable, R, "Kraken database error",
              ambiguous_for_orders=True),
    ErrorRule("EQuery:Unknown asset pair", UnknownSymbol, F, "Kraken has no such pair"),
    ErrorRule("EQuery:Invalid asset pair", UnknownSymbol, F, "Kraken has no such pair"),
    ErrorRule("EQuery:Unknown asset", UnknownSymbol, F, "Kraken has no such asset"),
    ErrorRule("EOrder:Cannot open position", PermissionDenied, F,
              "the account may not open margin positions"),
    ErrorRule("EOrder:Cannot open opposing position", PermissionDenied, F,
              "the account may not open an opposing margin position"),
    ErrorRule("EOrder:Margin allowance exceeded", InsufficientFunds, F,
              "margin allowance exceeded"),
    ErrorRule("EOrder:Margin level too low", InsufficientFunds, F, "not enough collateral"),
    ErrorRule("EOrder:Margin position size exceeded", InvalidOrder, F,
              "the pair's maximum margin position would be exceeded"),
    ErrorRule("EOrder:Insufficient margin", InsufficientFunds, F,
              "Kraken lacks margin funds for this pair now"),
    ErrorRule("EOrder:Insufficient funds", InsufficientFunds, F, "balance too low"),
    ErrorRule("EOrder:Order minimum not met", InvalidOrder, F,
              "volume below the pair's ordermin"),
    ErrorRule("EOrder:Cost minimum not met", InvalidOrder, F,
              "price x volume below the pair's costmin"),
    ErrorRule("EOrder:Tick size check failed", InvalidOrder, F,
              "price not a multiple of the pair's tick size"),
    ErrorRule("EOrder:Invalid price", InvalidOrder, F, "invalid price"),
    ErrorRule("EOrder:Invalid order", OrderNotFound, F, "no such open order"),
    ErrorRule("EOrder:Unknown order", OrderNotFound, F, "no such order"),
    ErrorRule("EOrder:Unknown position", InvalidOrder, F, "no such position"),
    ErrorRule("EOrder:Orders limit exceeded", RateLimited, W,
              "too many open orders on this pair"),
    ErrorRule("EOrder:Scheduled orders limit exceeded", RateLimited, W,
              "too many scheduled or trigger orders"),
    ErrorRule("EOrder:Positions limit exceeded", RateLimited, W, "too many open positions"),
    ErrorRule("EOrder:Rate limit exceeded", RateLimited, W,
              "the pair's matching-engine counter is exceeded"),
    ErrorRule("EOrder:Domain rate limit exceeded", RateLimited, W,
              "the account-wide matching-engine counter is exceeded"),
    ErrorRule("EOrder:Reduce only", InvalidOrder, F, "reduce-only order with nothing to reduce"),
    ErrorRule("ETrade:Invalid request", InvalidOrder, F, "invalid trade request"),
    ErrorRule("ETrade:User Locked", PermissionDenied, W, "the account is locked"),
)

RULES: dict[str, ErrorRule] = {rule.code: rule for rule in _RULES}
_BY_LENGTH = sorted(_RULES, key=lambda rule: len(rule.code), reverse=True)

# Calls whose failure must not be read as "not placed" (see reliability.md, requirement 1).
ORDER_ENTRY = frozenset({"AddOrder"})


def rule_for(code: str) -> ErrorRule | None:
    """The rule for a Kraken error string: exact, else the longest documented prefix."""
    rule = RULES.get(code)
    if rule is not None:
        return rule
    for candidate in _BY_LENGTH:
        if code.startswith(candidate.code + ":") or code.startswith(candidate.code + " "):
            return candidate
    return None


def venue_error(code: str, method: str) -> BrokerError:
    """The typed error for a Kraken answer ``code`` to a call of ``method`` (from_venue=True)."""
    rule = rule_for(code)
    if rule is None:
        # An undocumented error on an order is not proof of non-placement.
        if method in ORDER_ENTRY:
            return _with_retry(
                AmbiguousOutcome(f"Kraken answered {method} with an undocumented error {code!r}; "
                                 "the order may exist", venue_code=code, from_venue=True), A)
        return _with_retry(
            BrokerError(f"Kraken answered {method} with {code!r}", venue_code=code,
                        from_venue=True), F)
    if rule.ambiguous_for_orders and method in ORDER_ENTRY:
        return _with_retry(AmbiguousOutcome(
            f"Kraken answered {method} with {code} ({rule.meaning}); the order may exist",
            venue_code=code, from_venue=True), A)
    return _with_retry(
        rule.error(f"Kraken refused {method}: {code} ({rule.meaning})", venue_code=code,
                   from_venue=True), rule.retry)


def _with_retry(error: BrokerError, retry: RetryClass) -> BrokerError:
    error.retry = retry  # the table's class wins over the error type's default
    return error


def first_error(entries: object) -> str | None:
    """The first error (severity E) of a Kraken ``error`` array; warnings are ignored."""
    if not isinstance(entries, list):
        return None
    for entry in entries:
        if isinstance(entry, str) and entry.startswith("E"):
            return entry
    return None
