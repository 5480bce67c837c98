"""The kraken-spot Broker: the core's unified calls mapped to Kraken spot REST."""

from __future__ import annotations

import dataclasses
import logging
import os
from collections.abc import AsyncIterator, Collection, Mapping, Sequence
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, TypeVar

from router_core import (
    AccountKind,
    AmbiguousOutcome,
    Balance,
    Broker,
    BrokerContext,
    CanonicalSymbol,
    Capabilities,
    Fill,
    Instrument,
    Order,
    OrderNotFound,
    OrderResult,
    OrderStatus,
    OrderType,
    Position,
    Side,
    TimeInForce,
    VenueUnavailable,
)

from .client import KrakenSpotClient
from .config import KrakenSpotConfig
from .endpoints import ADD_ORDER_COST, cancel_cost
from .instruments import (
    InstrumentCache,
    PairIndex,
    canonical_asset,
    decimal_or,
    require_online,
)
from .orders import build_add_order, userref_for
from .stream import executions, trades_history_fills

log = logging.getLogger("router_kraken_spot")

VALIDATE_ONLY_REASON = "validate only: nothing placed"
_FINAL = {"closed", "canceled", "expired"}
CHILD_PAGES = 4  # ClosedOrders pages (50 orders, 2 REST points each) read for closes at most
# Orders whose send time and final outcome one broker keeps, the oldest forgotten first: a
# long `serve` would otherwise grow by an entry per order. A forgotten send time only makes
# that order's cancel cost the most (the age is unknown); a forgotten outcome is read again.
REMEMBERED_ORDERS = 10_000
_T = TypeVar("_T")


class KrakenSpotBroker(Broker):
    name = "kraken-spot"
    Config = KrakenSpotConfig
    capabilities = Capabilities(
        order_types=frozenset({
            OrderType.MARKET, OrderType.LIMIT, OrderType.STOP, OrderType.STOP_LIMIT,
            OrderType.TAKE_PROFIT, OrderType.TAKE_PROFIT_LIMIT, OrderType.TRAILING_STOP,
        }),
        time_in_force=frozenset({TimeInForce.GTC, TimeInForce.IOC, TimeInForce.GTD}),
        reduce_only=True,
        post_only=True,
        attached_brackets=True,
        can_short=False,
        net_position=False,
        leverage=False,
        fractional=True,
        fill_stream=True,  # WebSocket v2 executions (stream.py)
    )

    def __init__(self, config: KrakenSpotConfig, context: BrokerContext) -> None:
        if not isinstance(config, KrakenSpotConfig):
            config = KrakenSpotConfig.model_validate(
                config.model_dump() if hasattr(config, "model_dump") else config
            )
        super().__init__(config, context)
        self.config: KrakenSpotConfig = config
        if config.margin:
            # Kraken spot margin: positions opened and closed only by orders with leverage
            self.capabilities = dataclasses.replace(
                type(self).capabilities, can_short=True, net_position=True, leverage=True,
                account_kind=AccountKind.MARGIN,
            )
        if config.stream_url is None:  # REST through a proxy or a fake: fills are looked up
            self.capabilities = dataclasses.replace(self.capabilities, fill_stream=False)
        self.client = KrakenSpotClient(config, context)
        self._pairs = InstrumentCache(self._fetch_pairs, context.clock)
        self._sent_at: dict[str, float] = {}  # client order id -> monotonic send time
        self._final: dict[str, OrderResult] = {}  # finished orders never change: no re-query
        self._userref_file = Path(context.state_dir) / f"kraken-spot-{self.client.key_id}.userref"
        self._userref_ids = self._load_userref_ids()

    # -- lifecycle ----------------------------------------------------------------------------

    async def start(self) -> None:
        await self.client.measure_clock()
        await self._pairs.index()

    async def close(self) -> None:
        await self.client.aclose()

    # -- fills (WebSocket v2 executions; TradesHistory to catch up) -----------------------------

    async def stream_fills(self) -> AsyncIterator[Fill | None]:
        """One connection's fills, with a token fetched for it just before connecting."""
        index = await self._pairs.index()
        token = (await self.client.private("GetWebSocketsToken"))["token"]
        by_userref = {userref_for(cid): cid for cid in self._userref_ids}
        async for item in executions(
            self.config.stream_url or "", str(token), symbol=lambda name: _symbol(index, name),
            userref=by_userref.get, read_timeout=self.config.stream_timeout_seconds,
        ):
            yield item

    async def fills_since(self, since: float) -> Sequence[Fill]:
        index = await self._pairs.index()
        trades: dict[str, Any] = {}
        while True:  # newest first, a page at a time, until every match is read
            page = await self.client.private(
                "TradesHistory", [("start", f"{since:.6f}"), ("ofs", str(len(trades)))])
            batch = page.get("trades") or {}
            trades.update(batch)
            if not batch or len(trades) >= int(page.get("count") or 0):
                break
        return trades_history_fills(trades, symbol=lambda name: _symbol(index, name),
                                    client_ids={})

    async def _fetch_pairs(self) -> Mapping[str, Any]:
        return await self.client.public("AssetPairs")

    # -- instruments --------------------------------------------------------------------------

    async def instruments(self) -> Sequence[Instrument]:
        return list((await self._pairs.index()).instruments.values())

    async def resolve(self, symbol: CanonicalSymbol) -> Instrument:
        return await self._pairs.resolve(symbol)

    async def reference_price(self, instrument: Instrument) -> Decimal | None:
        result = await self.client.public("Ticker", {"pair": instrument.symbol})
        if not isinstance(result, Mapping) or not result:
            return None
        ticker = result.get(instrument.symbol) or next(iter(result.values()))
        try:
            return Decimal(str(ticker["c"][0]))
        except (KeyError, IndexError, TypeError, InvalidOperation):
            return None

    # -- account ------------------------------------------------------------------------------

    async def balance(self, currency: str | None = None) -> Balance:
        code = canonical_asset(currency or "USD")
        asset_id = (await self._pairs.index()).asset_ids.get(code, code)
        balances = await self.client.private("BalanceEx")
        entry = _balance_entry(balances, asset_id, code)
        held = (decimal_or(entry.get("balance")) + decimal_or(entry.get("credit"))
                - decimal_or(entry.get("credit_used")))
        available = held - decimal_or(entry.get("hold_trade"))
        equity = held
        if self.config.margin:
            trade = await self.client.private("TradeBalance", [("asset", asset_id)])
            equity = decimal_or(trade.get("e"), held)
        return Balance(currency=code, equity=equity, available=available)

    async def position(self, instrument: Instrument) -> Position:
        if self.config.margin:
            return await self._margin_position(instrument)
        asset_id = str(instrument.venue.get("base_asset") or instrument.base)
        balances = await self.client.private("BalanceEx")
        entry = _balance_entry(balances, asset_id, instrument.base)
        quantity = (decimal_or(entry.get("balance")) + decimal_or(entry.get("credit"))
                    - decimal_or(entry.get("credit_used")) - decimal_or(entry.get("hold_trade")))
        return Position(symbol=instrument.symbol, quantity=quantity)

    async def _margin_position(self, instrument: Instrument) -> Position:
        positions = await self.client.private("OpenPositions")
        names = {instrument.symbol, str(instrument.venue.get("altname", ""))}
        quantity = Decimal(0)
        cost = Decimal(0)
        volume = Decimal(0)
        margin = Decimal(0)
        sides = set()
        for item in (positions or {}).values():
            if item.get("pair") not in names:
                continue
            open_volume = decimal_or(item.get("vol")) - decimal_or(item.get("vol_closed"))
            sign = 1 if item.get("type") == "buy" else -1
            quantity += sign * open_volume
            cost += decimal_or(item.get("cost"))
            volume += decimal_or(item.get("vol"))
            margin += decimal_or(item.get("margin"))
            sides.add(sign)
        average = cost / volume if volume and len(sides) == 1 else None
        # The position's leverage (cost over the margin it ties up, a whole number on Kraken):
        # a margin position is closed by an opposite order carrying it.
        leverage = (cost / margin).to_integral_value() if margin > 0 and len(sides) == 1 else None
        return Position(symbol=instrument.symbol, quantity=quantity, average_price=average,
                        leverage=leverage)

    # -- orders -------------------------------------------------------------------------------

    async def submit_order(self, order: Order) -> OrderResult:
        require_online(order.instrument)
        request = build_add_order(
            order, margin=self.config.margin, validate_only=self.config.validate_only
        )
        cid = order.client_order_id
        if request.uses_userref and not self.config.validate_only:
            self._remember_userref(cid)
        _remember(self._sent_at, cid, self.context.clock.monotonic())
        result = await self.client.private(
            "AddOrder", request.fields, pair=request.pair, trading_cost=ADD_ORDER_COST,
            deadline=True,
        )
        descr = _description(result)
        txids = result.get("txid") if isinstance(result, Mapping) else None
        if self.config.validate_only:
            return OrderResult(
                status=OrderStatus.ACCEPTED, client_order_id=cid, quantity=order.quantity,
                price=order.limit_price,
                reason=f"{VALIDATE_ONLY_REASON} (Kraken checked: {descr or 'ok'})",
            )
        if not txids:
            raise AmbiguousOutcome(
                "Kraken answered AddOrder without a txid; the order may exist", from_venue=True
            )
        return OrderResult(
            status=OrderStatus.ACCEPTED, client_order_id=cid, venue_order_id=str(txids[0]),
            quantity=order.quantity, price=order.limit_price, reason=descr,
        )

    async def cancel_order(self, client_order_id: str, instrument: Instrument) -> OrderResult:
        sent = self._sent_at.get(client_order_id)
        age = None if sent is None else self.context.clock.monotonic() - sent
        if client_order_id in self._userref_ids:
            # sent with userref (conditional close): cancel by its txid, never by the group
            found = await self.find_order(client_order_id, instrument)
            if found is None or found.venue_order_id is None:
                raise OrderNotFound(f"no Kraken order for client order id {client_order_id}",
                                    from_venue=True)
            params = [("txid", found.venue_order_id)]
        else:
            params = [("cl_ord_id", client_order_id)]
        result = await self.client.private(
            "CancelOrder", params, pair=instrument.symbol, trading_cost=cancel_cost(age)
        )
        count = int(result.get("count", 0)) if isinstance(result, Mapping) else 0
        pending = bool(result.get("pending")) if isinstance(result, Mapping) else False
        if count == 0 and not pending:
            raise OrderNotFound(f"no open Kraken order for client order id {client_order_id}",
                                from_venue=True)
        self._final.pop(client_order_id, None)
        return OrderResult(
            status=OrderStatus.CANCELED, client_order_id=client_order_id,
            reason="cancel pending" if pending else "canceled",
        )

    async def open_orders(self, instrument: Instrument) -> Sequence[OrderResult]:
        result = await self.client.private("OpenOrders")
        orders = result.get("open") if isinstance(result, Mapping) else None
        names = {instrument.symbol, str(instrument.venue.get("altname", instrument.symbol))}
        found = []
        for txid, data in (orders or {}).items():
            if not isinstance(data, Mapping) or (data.get("descr") or {}).get("pair") not in names:
                continue
            outcome = _to_result(str(data.get("cl_ord_id") or ""), str(txid), data)
            parent = data.get("refid")  # the order that created this one (conditional close)
            if parent:
                outcome = dataclasses.replace(outcome, parent_venue_order_id=str(parent))
            found.append(outcome)
        return found

    async def cancel_venue_order(self, venue_order_id: str, instrument: Instrument) -> OrderResult:
        result = await self.client.private(
            "CancelOrder", [("txid", venue_order_id)], pair=instrument.symbol,
            trading_cost=cancel_cost(None),
        )
        count = int(result.get("count", 0)) if isinstance(result, Mapping) else 0
        pending = bool(result.get("pending")) if isinstance(result, Mapping) else False
        if count == 0 and not pending:
            raise OrderNotFound(f"no open Kraken order {venue_order_id}", from_venue=True)
        return OrderResult(status=OrderStatus.CANCELED, client_order_id="",
                           venue_order_id=venue_order_id,
                           reason="cancel pending" if pending else "canceled")

    async def child_orders(
        self, parent_venue_order_ids: Collection[str], instrument: Instrument
    ) -> Sequence[tuple[Side, OrderResult]]:
        """The conditional closes Kraken placed for the given orders (``refid`` = the
        parent's txid), open or finished, on the instrument's pair.

        Neither listing filters by ``refid``: OpenOrders (1 REST point) is read whole, then
        ClosedOrders (2 points a page of 50, the most recent first) page after page, until
        each parent has a close found, or the listing has gone past the time the parent was
        opened (a close is opened after its parent, and closes after it opened); at most
        ``CHILD_PAGES`` pages. A parent whose close rests costs the OpenOrders read only.
        """
        parents = {str(txid) for txid in parent_venue_order_ids if txid}
        if not parents:
            return []
        names = {instrument.symbol, str(instrument.venue.get("altname", instrument.symbol))}
        found: dict[str, tuple[Side, OrderResult]] = {}
        opened: dict[str, float] = {}  # parent txid -> opentm, once seen

        def read(orders: Any) -> float | None:
            """Collect the closes among ``orders``; returns the earliest close time seen."""
            earliest = None
            for txid, data in (orders or {}).items():
                if not isinstance(data, Mapping):
                    continue
                closed_at = _time(data.get("closetm")) or _time(data.get("opentm"))
                if closed_at is not None:
                    earliest = closed_at if earliest is None else min(earliest, closed_at)
                if str(txid) in parents and _time(data.get("opentm")) is not None:
                    opened[str(txid)] = _time(data.get("opentm")) or 0.0
                child = _child_order(str(txid), data, parents, names)
                if child is not None:
                    found[str(txid)] = child  # a later listing is the newer word
            return earliest

        def settled(reached: float | None) -> bool:
            done = {r.parent_venue_order_id for _, r in found.values()}
            return all(txid in done or (txid in opened and reached is not None
                                        and reached < opened[txid]) for txid in parents)

        result = await self.client.private("OpenOrders")
        read(result.get("open") if isinstance(result, Mapping) else None)
        reached: float | None = None
        offset = 0
        for _ in range(CHILD_PAGES):
            if settled(reached):
                break
            result = await self.client.private("ClosedOrders", [("ofs", str(offset))])
            closed = result.get("closed") if isinstance(result, Mapping) else None
            earliest = read(closed)
            if earliest is not None:
                reached = earliest if reached is None else min(reached, earliest)
            offset += len(closed or {})
            total = result.get("count") if isinstance(result, Mapping) else None
            if not closed or not isinstance(total, int) or offset >= total:
                break  # the whole history was read
        else:
            if not settled(reached):
                log.warning("kraken-spot: the conditional closes of %s were looked for in the "
                            "last %d closed orders only", ", ".join(sorted(parents)), offset)
        return list(found.values())

    async def find_order(self, client_order_id: str, instrument: Instrument) -> OrderResult | None:
        """OpenOrders, then ClosedOrders, filtered by the client order id (3 REST points).

        Orders sent with a conditional close carry a userref instead (see the README); those
        are filtered by userref and the pair. A finished order is remembered, so repeated
        lookups of it cost nothing.
        """
        cached = self._final.get(client_order_id)
        if cached is not None:
            return cached
        if client_order_id in self._userref_ids:
            field, value = "userref", str(userref_for(client_order_id))
        else:
            field, value = "cl_ord_id", client_order_id
        for method, section in (("OpenOrders", "open"), ("ClosedOrders", "closed")):
            result = await self.client.private(method, [(field, value)])
            orders = result.get(section) if isinstance(result, Mapping) else None
            match = _pick(orders or {}, field, value, client_order_id, instrument)
            if match is not None:
                txid, data = match
                outcome = _to_result(client_order_id, txid, data)
                if data.get("status") in _FINAL:
                    _remember(self._final, client_order_id, outcome)
                return outcome
        return None

    # -- userref bookkeeping (orders with a conditional close) ---------------------------------

    def _load_userref_ids(self) -> set[str]:
        try:
            return set(self._userref_file.read_text().split())
        except FileNotFoundError:
            return set()

    def _remember_userref(self, client_order_id: str) -> None:
        # Written and fsynced before the order is sent, so a restarted router looks the order
        # up by the right field.
        if client_order_id in self._userref_ids:
            return
        self._userref_file.parent.mkdir(parents=True, exist_ok=True)
        with open(self._userref_file, "a") as fh:
            fh.write(client_order_id + "\n")
            fh.flush()
            os.fsync(fh.fileno())
        self._userref_ids.add(client_order_id)


def _symbol(index: PairIndex, name: str) -> str:
    """Instrument.symbol (the pair's key) for any of Kraken's spellings of a pair."""
    instrument = index.by_name(name)
    return instrument.symbol if instrument is not None else name


def _child_order(txid: str, data: Mapping[str, Any], parents: set[str],
                 names: set[str]) -> tuple[Side, OrderResult] | None:
    """The order as a conditional close of one of ``parents`` on the pair, or ``None``."""
    parent = data.get("refid")
    descr = data.get("descr") or {}
    side = descr.get("type")
    if not parent or str(parent) not in parents or descr.get("pair") not in names or (
            side not in ("buy", "sell")):
        return None
    outcome = _to_result(str(data.get("cl_ord_id") or ""), txid, data)
    return Side(side), dataclasses.replace(outcome, parent_venue_order_id=str(parent))


def _time(value: Any) -> float | None:
    try:
        moment = float(value)
    except (TypeError, ValueError):
        return None
    return moment if moment > 0 else None


def _balance_entry(balances: Any, asset_id: str, code: str) -> Mapping[str, Any]:
    if not isinstance(balances, Mapping):
        raise VenueUnavailable("Kraken BalanceEx answered without a balance map",
                               from_venue=True)
    for key in (asset_id, code):
        entry = balances.get(key)
        if isinstance(entry, Mapping):
            return entry
    return {}


def _description(result: Any) -> str | None:
    if isinstance(result, Mapping) and isinstance(result.get("descr"), Mapping):
        order = result["descr"].get("order")
        close = result["descr"].get("close")
        return f"{order}; {close}" if order and close else order
    return None


def _pick(orders: Mapping[str, Any], field: str, value: str, client_order_id: str,
          instrument: Instrument) -> tuple[str, Mapping[str, Any]] | None:
    altname = str(instrument.venue.get("altname", instrument.symbol))
    matches = []
    for txid, data in orders.items():
        if not isinstance(data, Mapping):
            continue
        # An order another order created (``refid``: a conditional close) is never the one
        # sent; it may carry its parent's userref, so a userref lookup would see both.
        if data.get("refid"):
            continue
        # Kraken echoes cl_ord_id; an order without it is trusted only as the filter's sole
        # answer, so an ignored filter can never pass someone else's order off as ours
        echoed = data.get("cl_ord_id")
        if field == "cl_ord_id" and echoed != client_order_id and (
                echoed is not None or len(orders) != 1):
            continue
        if field == "userref":
            if str(data.get("userref")) != value:
                continue
            pair = (data.get("descr") or {}).get("pair")
            if pair not in (None, altname, instrument.symbol):
                continue
        matches.append((float(data.get("opentm") or 0), txid, data))
    if not matches:
        return None
    if len(matches) > 1:
        log.warning("kraken-spot: %d orders carry client order id %s; reporting the first",
                    len(matches), client_order_id)
    matches.sort(key=lambda item: item[0])
    return matches[0][1], matches[0][2]


def _to_result(client_order_id: str, txid: str, data: Mapping[str, Any]) -> OrderResult:
    status = str(data.get("status", ""))
    volume = decimal_or(data.get("vol"))
    executed = decimal_or(data.get("vol_exec"))
    average = decimal_or(data.get("price")) or None
    reason = data.get("reason") or None
    if status in ("pending", "open"):
        outcome = OrderStatus.PARTIALLY_FILLED if executed > 0 else OrderStatus.ACCEPTED
    elif status == "closed" and volume > 0 and executed >= volume:
        outcome = OrderStatus.FILLED
    elif executed > 0:
        outcome = OrderStatus.PARTIALLY_FILLED
        reason = f"{status} after a partial fill" + (f": {reason}" if reason else "")
    else:
        outcome = OrderStatus.CANCELED
        reason = status + (f": {reason}" if reason else "")
    limit = (data.get("descr") or {}).get("price")
    return OrderResult(
        status=outcome, client_order_id=client_order_id, venue_order_id=txid,
        quantity=volume or None, price=decimal_or(limit) or None, filled_quantity=executed,
        average_price=average if executed > 0 else None, reason=reason,
    )


def _remember(table: dict[str, _T], key: str, value: _T) -> None:
    """Keep ``value`` under ``key``, forgetting the oldest entry past ``REMEMBERED_ORDERS``."""
    table[key] = value
    if len(table) > REMEMBERED_ORDERS:
        del table[next(iter(table))]
