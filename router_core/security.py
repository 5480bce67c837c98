"""Who may talk to the webhook: secrets, the IP allowlist, HMAC signatures, log redaction.

Pure functions and small classes, no web framework: ``server`` calls them in order. Every
secret is a ``SecretStr`` read from the environment (or a file) the config names; comparisons
are constant time (``hmac.compare_digest``); nothing here puts a secret, a signature or a body
into an exception message or a log line.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import logging
import os
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import SecretStr

from .errors import ConfigError

if TYPE_CHECKING:
    from .brokers import Broker, BrokerConfig
    from .config import RouterConfig, ServerConfig
    from .plugins import PluginSet

# TradingView's published webhook source addresses (docs/tradingview.md, section 1).
TRADINGVIEW_IPS = ("52.89.214.238", "34.212.75.30", "54.218.53.128", "52.32.178.7")
SIGNATURE_HEADER = "X-Router-Signature"
SIGNATURE_TOLERANCE_SECONDS = 300
REPLAY_TTL_SECONDS = 600

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
log = logging.getLogger(__name__)


class Unauthorized(Exception):
    """A request that failed authentication. ``reason`` is for the log and never holds a
    secret; the sender only ever sees a generic answer."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


# -- settings -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class WebhookSettings:
    """The server section resolved: secrets read, networks parsed."""

    passphrase: SecretStr | None = None
    route_tokens: Mapping[str, SecretStr] = field(default_factory=dict)  # route name -> token
    admin_token: SecretStr | None = None
    hmac_secrets: tuple[SecretStr, ...] = ()
    allowlist: tuple[IPNetwork, ...] | None = None
    trusted_proxies: tuple[IPNetwork, ...] = ()
    max_body_bytes: int = 64 * 1024
    retention_seconds: float = 7 * 86400.0

    @property
    def authenticates(self) -> bool:
        """True when some secret guards the webhook (otherwise it is open: paper only)."""
        return bool(self.passphrase or self.route_tokens or self.hmac_secrets)

    @classmethod
    def from_config(
        cls, server: ServerConfig, *, environ: Mapping[str, str] | None = None,
        base_dir: Path | None = None, passphrase: SecretStr | None = None,
        file: str | None = None,
    ) -> WebhookSettings:
        """Read every secret the ``[server]`` section names. ``passphrase`` overrides the
        configured one (``serve`` without a config generates it); ``file`` names the config
        in error messages."""
        env = os.environ if environ is None else environ
        try:
            return cls._read(server, env, base_dir, passphrase)
        except ConfigError as exc:
            if file is None or exc.file is not None:
                raise
            raise ConfigError(exc.reason, file=file, key=exc.key) from None

    @classmethod
    def _read(cls, server: ServerConfig, env: Mapping[str, str], base_dir: Path | None,
              passphrase: SecretStr | None) -> WebhookSettings:
        if passphrase is None:
            passphrase = _read_passphrase(server, env, base_dir)
        route_tokens = {
            route: _env_secret(env, name, f"server.route_tokens_env.{route}")
            for route, name in server.route_tokens_env.items()
        }
        admin = (_env_secret(env, server.admin_token_env, "server.admin_token_env")
                 if server.admin_token_env else None)
        hmac_secrets = tuple(_env_secret(env, name, "server.hmac_secrets_env")
                             for name in server.hmac_secrets_env)
        return cls(
            passphrase=passphrase,
            route_tokens=route_tokens,
            admin_token=admin,
            hmac_secrets=hmac_secrets,
            allowlist=parse_allowlist(server.ip_allowlist),
            trusted_proxies=parse_networks(server.trusted_proxies, "server.trusted_proxies"),
            max_body_bytes=server.max_body_bytes,
            retention_seconds=server.dedup_retention_days * 86400.0,
        )

    def secret_values(self) -> list[str]:
        """Every secret in clear, for redaction only (never log what this returns)."""
        values = [s.get_secret_value() for s in (self.passphrase, self.admin_token) if s]
        values += [s.get_secret_value() for s in self.route_tokens.values()]
        values += [s.get_secret_value() for s in self.hmac_secrets]
        return [v for v in values if v]


def _env_secret(env: Mapping[str, str], name: str, key: str) -> SecretStr:
    value = env.get(name, "")
    if not value.strip():
        raise ConfigError(f"environment variable {name} is not set or empty", key=key)
    return SecretStr(value.strip())


def _read_passphrase(server: ServerConfig, env: Mapping[str, str],
                     base_dir: Path | None) -> SecretStr | None:
    if server.passphrase_env:
        return _env_secret(env, server.passphrase_env, "server.passphrase_env")
    if server.passphrase_file:
        path = server.passphrase_file
        if not path.is_absolute() and base_dir is not None:
            path = base_dir / path
        try:
            text = path.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ConfigError(f"cannot read the passphrase file: {exc.strerror}",
                              file=str(path), key="server.passphrase_file") from None
        if not text:
            raise ConfigError("the passphrase file is empty", file=str(path),
                              key="server.passphrase_file")
        return SecretStr(text)
    return None


def live_accounts(config: RouterConfig, plugins: PluginSet,
                  brokers: Mapping[str, Broker] | None = None) -> list[str]:
    """Enabled accounts that can place real orders: every one whose broker is not a stub and
    does not declare itself ``simulated`` (a paper venue, a venue's demo or testnet).

    The flag is the broker's own, read from the account's instance because it may depend on
    the account's settings: from ``brokers`` (a running router's, by account name) when given,
    else from an instance built here just for the question and closed at once. Nothing is
    guessed from names: a broker called "paper" or a setting called "validate" proves nothing,
    and an account whose broker says nothing is live."""
    live = []
    for name, account in config.accounts.items():
        if not account.enabled:
            continue
        cls = plugins.brokers.get(account.broker)
        if getattr(cls, "stub", False) is True:
            continue
        broker = brokers.get(name) if brokers is not None else None
        if broker is not None:
            simulated = getattr(broker, "simulated", False) is True
        else:
            simulated = _instance_simulated(name, cls, account.settings)
        if not simulated:
            live.append(name)
    return live


def _instance_simulated(account: str, cls: type[Broker], settings: BrokerConfig) -> bool:
    """``simulated`` of a throw-away instance of ``cls`` for ``account``: built on a scratch
    state folder with in-memory nonces (nothing is started, nothing is sent), then closed.

    A broker that cannot be built here (its keys are missing, say) answers with its class's
    declaration; such an account cannot trade anyway until it can be built."""
    import asyncio
    import concurrent.futures
    import tempfile

    from .brokers import BrokerContext
    from .nonces import NonceRegistry
    from .ratelimit import RateLimiterRegistry

    async def probe() -> bool:
        with tempfile.TemporaryDirectory(prefix="alert-router-probe-") as scratch:
            context = BrokerContext(account=account, state_dir=Path(scratch),
                                    nonces=NonceRegistry(None), limiters=RateLimiterRegistry())
            broker = cls(settings, context)
            try:
                return getattr(broker, "simulated", False) is True
            finally:
                await broker.close()

    try:
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return asyncio.run(probe())
        # Called from inside an event loop (the web app's factory): probe on a thread of its own.
        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            return pool.submit(asyncio.run, probe()).result()
    except Exception as exc:  # any failure: fall back to the class's declaration
        log.debug("account %s: its broker could not be built to read `simulated` (%s); "
                  "using %s.simulated", account, type(exc).__name__, cls.__qualname__)
        return getattr(cls, "simulated", False) is True


def refuse_unguarded_live(config: RouterConfig, plugins: PluginSet,
                          settings: WebhookSettings,
                          brokers: Mapping[str, Broker] | None = None) -> None:
    """An open webhook in front of live accounts would let anyone trade them: refuse.
    ``brokers``: the router's instances by account name, when built (see ``live_accounts``)."""
    if settings.authenticates:
        return
    live = live_accounts(config, plugins, brokers)
    if live:
        raise ConfigError(
            f"the webhook has no passphrase but account(s) {', '.join(live)} trade live; "
            "set [server] passphrase_env = \"ALERT_ROUTER_PASSPHRASE\" (and export that "
            "variable) or passphrase_file = \"path/to/file\", and put the same passphrase in "
            "the alert body as \"passphrase\"",
            file=str(config.path) if config.path else None, key="server.passphrase_env",
        )


# -- comparisons --------------------------------------------------------------------------------


def secret_matches(given: str | None, expected: Iterable[SecretStr]) -> bool:
    """Constant-time comparison against every expected secret (no early exit on a match)."""
    given_bytes = (given or "").encode("utf-8")
    matched = False
    for secret in expected:
        matched |= hmac.compare_digest(given_bytes, secret.get_secret_value().encode("utf-8"))
    return matched and given is not None


def route_for_token(token: str, routes: Mapping[str, SecretStr]) -> str | None:
    """The route name whose token this is, or ``None``; every token is compared."""
    found = None
    for name, secret in routes.items():
        if hmac.compare_digest(token.encode("utf-8"), secret.get_secret_value().encode("utf-8")):
            found = name
    return found


def bearer_token(header: str | None) -> str | None:
    if not header:
        return None
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


# -- addresses ----------------------------------------------------------------------------------


def parse_networks(values: Iterable[str], key: str) -> tuple[IPNetwork, ...]:
    networks = []
    for value in values:
        try:
            networks.append(ipaddress.ip_network(value.strip(), strict=False))
        except ValueError:
            raise ConfigError(f"not an IP address or network: {value!r}", key=key) from None
    return tuple(networks)


def parse_allowlist(setting: list[str] | str | None) -> tuple[IPNetwork, ...] | None:
    if setting is None:
        return None
    if setting == "tradingview":
        return parse_networks(TRADINGVIEW_IPS, "server.ip_allowlist")
    return parse_networks(setting, "server.ip_allowlist")


def _address(text: str | None) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    if not text:
        return None
    try:
        address = ipaddress.ip_address(text.strip())
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        return address.ipv4_mapped
    return address


def in_networks(text: str | None, networks: Iterable[IPNetwork] | AddressSet) -> bool:
    if isinstance(networks, AddressSet):
        return text in networks
    address = _address(text)
    return address is not None and any(address in net for net in networks)


MAX_REMEMBERED_ADDRESSES = 4096


class AddressSet:
    """Fixed networks (an allowlist, the trusted proxies), asked whether an address text is in
    them: ``in_networks``, remembered per text. A webhook hears from few addresses
    (TradingView's four, a proxy's); parsing one and testing each network took 3-4 µs a
    delivery with the TradingView allowlist, 8 µs more behind a proxy. At most
    ``MAX_REMEMBERED_ADDRESSES`` answers are kept, then all forgotten at once: addresses a
    sender chose cannot grow it without bound."""

    def __init__(self, networks: tuple[IPNetwork, ...]) -> None:
        self.networks = networks
        self._known: dict[str, bool] = {}

    def __contains__(self, text: object) -> bool:
        if not isinstance(text, str):  # no address (None) is in any network
            return False
        known = self._known.get(text)
        if known is None:
            known = in_networks(text, self.networks)
            if len(self._known) >= MAX_REMEMBERED_ADDRESSES:
                self._known.clear()
            self._known[text] = known
        return known


def client_address(peer: str | None, forwarded_for: str | None,
                   trusted_proxies: tuple[IPNetwork, ...] | AddressSet) -> str | None:
    """The sender's address. ``X-Forwarded-For`` counts only when the socket peer is a trusted
    proxy; then the right-most hop that is not itself a trusted proxy is the client (the
    left-most entries are whatever the sender chose to write)."""
    if not forwarded_for or not in_networks(peer, trusted_proxies):
        return peer
    hops = [hop.strip() for hop in forwarded_for.split(",") if hop.strip()]
    for hop in reversed(hops):
        if not in_networks(hop, trusted_proxies):
            return hop if _address(hop) is not None else None
    return hops[0] if hops else peer


# -- HMAC signatures ----------------------------------------------------------------------------


def sign(secret: str, timestamp: int, raw: bytes) -> str:
    """``v1`` of the router's signature scheme: hex HMAC-SHA256 over ``"{t}.{raw body}"``."""
    message = str(timestamp).encode("ascii") + b"." + raw
    return hmac.new(secret.encode("utf-8"), message, hashlib.sha256).hexdigest()


def signature_header(secret: str, raw: bytes, timestamp: int | None = None) -> str:
    """The header value a sender puts in ``X-Router-Signature`` (for clients and tests)."""
    t = int(time.time()) if timestamp is None else timestamp
    return f"t={t},v1={sign(secret, t, raw)}"


class SignatureVerifier:
    """Checks ``X-Router-Signature: t=<unix>,v1=<hex>[,v1=<hex>]`` against one or two secrets
    (rotation), within a time tolerance, and refuses a signature seen before."""

    def __init__(self, secrets: Iterable[SecretStr], *,
                 tolerance: float = SIGNATURE_TOLERANCE_SECONDS,
                 replay_ttl: float = REPLAY_TTL_SECONDS,
                 clock: Callable[[], float] = time.time) -> None:
        self._secrets = tuple(secrets)
        self._tolerance = tolerance
        # A signature must be remembered at least as long as its timestamp is accepted.
        self._ttl = max(replay_ttl, 2 * tolerance)
        self._clock = clock
        # Signature -> until when it is refused, in the order they came: each is kept the same
        # ``_ttl``, so the first ones are the first to expire (``_forget_expired``).
        self._seen: OrderedDict[str, float] = OrderedDict()
        self._lock = threading.Lock()

    @property
    def enabled(self) -> bool:
        return bool(self._secrets)

    def verify(self, header: str, raw: bytes) -> None:
        """Return quietly, or raise ``Unauthorized`` with a reason safe to log."""
        timestamp, signatures = _parse_signature(header)
        now = self._clock()
        if abs(now - timestamp) > self._tolerance:
            raise Unauthorized(f"signature timestamp outside the {self._tolerance:.0f} s window")
        valid = None
        for secret in self._secrets:
            expected = sign(secret.get_secret_value(), timestamp, raw)
            for candidate in signatures:
                if hmac.compare_digest(expected, candidate):
                    valid = candidate
        if valid is None:
            raise Unauthorized("signature does not match")
        replay_id = hashlib.sha256(f"{timestamp}.{valid}".encode()).hexdigest()
        with self._lock:
            self._forget_expired(now)
            if replay_id in self._seen:
                raise Unauthorized("signature already used (replay)")
            self._seen[replay_id] = now + self._ttl

    def _forget_expired(self, now: float) -> None:
        """Drop the signatures whose time is up: the oldest, at the front, up to the first
        that is still refused. Every signed delivery calls this; scanning all of the last ten
        minutes' signatures instead made each check cost O(signatures seen), 1 ms at 60,000.
        Should the clock step back, a later one may outlive its time a little: refused longer,
        never shorter."""
        seen = self._seen
        while seen:
            key = next(iter(seen))
            if seen[key] > now:
                return
            del seen[key]


_HEX64 = re.compile(r"[0-9a-f]{64}")


def _parse_signature(header: str) -> tuple[int, list[str]]:
    timestamp: int | None = None
    signatures: list[str] = []
    for part in header.split(","):
        key, _, value = part.strip().partition("=")
        if key == "t" and value.isdigit() and len(value) <= 12:
            timestamp = int(value)
        elif key == "v1" and _HEX64.fullmatch(value.strip().lower()):
            signatures.append(value.strip().lower())
    if timestamp is None or not signatures:
        raise Unauthorized("signature header is not t=<unix seconds>,v1=<hex sha256>")
    return timestamp, signatures


# -- logs ---------------------------------------------------------------------------------------

_WEBHOOK_PATH = re.compile(r"^(/webhook/)[^/?#]*")


def redact_path(path: str) -> str:
    """A request path fit for a log: no query string, no route token."""
    path = path.split("?", 1)[0]
    return _WEBHOOK_PATH.sub(r"\1[redacted]", path)


class AccessLogFilter(logging.Filter):
    """For ``uvicorn.access``: its records carry ``(client, method, path, version, status)``;
    the path loses its query string and any route token before it is formatted.

    On an event loop the line is written on the loop's next turn: uvicorn logs a request
    before it writes the answer's first byte, and a burst of webhook acks should not wait for
    a hundred log lines (formatting, redaction, a write each). Nothing is dropped; the line
    comes a moment later, in the same order, redacted then: no handler sees it before."""

    def __init__(self, name: str = "") -> None:
        super().__init__(name)
        # Each logger's ``handle`` by name: ``logging.getLogger`` takes logging's lock, for
        # every line, before the answer is sent (the first pass: 1.7 -> 1.1 µs).
        self._handles: dict[str, Callable[[logging.LogRecord], None]] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "router_deferred", False):  # the second pass, on the next turn
            self._redact(record)
            return True
        import asyncio

        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # no loop (a test, a thread): written now
            self._redact(record)
            return True
        record.router_deferred = True
        handle = self._handles.get(record.name)
        if handle is None:
            handle = self._handles[record.name] = logging.getLogger(record.name).handle
        loop.call_soon(handle, record)
        return False

    @staticmethod
    def _redact(record: logging.LogRecord) -> None:
        args = record.args
        if isinstance(args, tuple) and len(args) >= 3 and isinstance(args[2], str):
            record.args = (*args[:2], redact_path(args[2]), *args[3:])


def scrub(text: str, secrets: Iterable[str]) -> str:
    """``text`` with every secret value replaced (defence in depth for error messages)."""
    for secret in secrets:
        if len(secret) >= 4 and secret in text:
            text = text.replace(secret, "[redacted]")
    return text


class SecretRedactor(logging.Filter):
    """For a log handler: masks every known secret value in the formatted message and in an
    attached traceback. ``secrets`` is read at each record, so it may be filled in later."""

    def __init__(self, secrets: list[str]) -> None:
        super().__init__()
        self._secrets = secrets

    def filter(self, record: logging.LogRecord) -> bool:
        if not self._secrets:
            return True
        # The message, formatted once: kept in place of its template and arguments, so the
        # handler's formatter does not format it a second time.
        record.msg, record.args = scrub(record.getMessage(), self._secrets), None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = scrub(record.exc_text, self._secrets)
        return True
