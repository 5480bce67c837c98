"""One table from Kraken Futures error strings and order statuses to the core's typed errors.

Two kinds of answers refuse something:

* a top-level error, ``{"result": "error", "error": "<code>"}`` (or ``errors: [{code, message}]``
  on newer paths), in ``TOP_LEVEL``;
* an order status inside a successful envelope, ``sendStatus.status`` (also ``editStatus`` and
  ``cancelStatus``), in ``ORDER_STATUS``. A rejected order comes back with ``result: success``.

The plugin *raises* the mapped error for every refusal (``from_venue=True``): one rule for
top-level errors and order statuses, so the core sees the venue's code in ``venue_code`` and the
retry class on the exception.
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


@dataclass(frozen=True, slots=True)
class Rule:
    error: type[BrokerError]
    retry: RetryClass
    text: str
    # True when Kraken documents that the request was refused before processing, so sending
    # it again (re-signed, same cliOrdId) cannot create a second order.
    refused_before_processing: bool = False


FATAL = RetryClass.FATAL
WAIT = RetryClass.WAIT
READ = RetryClass.RETRY_READ
AMBIG = RetryClass.AMBIGUOUS

# Top-level "error" strings (SPEC Error enum, ccxt's table, observed codes).
TOP_LEVEL: dict[str, Rule] = {
    "apiLimitExceeded": Rule(RateLimited, WAIT, "Kraken Futures rate limit exceeded", True),
    "authenticationError": Rule(
        AuthError, FATAL, "Kraken refused the API key or signature (authenticationError)"
    ),
    "accountInactive": Rule(PermissionDenied, FATAL, "the Kraken Futures account is inactive"),
    "invalidAccount": Rule(PermissionDenied, FATAL, "the account is not valid for this request"),
    "insufficientFunds": Rule(InsufficientFunds, FATAL, "insufficient funds"),
    "INSUFFICIENT_MARGIN": Rule(InsufficientFunds, FATAL, "insufficient margin"),
    "invalidAmount": Rule(InvalidOrder, FATAL, "invalid amount"),
    "invalidArgument": Rule(InvalidOrder, FATAL, "invalid argument"),
    "invalidUnit": Rule(InvalidOrder, FATAL, "invalid unit"),
    "requiredArgumentMissing": Rule(InvalidOrder, FATAL, "a required argument is missing"),
    "Json Parse Error": Rule(InvalidOrder, FATAL, "Kraken could not parse the request"),
    "Bad Request": Rule(InvalidOrder, FATAL, "Kraken answered Bad Request"),
    "contractNotFound": Rule(UnknownSymbol, FATAL, "no such contract"),
    "notFound": Rule(OrderNotFound, FATAL, "not found"),
    "nonceBelowThreshold": Rule(AuthError, READ, "nonce below threshold", True),
    "nonceDuplicate": Rule(AuthError, READ, "duplicate nonce", True),
    # Transient on reads; on an order the outcome is unknown (never blind-retry sendorder).
    "marketUnavailable": Rule(MarketClosed, AMBIG, "market unavailable"),
    "Unavailable": Rule(VenueUnavailable, AMBIG, "Kraken Futures is unavailable"),
    "unavailable": Rule(VenueUnavailable, AMBIG, "Kraken Futures is unavailable"),
    "Server Error": Rule(VenueUnavailable, AMBIG, "Kraken Futures server error"),
    "unknownError": Rule(VenueUnavailable, AMBIG, "Kraken Futures unknown error"),
}

# Numeric codes of the newer ``errors: [{code, message}]`` shape.
NUMERIC: dict[int, Rule] = {
    10: TOP_LEVEL["apiLimitExceeded"],
    18: TOP_LEVEL["authenticationError"],
    41: Rule(InvalidOrder, FATAL, "the change would cause liquidation"),
    87: Rule(UnknownSymbol, FATAL, "the contract does not exist"),
    88: Rule(InvalidOrder, FATAL, "not a multi-collateral contract"),
    89: Rule(InvalidOrder, FATAL, "the currency does not exist"),
    90: Rule(InvalidOrder, FATAL, "the currency is not enabled for multi-collateral"),
    92: TOP_LEVEL["INSUFFICIENT_MARGIN"],
}

# Order statuses that mean the order (or edit/cancel) did happen.
SUCCESS_STATUSES = frozenset({"placed", "partiallyFilled", "filled", "cancelled", "edited"})

_I, _F, _M = InvalidOrder, InsufficientFunds, MarketClosed
ORDER_STATUS: dict[str, Rule] = {
    "marketSuspended": Rule(_M, FATAL, "the market is suspended"),
    "marketInactive": Rule(_M, FATAL, "the market is inactive"),
    "marketIsPostOnly": Rule(_M, FATAL, "the market accepts post-only orders only"),
    "invalidPrice": Rule(_I, FATAL, "invalid price"),
    "invalidSize": Rule(_I, FATAL, "invalid size"),
    "invalidOrderType": Rule(_I, FATAL, "invalid order type"),
    "invalidSide": Rule(_I, FATAL, "invalid side"),
    "tooManySmallOrders": Rule(_I, FATAL, "too many small orders"),
    "tooManyOrders": Rule(_I, FATAL, "too many open orders"),
    "insufficientAvailableFunds": Rule(_F, FATAL, "insufficient available funds"),
    "wouldCauseLiquidation": Rule(_F, FATAL, "the order would cause liquidation"),
    "fixedLeverageTooHigh": Rule(_F, FATAL, "the order exceeds the isolated leverage cap"),
    "maxPositionViolation": Rule(_I, FATAL, "the order exceeds the maximum position size"),
    "clientOrderIdAlreadyExist": Rule(
        _I, FATAL, "an order with this client order id already exists"
    ),
    "clientOrderIdTooBig": Rule(_I, FATAL, "the client order id is too long"),
    "clientOrderIdTooLong": Rule(_I, FATAL, "the client order id is too long"),
    "clientOrderIdInvalid": Rule(_I, FATAL, "the client order id is invalid"),
    "outsidePriceCollar": Rule(_I, FATAL, "the price is outside the price collar"),
    "wouldIncreasePriceDislocation": Rule(_I, FATAL, "the order would increase price dislocation"),
    "notFound": Rule(OrderNotFound, FATAL, "order not found"),
    "orderForEditNotAStop": Rule(_I, FATAL, "the order to edit is not a stop"),
    "orderForEditNotFound": Rule(OrderNotFound, FATAL, "the order to edit was not found"),
    "postWouldExecute": Rule(_I, FATAL, "the post-only order would execute immediately"),
    "iocWouldNotExecute": Rule(_I, FATAL, "the immediate-or-cancel order would not execute"),
    "selfFill": Rule(_I, FATAL, "the order would fill against one of the account's own orders"),
    "wouldNotReducePosition": Rule(
        _I, FATAL, "the reduce-only order would not reduce the position"
    ),
    "cannotEditTriggerPriceOfTrailingStop": Rule(
        _I, FATAL, "the trigger price of a trailing stop cannot be edited"
    ),
    "cannotEditLimitPriceOfTrailingStop": Rule(
        _I, FATAL, "the limit price of a trailing stop cannot be edited"
    ),
    "wouldProcessAfterSpecifiedTime": Rule(
        _I, FATAL, "the order was too old when Kraken got to it (processBefore passed); dropped"
    ),
}


def top_level_rule(code: str) -> Rule:
    """The rule for a top-level error string; unknown strings are fatal InvalidOrder."""
    rule = TOP_LEVEL.get(code)
    if rule is None:
        lowered = code.lower()
        if "nonce" in lowered:
            return TOP_LEVEL["nonceBelowThreshold"]
        if lowered.startswith("invalid"):
            return Rule(InvalidOrder, FATAL, code)
        return Rule(BrokerError, FATAL, "Kraken Futures error")
    return rule


def order_status_rule(status: str) -> Rule:
    return ORDER_STATUS.get(status) or Rule(BrokerError, FATAL, "unrecognised order status")


def venue_error(rule: Rule, code: str, *, context: str = "", side_effect: bool) -> BrokerError:
    """The exception for a venue refusal; on a read an 'ambiguous' rule is just unavailable."""
    message = f"{context}: {rule.text} ({code})" if context else f"{rule.text} ({code})"
    if rule.retry is AMBIG:
        if side_effect:
            error: BrokerError = AmbiguousOutcome(message, venue_code=code, from_venue=True)
        else:
            error = VenueUnavailable(message, venue_code=code, from_venue=True)
            error.retry = READ
        return error
    error = rule.error(message, venue_code=code, from_venue=True)
    error.retry = rule.retry
    return error
