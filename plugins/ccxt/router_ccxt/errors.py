"""ccxt's exception classes -> the core's typed errors, in one table.

ccxt already sorts every exchange's error codes into its own classes (``InsufficientFunds``,
``RateLimitExceeded``, ``RequestTimeout``...); this table maps those classes, by name, onto the
core's errors and retry classes. An exception matches the rule of the nearest class in its
MRO, so a subclass ccxt adds later still lands on its parent's rule.

Whether a request was written decides between a denial and a rejection: an error ccxt raised
before its HTTP layer sent anything (a missing argument, an unknown symbol in its markets) is
a denial (``from_venue=False``); anything after is the venue's answer (or its absence).
"""

from __future__ import annotations

import re

from router_core import (
    AuthError,
    BrokerError,
    ErrorRule,
    ErrorTable,
    InsufficientFunds,
    InvalidOrder,
    MarketClosed,
    NotSupported,
    OrderNotFound,
    PermissionDenied,
    RateLimited,
    RetryClass,
    UnknownSymbol,
    VenueUnavailable,
)

# Raised by this plugin's HTTP layer when the transport proves nothing was written (a refused
# connection, a connect timeout): ccxt has no class for "not sent", so the name is our own.
NOT_SENT = "RequestNotSent"
_MAX_DETAIL = 300  # characters of ccxt's message kept (it quotes the venue's answer)

RULES = [
    # ccxt's ExchangeError family: the venue answered and refused
    ErrorRule("AuthenticationError", AuthError, "the exchange refused the key or the signature"),
    ErrorRule("AccountSuspended", AuthError, "the account is suspended"),
    ErrorRule("PermissionDenied", PermissionDenied, "the key lacks a permission"),
    ErrorRule("AccountNotEnabled", PermissionDenied, "the account or market is not enabled"),
    ErrorRule("InsufficientFunds", InsufficientFunds, "not enough balance or margin"),
    ErrorRule("InvalidOrder", InvalidOrder, "the exchange refused the order's fields"),
    ErrorRule("OrderNotFound", OrderNotFound, "no such order"),
    ErrorRule("OrderImmediatelyFillable", InvalidOrder, "a post-only order would take"),
    ErrorRule("OrderNotFillable", InvalidOrder, "the order cannot be filled"),
    # the client order id is taken: an order with it exists, so look it up, never re-send
    ErrorRule("DuplicateOrderId", InvalidOrder, "the client order id is already in use",
              ambiguous_for_orders=True),
    ErrorRule("ContractUnavailable", MarketClosed, "the contract does not trade now"),
    ErrorRule("BadSymbol", UnknownSymbol, "the exchange does not list the symbol"),
    ErrorRule("BadRequest", InvalidOrder, "the exchange refused the request's arguments"),
    ErrorRule("ArgumentsRequired", InvalidOrder, "ccxt needs an argument the order lacks"),
    ErrorRule("MarketClosed", MarketClosed, "the market does not trade now"),
    ErrorRule("OperationRejected", InvalidOrder, "the exchange rejected the operation"),
    ErrorRule("NotSupported", NotSupported, "ccxt does not support this on the exchange"),
    # an error ccxt could not classify: no proof that an order was not placed
    ErrorRule("ExchangeError", BrokerError, "an error ccxt does not classify",
              ambiguous_for_orders=True),
    # ccxt's OperationFailed family: the network or the exchange's availability
    ErrorRule("RateLimitExceeded", RateLimited, "the exchange's rate limit was hit"),
    # ccxt's class for an exchange's throttling codes (Kraken's EAPI:Rate limit exceeded) and
    # for its edge's refusals (HTTP 418, Cloudflare): refused for now, nothing done
    ErrorRule("DDoSProtection", RateLimited, "the exchange refused the request for now"),
    ErrorRule("InvalidNonce", AuthError, "the exchange refused the nonce", RetryClass.RETRY_READ),
    ErrorRule("RequestTimeout", VenueUnavailable, "no answer in time",
              ambiguous_for_orders=True),
    ErrorRule("OnMaintenance", VenueUnavailable, "the exchange is in maintenance",
              ambiguous_for_orders=True),
    ErrorRule("ExchangeNotAvailable", VenueUnavailable, "the exchange is not available",
              ambiguous_for_orders=True),
    ErrorRule("BadResponse", VenueUnavailable, "the exchange's answer could not be read",
              ambiguous_for_orders=True),
    ErrorRule("NetworkError", VenueUnavailable, "the connection failed",
              ambiguous_for_orders=True),
    ErrorRule("OperationFailed", VenueUnavailable, "the request failed",
              ambiguous_for_orders=True),
    ErrorRule(NOT_SENT, VenueUnavailable, "the exchange could not be reached; nothing was sent"),
]


# Venue codes that ccxt leaves in its generic ExchangeError although the exchange documents
# them as refusals (nothing placed), per exchange, with the message pattern that carries them.
_REFUSALS: dict[str, tuple[re.Pattern[str], ErrorTable]] = {
    # Kraken Futures' sendStatus; ccxt raises "krakenfutures: createOrder failed due to <status>"
    "krakenfutures": (re.compile(r"failed due to (\w+)"), ErrorTable("Kraken Futures", [
        ErrorRule("wouldNotReducePosition", InvalidOrder,
                  "a reduce-only order would not reduce the position; nothing was placed"),
    ], prefix_separators=())),
}


def _documented_refusal(exchange: str, exc: BaseException, action: str) -> BrokerError | None:
    """The exchange's own refusal code in an ExchangeError ccxt did not classify, if any."""
    known = _REFUSALS.get(exchange)
    if known is None:
        return None
    pattern, table = known
    found = pattern.search(str(exc))
    if found is None or table.match(found.group(1)) is None:
        return None
    return table.error(found.group(1), action=action)


def error_table(exchange: str) -> ErrorTable:
    """The table, its messages naming the exchange (``ccxt okx refused create_order: ...``)."""
    return ErrorTable(f"ccxt {exchange}", RULES, prefix_separators=())


def translate(
    table: ErrorTable, exc: BaseException, *, exchange: str, action: str, places_order: bool,
    sent: bool,
) -> BrokerError:
    """The core's error for ccxt's ``exc``, raised on ``exchange`` while doing ``action``.

    :param sent: whether a request was written during the call. ``False`` makes the error a
        denial (``from_venue=False``, never ambiguous): ccxt refused before sending anything.
    """
    if sent and type(exc).__name__ == "ExchangeError":
        refusal = _documented_refusal(exchange, exc, action)
        if refusal is not None:
            return refusal
    rule = None
    code = type(exc).__name__
    for cls in type(exc).__mro__:
        rule = table.match(cls.__name__)
        if rule is not None:
            break
    detail = " ".join(str(exc).split())[:_MAX_DETAIL]
    if not sent:
        error_class = rule.error if rule is not None else BrokerError
        what = (f"{rule.reason} ({detail})" if code == NOT_SENT and rule is not None
                else f"refused before sending: {code}" + (f": {detail}" if detail else ""))
        denied = error_class(f"{table.venue} {action}: {what}", venue_code=code)
        if isinstance(denied, VenueUnavailable) and code != NOT_SENT:
            denied.retry = RetryClass.FATAL  # nothing was sent, but re-sending fails the same
        return denied
    return table.error(code, action=action, places_order=places_order, detail=detail,
                       rule=rule)
