"""One table: every documented Kraken spot error string -> the core's typed error + retry class.

Kraken answers HTTP 200 with ``{"error": ["EOrder:Insufficient funds"], ...}``; an entry may carry
extra text after the documented string (``EGeneral:Invalid arguments:volume``,
``EService:Throttled: 1700000000``), so lookup is exact first, then the longest documented
prefix. Retry classes: FATAL (fix the request or the account), RETRY_READ (a read may be retried;
never an order), WAIT (back off on this key), AMBIGUOUS (an AddOrder may have been placed: look it
up by cl_ord_id, never re-send blindly).
"""

from __future__ import annotations

from router_core import (
    AuthError,
    BrokerError,
    ErrorRule,
    ErrorTable,
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

F, R, W = RetryClass.FATAL, RetryClass.RETRY_READ, RetryClass.WAIT

# ErrorRule(code, error, meaning, retry, ambiguous_for_orders=...): ambiguous_for_orders is True
# where Kraken does not promise that an AddOrder answered with this error was not placed: raised
# as AmbiguousOutcome for order entry (see ORDER_ENTRY).
TABLE = ErrorTable("Kraken", [
    ErrorRule("EGeneral:Invalid arguments", InvalidOrder, "malformed or missing parameter", F),
    ErrorRule("EGeneral:Invalid arguments:Index unavailable", InvalidOrder,
              "index price trigger unavailable; use trigger=last", F),
    ErrorRule("EGeneral:Permission denied", PermissionDenied,
              "the API key lacks the permission this call needs", F),
    ErrorRule("EGeneral:Temporary lockout", RateLimited,
              "too many failed calls on this key; Kraken locked it for about 15 minutes", W),
    ErrorRule("EGeneral:Internal error", VenueUnavailable,
              "Kraken internal error", R, ambiguous_for_orders=True),
    ErrorRule("EGeneral:Too many requests", RateLimited, "flood control", W),
    ErrorRule("EGeneral:Unknown method", InvalidOrder, "unknown endpoint", F),
    ErrorRule("EAPI:Invalid key", AuthError, "Kraken does not know this API key", F),
    ErrorRule("EAPI:Invalid signature", AuthError, "the request signature was refused", F),
    ErrorRule("EAPI:Invalid nonce", AuthError,
              "nonce not above the last one Kraken accepted for this key (is the key used by "
              "another program?)", R),
    ErrorRule("EAPI:Rate limit exceeded", RateLimited, "the REST call counter is exceeded", W),
    ErrorRule("EAPI:Bad request", InvalidOrder, "bad request", F),
    ErrorRule("EAPI:Feature disabled", PermissionDenied, "feature disabled for this key", F),
    ErrorRule("EAuth:Rate limit exceeded", RateLimited, "authentication throttled", W),
    ErrorRule("EAuth:Too many requests", RateLimited, "authentication throttled", W),
    ErrorRule("EAuth:Account temporary disabled", PermissionDenied,
              "the account is temporarily disabled", W),
    ErrorRule("EAuth:Account unconfirmed", PermissionDenied, "the account is not confirmed", F),
    ErrorRule("ESession:Invalid session", AuthError, "invalid session", R),
    ErrorRule("EService:Unavailable", VenueUnavailable,
              "Kraken's API or engine is offline", R, ambiguous_for_orders=True),
    ErrorRule("EService:Busy", VenueUnavailable,
              "Kraken is overloaded", R, ambiguous_for_orders=True),
    ErrorRule("EService:Market in cancel_only mode", MarketClosed,
              "the market accepts cancels only", W),
    ErrorRule("EService:Market in post_only mode", MarketClosed,
              "the market accepts post-only limit orders only", W),
    ErrorRule("EService:Market in limit_only mode", MarketClosed,
              "the market accepts limit orders only", W),
    ErrorRule("EService:Deadline elapsed", VenueUnavailable,
              "the order's deadline passed before the engine took it", R,
              ambiguous_for_orders=True),
    ErrorRule("EService:Throttled", RateLimited, "too many concurrent requests", W),
    ErrorRule("EDatabase:Internal error", VenueUnavailable,
              "Kraken database error", R, ambiguous_for_orders=True),
    ErrorRule("EQuery:Unknown asset pair", UnknownSymbol, "Kraken has no such pair", F),
    ErrorRule("EQuery:Invalid asset pair", UnknownSymbol, "Kraken has no such pair", F),
    ErrorRule("EQuery:Unknown asset", UnknownSymbol, "Kraken has no such asset", F),
    ErrorRule("EOrder:Cannot open position", PermissionDenied,
              "the account may not open margin positions", F),
    ErrorRule("EOrder:Cannot open opposing position", PermissionDenied,
              "the account may not open an opposing margin position", F),
    ErrorRule("EOrder:Margin allowance exceeded", InsufficientFunds,
              "margin allowance exceeded", F),
    ErrorRule("EOrder:Margin level too low", InsufficientFunds, "not enough collateral", F),
    ErrorRule("EOrder:Margin position size exceeded", InvalidOrder,
              "the pair's maximum margin position would be exceeded", F),
    ErrorRule("EOrder:Insufficient margin", InsufficientFunds,
              "Kraken lacks margin funds for this pair now", F),
    ErrorRule("EOrder:Insufficient funds", InsufficientFunds, "balance too low", F),
    ErrorRule("EOrder:Order minimum not met", InvalidOrder, "volume below the pair's ordermin", F),
    ErrorRule("EOrder:Cost minimum not met", InvalidOrder,
              "price x volume below the pair's costmin", F),
    ErrorRule("EOrder:Tick size check failed", InvalidOrder,
              "price not a multiple of the pair's tick size", F),
    ErrorRule("EOrder:Invalid price", InvalidOrder, "invalid price", F),
    ErrorRule("EOrder:Invalid order", OrderNotFound, "no such open order", F),
    ErrorRule("EOrder:Unknown order", OrderNotFound, "no such order", F),
    ErrorRule("EOrder:Unknown position", InvalidOrder, "no such position", F),
    ErrorRule("EOrder:Orders limit exceeded", RateLimited, "too many open orders on this pair", W),
    ErrorRule("EOrder:Scheduled orders limit exceeded", RateLimited,
              "too many scheduled or trigger orders", W),
    ErrorRule("EOrder:Positions limit exceeded", RateLimited, "too many open positions", W),
    ErrorRule("EOrder:Rate limit exceeded", RateLimited,
              "the pair's matching-engine counter is exceeded", W),
    ErrorRule("EOrder:Domain rate limit exceeded", RateLimited,
              "the account-wide matching-engine counter is exceeded", W),
    ErrorRule("EOrder:Reduce only", InvalidOrder, "reduce-only order with nothing to reduce", F),
    ErrorRule("ETrade:Invalid request", InvalidOrder, "invalid trade request", F),
    ErrorRule("ETrade:User Locked", PermissionDenied, "the account is locked", W),
], default=ErrorRule("*", BrokerError, "undocumented error", F,
                     # an undocumented error on an order is not proof of non-placement
                     ambiguous_for_orders=True))

RULES = TABLE  # code -> ErrorRule (a read-only mapping)

# Calls whose failure must not be read as "not placed" (see reliability.md, requirement 1).
ORDER_ENTRY = frozenset({"AddOrder"})


def rule_for(code: str) -> ErrorRule | None:
    """The rule for a Kraken error string: exact, else the longest documented prefix
    (followed by ":" or a space)."""
    return TABLE.match(code)


def venue_error(code: str, method: str) -> BrokerError:
    """The typed error for a Kraken answer ``code`` to a call of ``method`` (from_venue=True)."""
    return TABLE.error(code, action=method, places_order=method in ORDER_ENTRY)


def first_error(entries: object) -> str | None:
    """The first error (severity E) of a Kraken ``error`` array; warnings are ignored."""
    if not isinstance(entries, list):
        return None
    for entry in entries:
        if isinstance(entry, str) and entry.startswith("E"):
            return entry
    return None
