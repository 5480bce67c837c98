"""The error tree of alert-router.

Every error a user can cause or meet has a class here and a message that says what and why.
Broker plugins raise the ``BrokerError`` subclasses; the core turns them into order results:

* an error raised *before* anything reached the venue (``from_venue=False``) is a **denial**:
  the router refused locally and nothing was placed;
* an error the venue answered with (``from_venue=True``) is a **rejection**;
* ``AmbiguousOutcome`` means the request may have reached the venue and nobody knows whether it
  placed an order: the core looks the order up by its client order id before anything is re-sent;
* an error of class ``RetryClass.WAIT`` (``RateLimited``) while placing means the venue did not
  take the order for now: the core sends it again after ``retry_after``, a few times.
"""

from __future__ import annotations

from enum import StrEnum


class RetryClass(StrEnum):
    """What a caller may do after a broker error; ``BrokerError.retry``, set per error type and
    overridable per instance (a venue's error table). What the core does with each class when
    placing, looking up and cancelling: docs/writing-a-plugin.md, "Errors and RetryClass".
    """

    FATAL = "fatal"  # do not retry: the same request fails the same way
    # A read (never an order) may be retried at once. Placing, the core re-sends only a
    # ``VenueUnavailable`` (nothing was written); another error of this class is reported.
    RETRY_READ = "retry_read"
    # Refused for now, nothing done (rate limit, throttling): back off before the next private
    # call on this key, ``retry_after`` seconds when the venue says. The core re-sends such an
    # order (same client order id) a few times within a bound: use it only when the venue
    # did not take the request.
    WAIT = "wait"
    # The order may exist: look it up, never re-send blindly. Placing, the core reads the type:
    # raise ``AmbiguousOutcome`` (any other exception escaping ``submit_order`` counts too).
    AMBIGUOUS = "ambiguous"


class RouterError(Exception):
    """Base of every error alert-router raises on purpose."""


class AlertError(RouterError):
    """An alert that cannot be turned into orders; names the field and the reason."""

    def __init__(self, field: str, reason: str) -> None:
        self.field = field
        self.reason = reason
        super().__init__(f"{field}: {reason}" if field else reason)


class ConfigError(RouterError):
    """A configuration problem; names the file, the key and the reason."""

    def __init__(self, reason: str, *, file: str | None = None, key: str | None = None) -> None:
        self.reason = reason
        self.file = file
        self.key = key
        where = ": ".join(part for part in (file, key) if part)
        super().__init__(f"{where}: {reason}" if where else reason)


class PluginError(RouterError):
    """A plugin that cannot be loaded or registered; names plugin, module and distribution."""

    def __init__(
        self,
        reason: str,
        *,
        plugin: str | None = None,
        module: str | None = None,
        distribution: str | None = None,
    ) -> None:
        self.reason = reason
        self.plugin = plugin
        self.module = module
        self.distribution = distribution
        parts = [
            f"plugin {plugin!r}" if plugin else None,
            f"module {module}" if module else None,
            f"distribution {distribution}" if distribution else None,
        ]
        where = ", ".join(p for p in parts if p)
        super().__init__(f"{where}: {reason}" if where else reason)


class BrokerError(RouterError):
    """Base of the errors a broker plugin raises.

    :param message: what happened, for a human; never include a secret.
    :param venue_code: the venue's own error string or code, e.g. ``"EOrder:Insufficient funds"``.
    :param from_venue: ``True`` when the venue answered with this error (a *rejection*),
        ``False`` when the plugin refused before sending (a *denial*).
    :param retry_after: seconds the venue asked to wait before the next call (a
        ``Retry-After`` header, a lockout's end), for ``RetryClass.WAIT`` errors; ``None``
        when it did not say (the core then waits 1 s, 2 s, 4 s).
    """

    retry: RetryClass = RetryClass.FATAL

    def __init__(
        self,
        message: str,
        *,
        venue_code: str | None = None,
        from_venue: bool = False,
        retry_after: float | None = None,
    ) -> None:
        self.message = message
        self.venue_code = venue_code
        self.from_venue = from_venue
        self.retry_after = retry_after
        super().__init__(message)


class AuthError(BrokerError):
    """The venue did not accept the credentials (bad key, bad signature, bad nonce)."""


class PermissionDenied(BrokerError):
    """The key lacks a permission the request needs."""


class InsufficientFunds(BrokerError):
    """Not enough balance or margin for the order."""


class InvalidOrder(BrokerError):
    """The order breaks a venue rule: size, price, tick, minimum, combination of flags."""


class UnknownSymbol(BrokerError):
    """The venue has no instrument for this symbol."""


class MarketClosed(BrokerError):
    """The instrument exists but does not trade now (maintenance, cancel-only, delisted)."""


class RateLimited(BrokerError):
    """The venue's rate limit was hit and the request was not taken; the key must wait.

    Pass ``retry_after=`` when the venue says how long. Raised when placing an order, the core
    re-sends the order after that wait (``RetryClass.WAIT``)."""

    retry = RetryClass.WAIT


class VenueUnavailable(BrokerError):
    """The venue could not be reached, before any byte of the request was written."""

    retry = RetryClass.RETRY_READ


class AmbiguousOutcome(BrokerError):
    """The request may have reached the venue; whether it placed an order is unknown."""

    retry = RetryClass.AMBIGUOUS


class NotSupported(BrokerError):
    """The broker cannot do this (an order type, a stub's order placement)."""


class OrderNotFound(BrokerError):
    """No order with this client order id at the venue."""
