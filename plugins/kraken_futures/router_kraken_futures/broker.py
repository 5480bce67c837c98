"""The Kraken Futures broker: core calls in, venue calls out (unified <-> venue mapping)."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator, Mapping, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from router_core import (
    AmbiguousOutcome,
    Balance,
    Broker,
    BrokerContext,
    BrokerError,
    CanonicalSymbol,
    Capabilities,
    ConfigError,
    Fill,
    Instrument,
    InvalidOrder,
    LegPurpose,
    Order,
    OrderResult,
    OrderStatus,
    OrderType,
    Position,
    TimeInForce,
    UnknownSymbol,
    VenueUnavailable,
    format_decimal,
    to_decimal,
)

from .client import KrakenFuturesClient, parse_json
from .config import API_PATH, KrakenFuturesConfig
from .instruments import InstrumentTable
from .orders import (
    bracket_order,
    cancel_result,
    deny,
    fills_result,
    lookup_result,
    send_result,
    sendorder_params,
)
from .signing import InvalidSecret, decode_secret
from .stream import fill_feed, rest_fills

INSTRUMENT_REFRESH_SECONDS = 60.0
FILLS_PAGE = 100  # REST fills answers at most this many at a time
MULTI_COLLATERAL_PREFIXES = ("PF_", "FF_")
DEMO_HINT = (
    "Kraken's demo environment (demo-futures.kraken.com) is reported retired: its API paths "
    'redirect to a web page. Use environment = "live" with a live key and small sizes, or set '
    "base_url to a host that serves the API (for tests: python -m router_kraken_futures.fake)."
)


class KrakenFuturesBroker(Broker):
    """A Kraken Futures account: PF_/PI_ perpetuals and FF_/FI_ dated contracts."""

    name = "kraken-futures"
    Config = KrakenFuturesConfig
    capabilities = Capabilities(
        order_types=frozenset(OrderType),
        time_in_force=frozenset({TimeInForce.GTC, TimeInForce.IOC, TimeInForce.FOK}),
        reduce_only=True,
        post_only=True,
        attached_brackets=False,
        separate_brackets=True,
        can_short=True,
        net_position=True,
        single_order_flip=True,
        leverage=True,
        fractional=True,
        cancel=True,
        find_order=True,
        fill_stream=True,  # WebSocket v1 fills + open_orders_verbose (stream.py)
    )

    config: KrakenFuturesConfig

    def __init__(self, config: KrakenFuturesConfig, context: BrokerContext) -> None:
        super().__init__(config, context)
        # Kraken's demo environment trades play money: such an account is not live. Only the
        # host decides (environment = "demo", or base_url on the demo host), never the name.
        self.simulated = config.is_demo
        if config.stream_url is None:  # REST through a proxy or a fake: fills are looked up
            self.capabilities = dataclasses.replace(self.capabilities, fill_stream=False)
        self._client: KrakenFuturesClient | None = None
        self._table: InstrumentTable | None = None
        self._loaded_at: float | None = None
        self._load_lock = asyncio.Lock()
        self._leverage: dict[str, Decimal] = {}

    # -- fills (WebSocket v1 challenge, fills; REST fills to catch up) ---------------------

    async def stream_fills(self) -> AsyncIterator[Fill | None]:
        """One connection's fills, its challenge signed with this account's key."""
        api_key, sign = self._http(private=True).challenge_signer()
        async for item in fill_feed(self.config.stream_url or "", api_key, sign,
                                    read_timeout=self.config.stream_timeout_seconds):
            yield item

    async def fills_since(self, since: float) -> Sequence[Fill]:
        client = self._http(private=True)
        seen: dict[str, Mapping[str, Any]] = {}
        params: dict[str, str] | None = None
        while True:  # Kraken answers the newest fills, 100 at a time, before lastFillTime
            page = (await client.private("GET", "fills", params, side_effect=False)).get(
                "fills") or []
            fresh = [f for f in page if str(f.get("fill_id")) not in seen]
            seen.update((str(f.get("fill_id")), f) for f in fresh)
            oldest = min((str(f.get("fillTime")) for f in fresh), default=None)
            if len(page) < FILLS_PAGE or not fresh or oldest is None or (
                    datetime.fromisoformat(oldest.replace("Z", "+00:00")).timestamp() < since):
                break
            params = {"lastFillTime": oldest}
        return rest_fills(seen.values(), since)

    # -- set-up -----------------------------------------------------------------------------

    def _http(self, *, private: bool = False) -> KrakenFuturesClient:
        if self._client is None:
            self._client = KrakenFuturesClient(
                host=self.config.host,
                limiters=self.context.limiters,
                clock=self.context.clock,
                transport=self.context.transport,
                timeout=self.config.timeout_seconds,
            )
        if private and not self._client.has_credentials:
            key = self.context.secret(self.config.api_key_env, key="api_key_env")
            secret = self.context.secret(self.config.api_secret_env, key="api_secret_env")
            try:
                raw = decode_secret(secret.get_secret_value())
            except InvalidSecret:
                raise ConfigError(
                    f"the value of {self.config.api_secret_env} is not valid base64 "
                    "(a Kraken Futures API secret is)",
                    key=f"accounts.{self.account}.api_secret_env",
                ) from None
            self._client.set_credentials(
                key, raw, self.context.nonces.for_key(key.get_secret_value())
            )
        return self._client

    async def start(self) -> None:
        """Check the host serves the API (and load instruments), then load the credentials."""
        await self.check_host()
        self._http(private=True)

    async def check_host(self) -> None:
        """Fail plainly when the configured host does not answer like the Kraken Futures API.

        A redirect or an HTML page (what the retired demo host serves) is a ConfigError; a host
        that cannot be reached or answers 5xx is VenueUnavailable.
        """
        client = self._http()
        path = f"{API_PATH}/instruments"
        where = f"{client.host}{path}"
        setting = "base_url" if self.config.base_url else "environment"
        demo = self.config.base_url is None and self.config.environment == "demo"
        hint = f" {DEMO_HINT}" if demo or "demo-futures" in client.host else ""
        try:
            response = await client.raw_get("instruments")
        except VenueUnavailable as exc:
            raise VenueUnavailable(f"{exc.message}.{hint}") from None
        if 300 <= response.status < 400:
            location = response.headers.get("location", "somewhere else")
            raise ConfigError(
                f"{where} answered with a redirect (HTTP {response.status} to {location}) "
                f"instead of the Kraken Futures API.{hint}",
                key=f"accounts.{self.account}.{setting}",
            )
        if response.status >= 500:
            raise VenueUnavailable(
                f"{where} answered HTTP {response.status}; Kraken Futures is unavailable"
            )
        try:
            payload = parse_json(response.body)
        except ValueError:
            payload = None
        if not isinstance(payload, dict) or payload.get("result") != "success":
            content_type = response.headers.get("content-type", "")
            html = "html" in content_type or response.body.lstrip()[:1] == b"<"
            what = "an HTML page" if html else f"HTTP {response.status} without Kraken JSON"
            raise ConfigError(
                f"{where} answered with {what} instead of the Kraken Futures API.{hint}",
                key=f"accounts.{self.account}.{setting}",
            )
        client.note_server_time(payload.get("serverTime"))
        self._install(payload)

    def _install(self, payload: Mapping[str, Any]) -> None:
        try:
            self._table = InstrumentTable.from_payload(payload)
        except ValueError as exc:
            raise VenueUnavailable(f"instruments: {exc}") from None
        self._loaded_at = self.context.clock.monotonic()

    async def _instruments(self, *, refresh: bool = False) -> InstrumentTable:
        async with self._load_lock:
            if self._table is None or refresh:
                self._install(await self._http().public("instruments"))
            assert self._table is not None
            return self._table

    async def close(self) -> None:
        if self._client is not None:
            await self._client.close()
            self._client = None

    # -- instruments ------------------------------------------------------------------------

    async def instruments(self) -> Sequence[Instrument]:
        return (await self._instruments()).all()

    async def resolve(self, symbol: CanonicalSymbol) -> Instrument:
        table = await self._instruments()
        today = datetime.fromtimestamp(self.context.clock.time(), UTC).date()
        try:
            return table.resolve(symbol, self.config.default_contract, today=today)
        except UnknownSymbol:
            # A contract listed since the last load: reload, but at most once a minute.
            loaded = self._loaded_at or 0.0
            if self.context.clock.monotonic() - loaded < INSTRUMENT_REFRESH_SECONDS:
                raise
            table = await self._instruments(refresh=True)
            return table.resolve(symbol, self.config.default_contract, today=today)

    async def reference_price(self, instrument: Instrument) -> Decimal | None:
        payload = await self._http().public("tickers")
        for row in payload.get("tickers") or []:
            if isinstance(row, Mapping) and str(row.get("symbol", "")).upper() == instrument.symbol:
                value = row.get("markPrice") or row.get("last")
                return None if value is None else to_decimal(value, field="markPrice")
        return None

    # -- account ----------------------------------------------------------------------------

    async def balance(self, currency: str | None = None) -> Balance:
        """USD (default): the flex wallet's portfolioValue / availableMargin. A coin (``BTC``)
        for inverse contracts: that coin's inverse margin account (pv / af) when there is one,
        else the coin's cash balance."""
        payload = await self._http(private=True).private("GET", "accounts", side_effect=False)
        accounts = payload.get("accounts")
        if not isinstance(accounts, Mapping):
            raise VenueUnavailable("accounts: the answer has no accounts map")
        wanted = (currency or "USD").upper()
        if wanted == "USD":
            flex = accounts.get("flex")
            if isinstance(flex, Mapping) and "availableMargin" in flex:
                return Balance(
                    currency="USD",
                    equity=to_decimal(flex.get("portfolioValue", 0), field="portfolioValue"),
                    available=to_decimal(flex["availableMargin"], field="availableMargin"),
                )
        venue_code = {"BTC": "xbt", "DOGE": "xdg"}.get(wanted, wanted.lower())
        margin = accounts.get(f"fi_{venue_code}usd")
        if isinstance(margin, Mapping) and isinstance(margin.get("auxiliary"), Mapping):
            aux = margin["auxiliary"]
            return Balance(
                currency=wanted,
                equity=to_decimal(aux.get("pv", 0), field="pv"),
                available=to_decimal(aux.get("af", 0), field="af"),
            )
        cash = accounts.get("cash")
        balances = cash.get("balances") if isinstance(cash, Mapping) else None
        if isinstance(balances, Mapping):
            amount = to_decimal(balances.get(venue_code, 0), field=f"cash.{venue_code}")
            return Balance(currency=wanted, equity=amount, available=amount)
        raise BrokerError(f"accounts: no {wanted} balance on this Kraken Futures account")

    async def position(self, instrument: Instrument) -> Position:
        payload = await self._http(private=True).private(
            "GET", "openpositions", side_effect=False
        )
        rows = payload.get("openPositions")
        if not isinstance(rows, list):
            # A degraded answer must never read as flat: the reverse logic would double up.
            raise VenueUnavailable("openpositions: the answer has no openPositions list")
        quantity = Decimal(0)
        price: Decimal | None = None
        for row in rows:
            if not isinstance(row, Mapping) or str(row.get("symbol", "")).upper() != (
                instrument.symbol
            ):
                continue
            size = abs(to_decimal(row.get("size", 0), field="size"))
            quantity += -size if row.get("side") == "short" else size
            if row.get("price") is not None:
                price = to_decimal(row["price"], field="price")
        return Position(symbol=instrument.symbol, quantity=quantity, average_price=price)

    # -- orders -----------------------------------------------------------------------------

    async def submit_order(self, order: Order) -> OrderResult:
        params = sendorder_params(order, process_before=None)  # denials before any call
        brackets = self._brackets(order)
        for child in brackets:
            sendorder_params(child, process_before=None)
        if order.leverage is not None:
            await self._apply_leverage(order)
        result = await self._send(order, params)
        if brackets:
            result = await self._place_brackets(result, brackets)
        return result

    async def place_brackets(self, order: Order, entry: OrderResult) -> OrderResult:
        """The brackets of an entry the core found by lookup after its answer was lost."""
        return await self._place_brackets(entry, self._brackets(order))

    def bracket_order_ids(self, order: Order) -> Sequence[tuple[LegPurpose, str]]:
        """The separate stop loss and take profit this broker places for ``order``."""
        return [(bracket.purpose, bracket.client_order_id) for bracket in self._brackets(order)]

    def _brackets(self, order: Order) -> list[Order]:
        return [
            bracket_order(order, bracket, stop_loss=stop_loss)
            for bracket, stop_loss in ((order.stop_loss, True), (order.take_profit, False))
            if bracket is not None
        ]

    async def _send(self, order: Order, params: dict[str, str]) -> OrderResult:
        payload = await self._http(private=True).private(
            "POST", "sendorder", params, side_effect=True,
            process_before=self.config.process_before_seconds,
        )
        try:
            return send_result(order, payload)
        except InvalidOrder as exc:
            if exc.venue_code != "clientOrderIdAlreadyExist":
                raise
            # The id is ours and deterministic: the order is already there (a resend after a
            # lost answer). Report that order instead of a rejection.
            found = await self.find_order(order.client_order_id, order.instrument)
            if found is None:
                raise
            return dataclasses.replace(
                found, reason=_join(found.reason, "already at Kraken under this client order id")
            )

    async def _place_brackets(self, entry: OrderResult, brackets: list[Order]) -> OrderResult:
        notes: list[str] = []
        if not entry.status.is_success:
            names = ", ".join(_leg_name(child) for child in brackets)
            notes.append(f"{names} not placed: the entry is {entry.status.value}")
        else:
            for child in brackets:
                label, cid, how = _leg_name(child), child.client_order_id, ""
                if child.order_type is OrderType.LIMIT and entry.status is not OrderStatus.FILLED:
                    # A reduce-only limit is refused while there is no position to reduce; a
                    # take_profit trigger at the same price waits for the entry to fill.
                    child = dataclasses.replace(
                        child, order_type=OrderType.TAKE_PROFIT_LIMIT, stop_price=child.limit_price
                    )
                    how = ", as a take_profit trigger: the entry has not filled yet"
                try:
                    params = sendorder_params(child, process_before=None)
                    outcome = await self._send(child, params)
                    notes.append(f"{label} placed (cliOrdId {cid}, {outcome.status.value}{how})")
                except AmbiguousOutcome:
                    notes.append(
                        f"{label} outcome unknown (cliOrdId {cid}): look it up before resending"
                    )
                except BrokerError as exc:
                    notes.append(f"{label} NOT placed (cliOrdId {cid}): {exc.message}")
        return dataclasses.replace(entry, reason=_join(entry.reason, *notes))

    async def _apply_leverage(self, order: Order) -> None:
        inst, leverage = order.instrument, order.leverage
        assert leverage is not None
        if not inst.symbol.startswith(MULTI_COLLATERAL_PREFIXES):
            raise deny(
                f"leverage: Kraken sets a leverage cap only on multi-collateral (PF_/FF_) "
                f"contracts; on {inst.symbol} leverage follows from the margin posted"
            )
        if leverage <= 0:
            raise deny(f"leverage: must be positive, got {format_decimal(leverage)}")
        if inst.max_leverage is not None and leverage > inst.max_leverage:
            raise deny(
                f"leverage: {format_decimal(leverage)}x exceeds the maximum "
                f"{format_decimal(inst.max_leverage)}x of {inst.symbol}"
            )
        if self._leverage.get(inst.symbol) == leverage:
            return
        # Setting a cap twice is harmless, so a lost answer here is not an ambiguous order.
        await self._http(private=True).private(
            "PUT", "leveragepreferences",
            {"symbol": inst.symbol, "maxLeverage": format_decimal(leverage)},
            side_effect=False,
        )
        self._leverage[inst.symbol] = leverage

    async def cancel_order(self, client_order_id: str, instrument: Instrument) -> OrderResult:
        payload = await self._http(private=True).private(
            "POST", "cancelorder", {"cliOrdId": client_order_id}, side_effect=True
        )
        return cancel_result(client_order_id, payload)

    async def open_orders(self, instrument: Instrument) -> Sequence[OrderResult]:
        payload = await self._http(private=True).private("GET", "openorders", side_effect=False)
        rows = payload.get("openOrders")
        if not isinstance(rows, list):
            raise VenueUnavailable("openorders: the answer has no openOrders list")
        return [
            OrderResult(
                OrderStatus.ACCEPTED,
                str(row.get("cliOrdId") or ""),
                str(row.get("order_id")),
                quantity=to_decimal(row.get("unfilledSize", 0), field="unfilledSize"),
                price=to_decimal(row["limitPrice"], field="limitPrice")
                if row.get("limitPrice") is not None else None,
            )
            for row in rows
            if isinstance(row, Mapping) and row.get("order_id")
            and str(row.get("symbol", "")).upper() == instrument.symbol
        ]

    async def cancel_venue_order(self, venue_order_id: str, instrument: Instrument) -> OrderResult:
        payload = await self._http(private=True).private(
            "POST", "cancelorder", {"order_id": venue_order_id}, side_effect=True
        )
        return cancel_result("", payload)

    async def find_order(self, client_order_id: str, instrument: Instrument) -> OrderResult | None:
        """``orders/status`` by cliOrdId (open orders and those closed in the last seconds),
        then recent ``fills``. ``None`` only when both answered and neither knows the id."""
        client = self._http(private=True)
        payload = await client.private(
            "POST", "orders/status", {"cliOrdIds": client_order_id}, side_effect=False
        )
        entries = payload.get("orders")
        if not isinstance(entries, list):
            raise VenueUnavailable("orders/status: the answer has no orders list")
        for entry in entries:
            order = entry.get("order") if isinstance(entry, Mapping) else None
            if isinstance(order, Mapping) and order.get("cliOrdId") == client_order_id:
                return lookup_result(client_order_id, entry)
        fills = (await client.private("GET", "fills", side_effect=False)).get("fills")
        if not isinstance(fills, list):
            raise VenueUnavailable("fills: the answer has no fills list")
        return fills_result(client_order_id, [f for f in fills if isinstance(f, Mapping)])


def _leg_name(order: Order) -> str:
    return order.purpose.value.replace("_", " ")


def _join(*parts: str | None) -> str | None:
    return "; ".join(p for p in parts if p) or None
