"""The fake venue's state and matching: pairs, prices, balances, orders, margin positions.

``FakeVenue`` answers Kraken's endpoints as plain method calls (``_ep_<Method>(args)``) and
raises ``KrakenAnswer`` with Kraken's error string where Kraken would refuse: tick, lot
decimals, ordermin, costmin, the deadline window, funds, cl_ord_id rules. The wire (signatures,
nonces, rate counters, faults, ASGI) is ``app.FakeKraken``.
"""

from __future__ import annotations

import base64
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation
from email.utils import formatdate
from typing import Any

from router_core import Clock, SystemClock

from ..fake_data import DEFAULT_BALANCES, DEFAULT_PRICES, default_pairs

ORDER_TYPES = {
    "market", "limit", "iceberg", "stop-loss", "take-profit", "stop-loss-limit",
    "take-profit-limit", "trailing-stop", "trailing-stop-limit", "settle-position",
}
_LIMIT = {"limit", "iceberg"}
_PRICE2 = {"stop-loss-limit", "take-profit-limit", "trailing-stop-limit"}
_OFLAGS = {"post", "fcib", "fciq", "nompp", "viqc"}
DEADLINE_MIN_SECONDS = 0.5
DEADLINE_MAX_SECONDS = 60.0
CLOSED_PAGE = 50  # ClosedOrders answers this many orders at a time


class KrakenAnswer(Exception):
    """An error the fake answers with, as Kraken would."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code



@dataclass
class _Account:
    balances: dict[str, Decimal]
    held: dict[str, Decimal] = field(default_factory=dict)
    positions: dict[str, dict[str, Any]] = field(default_factory=dict)



class FakeVenue:
    """Kraken's engine and account state, without the wire."""

    def __init__(
        self,
        *,
        clock: Clock | None = None,
        pairs: Mapping[str, Mapping[str, Any]] | None = None,
        prices: Mapping[str, str] | None = None,
        balances: Mapping[str, str] | None = None,
    ) -> None:
        self.clock: Clock = clock or SystemClock()
        self.pairs: dict[str, dict[str, Any]] = {k: dict(v) for k, v in
                                                 (pairs or default_pairs()).items()}
        self.prices = {k: Decimal(v) for k, v in (prices or DEFAULT_PRICES).items()}
        self.account = _Account({k: Decimal(v) for k, v in
                                 (balances or DEFAULT_BALANCES).items()})
        self._hide_next: float = 0.0
        self._hidden_until: dict[str, float] = {}
        self.orders: dict[str, dict[str, Any]] = {}  # txid -> Kraken order object
        # cl_ord_id -> txid of the last order placed with it, so the duplicate check does not
        # scan every order ever placed (its status is read from ``orders`` at check time).
        self._by_cl_ord_id: dict[str, str] = {}
        self.deadline_margins: list[float] = []  # deadline minus fake "now", per AddOrder
        # Executions, for TradesHistory and the WebSocket ``executions`` channel (stream.py):
        # trade txid -> Kraken trade object; listeners hear (order, trade) as each happens.
        self.trades: dict[str, dict[str, Any]] = {}
        self.fill_listeners: list[Callable[[dict[str, Any], dict[str, Any]], None]] = []
        # GetWebSocketsToken: token -> the fake time it must be used by (Kraken: 15 min)
        self.ws_tokens: dict[str, float] = {}
        self.ws_token_seconds = 900.0
        self.fee_rate = Decimal(0)  # fee per unit of cost of each execution (tests set it)

    def placed(self) -> list[dict[str, Any]]:
        """Orders that exist at the fake (placed, whatever their state now)."""
        return list(self.orders.values())

    # -- steering -----------------------------------------------------------------------------

    def hide_next_order(self, seconds: float) -> None:
        """The next placed order stays invisible to OpenOrders/ClosedOrders for ``seconds``."""
        self._hide_next = seconds

    def set_price(self, pair: str, price: str | Decimal) -> None:
        self.prices[self._pair_key(pair)] = Decimal(str(price))

    def move_price(self, pair: str, price: str | Decimal) -> list[str]:
        """Set the last price and execute the resting limit orders it reaches, at their limit
        (tests: "the market came to the order"). Returns their txids."""
        key = self._pair_key(pair)
        self.prices[key] = last = Decimal(str(price))
        reached = [txid for txid, order in self.orders.items()
                   if order["_pair"] == key and order["status"] == "open"
                   and order["descr"]["ordertype"] in _LIMIT
                   and _reaches(order["descr"]["type"], Decimal(order["descr"]["price"]), last)]
        for txid in reached:
            self.fill(txid, self.orders[txid]["descr"]["price"])
        return reached

    def set_balance(self, asset: str, amount: str | Decimal) -> None:
        self.account.balances[asset] = Decimal(str(amount))

    def set_pair_status(self, pair: str, status: str) -> None:
        self.pairs[self._pair_key(pair)]["status"] = status

    def set_position(self, pair: str, side: str, volume: str, price: str,
                     leverage: int = 2) -> str:
        key = self._pair_key(pair)
        ptxid = _txid("T")
        vol = Decimal(volume)
        self.account.positions[ptxid] = {
            "ordertxid": _txid("O"), "posstatus": "open", "pair": key,
            "time": self.clock.time(), "type": side, "ordertype": "market",
            "cost": str(vol * Decimal(price)), "fee": "0", "vol": str(vol),
            "vol_closed": "0", "margin": str(vol * Decimal(price) / leverage),
            "terms": "0.0100% per 4 hours", "rollovertm": "0", "misc": "", "oflags": "",
        }
        return ptxid

    # -- endpoints ----------------------------------------------------------------------------

    def _dispatch(self, method: str, args: dict[str, str]) -> Any:
        handler = getattr(self, f"_ep_{method}")
        return handler(args)

    def _ep_Time(self, args: dict[str, str]) -> Any:
        now = self.clock.time()
        return {"unixtime": int(now), "rfc1123": formatdate(now, usegmt=True)}

    def _ep_AssetPairs(self, args: dict[str, str]) -> Any:
        if not args.get("pair"):
            return self.pairs
        return {key: self.pairs[key] for key in map(self._pair_key, args["pair"].split(","))}

    def _ep_Assets(self, args: dict[str, str]) -> Any:
        """Kraken's Assets for every asset of the fake's pairs and balances: Kraken's names
        (``XXBT``, ``ZUSD``), altnames without the X/Z prefix, 10 decimals (4 for fiat)."""
        names = {pair[side] for pair in self.pairs.values() for side in ("base", "quote")}
        names |= set(self.account.balances)
        out = {}
        for name in sorted(names):
            prefixed = len(name) == 4 and name[0] in "XZ"
            out[name] = {"aclass": "currency", "altname": name[1:] if prefixed else name,
                         "decimals": 4 if name.startswith("Z") and prefixed else 10,
                         "display_decimals": 5, "status": "enabled"}
        return out

    def _ep_Ticker(self, args: dict[str, str]) -> Any:
        out = {}
        for key in map(self._pair_key, args.get("pair", "").split(",")):
            price = str(self.prices.get(key, "0"))
            out[key] = {"a": [price, "1", "1.000"], "b": [price, "1", "1.000"],
                        "c": [price, "0.01"], "v": ["0", "0"], "p": [price, price],
                        "t": [0, 0], "l": [price, price], "h": [price, price], "o": price}
        return out

    def _ep_BalanceEx(self, args: dict[str, str]) -> Any:
        return {asset: {"balance": str(amount), "credit": "0", "credit_used": "0",
                        "hold_trade": str(self.account.held.get(asset, Decimal(0)))}
                for asset, amount in self.account.balances.items()}

    def _ep_TradeBalance(self, args: dict[str, str]) -> Any:
        asset = args.get("asset", "ZUSD")
        balance = self.account.balances.get(asset, Decimal(0))
        net = Decimal(0)
        for position in self.account.positions.values():
            price = self.prices.get(position["pair"], Decimal(0))
            vol = Decimal(position["vol"]) - Decimal(position["vol_closed"])
            value = vol * price - Decimal(position["cost"])
            net += value if position["type"] == "buy" else -value
        margin = sum((Decimal(p["margin"]) for p in self.account.positions.values()), Decimal(0))
        return {"eb": str(balance), "tb": str(balance), "m": str(margin), "n": str(net),
                "c": "0", "v": "0", "e": str(balance + net), "mf": str(balance + net - margin),
                "uv": "0"}

    def _ep_OpenPositions(self, args: dict[str, str]) -> Any:
        return dict(self.account.positions)

    def _ep_OpenOrders(self, args: dict[str, str]) -> Any:
        return {"open": self._lookup(args, {"pending", "open"})}

    def _ep_ClosedOrders(self, args: dict[str, str]) -> Any:
        """As Kraken: 50 orders at a time from ``ofs``, the most recently closed first (the
        conditional closes of filled entries among them, with their ``refid``); ``count`` is
        how many match in all."""
        closed = self._lookup(args, {"closed", "canceled", "expired"})
        newest = sorted(reversed(closed.items()),  # ties: the later placed first
                        key=lambda item: -float(item[1].get("closetm") or 0))
        try:
            offset = max(int(args.get("ofs") or 0), 0)
        except ValueError:
            raise KrakenAnswer("EGeneral:Invalid arguments:ofs") from None
        page = dict(newest[offset:offset + CLOSED_PAGE])
        return {"closed": page, "count": len(closed)}

    def _lookup(self, args: dict[str, str], statuses: set[str]) -> dict[str, Any]:
        now = self.clock.time()
        out = {}
        for txid, order in self.orders.items():
            if order["status"] not in statuses or self._hidden_until.get(txid, 0) > now:
                continue
            if "cl_ord_id" in args and order.get("cl_ord_id") != args["cl_ord_id"]:
                continue
            if "userref" in args and str(order.get("userref")) != args["userref"]:
                continue
            out[txid] = _public(order)
        return out

    def _ep_CancelOrder(self, args: dict[str, str]) -> Any:
        found = self._find_open(args)
        if found is None:
            raise KrakenAnswer("EOrder:Unknown order")
        order = found[1]
        self._release(order)
        order["status"] = "canceled"
        order["reason"] = "User requested"
        order["closetm"] = self.clock.time()
        return {"count": 1, "pending": False}

    def _find_open(self, args: dict[str, str]) -> tuple[str, dict[str, Any]] | None:
        for txid, order in self.orders.items():
            if order["status"] not in ("open", "pending"):
                continue
            if args.get("txid") == txid or (
                "cl_ord_id" in args and order.get("cl_ord_id") == args["cl_ord_id"]
            ):
                return txid, order
        return None

    # -- AddOrder -----------------------------------------------------------------------------

    def _ep_AddOrder(self, args: dict[str, str]) -> Any:
        key = self._pair_key(args.get("pair", ""))
        pair = self.pairs[key]
        status = pair.get("status", "online")
        ordertype = args.get("ordertype", "")
        side = args.get("type", "")
        if side not in ("buy", "sell"):
            raise KrakenAnswer("EGeneral:Invalid arguments:type")
        if ordertype not in ORDER_TYPES:
            raise KrakenAnswer("EGeneral:Invalid arguments:ordertype")
        if status in ("cancel_only", "post_only", "limit_only"):
            raise KrakenAnswer(f"EService:Market in {status} mode")
        if status == "reduce_only" and args.get("reduce_only") != "true":
            raise KrakenAnswer("EOrder:Reduce only:Non-PC")
        self._check_ids(args)
        flags = set(filter(None, args.get("oflags", "").split(",")))
        if flags - _OFLAGS:
            raise KrakenAnswer("EGeneral:Invalid arguments:oflags")
        if "post" in flags and ordertype not in _LIMIT:
            raise KrakenAnswer("EGeneral:Invalid arguments:oflags")
        if {"fcib", "fciq"} <= flags:
            raise KrakenAnswer("EGeneral:Invalid arguments:oflags")
        if "viqc" in flags and (ordertype != "market" or side != "buy" or "leverage" in args):
            raise KrakenAnswer("EGeneral:Invalid arguments:viqc")
        volume = self._volume(args, pair, ordertype, flags)
        price = self._price(args.get("price"), pair, "price")
        price2 = self._price(args.get("price2"), pair, "price2")
        if ordertype != "market" and ordertype != "settle-position" and price is None:
            raise KrakenAnswer("EGeneral:Invalid arguments:price")
        if ordertype in _PRICE2 and price2 is None:
            raise KrakenAnswer("EGeneral:Invalid arguments:price2")
        if ordertype.startswith("trailing-stop") and not args["price"].startswith("+"):
            raise KrakenAnswer("EGeneral:Invalid arguments:price")
        if ordertype == "iceberg":
            display = _decimal(args.get("displayvol"), "displayvol")
            if display * 15 < volume:
                raise KrakenAnswer("EGeneral:Invalid arguments:displayvol")
        self._check_time_fields(args)
        if "close[ordertype]" in args:
            self._price(args.get("close[price]"), pair, "close[price]")
            self._price(args.get("close[price2]"), pair, "close[price2]")
        leverage = args.get("leverage")
        if leverage is not None:
            allowed = pair.get("leverage_buy" if side == "buy" else "leverage_sell") or []
            if not leverage.isdigit() or int(leverage) not in allowed:
                raise KrakenAnswer("EGeneral:Invalid arguments:leverage")
        last = self.prices.get(key, Decimal(0))
        fill_price = (_absolute(args["price"], last) or last) if ordertype in _LIMIT else last
        if "viqc" in flags:
            cost, volume = volume, (volume / last if last else Decimal(0))
        else:
            cost = volume * fill_price
        if ordertype != "settle-position" and cost < Decimal(pair.get("costmin") or 0):
            raise KrakenAnswer("EOrder:Cost minimum not met")
        descr = self._describe(args, pair, volume)
        if args.get("validate") in ("true", "1", "True"):
            return {"descr": descr}
        if leverage is None:
            self._check_funds(pair, side, volume, cost)
        elif _reduce_only(args) and not self._opposite_volume(key, side):
            raise KrakenAnswer("EOrder:Reduce only:No position exists")
        return {"descr": descr, "txid": [self._place(key, pair, args, volume, cost, last)]}

    def _check_ids(self, args: dict[str, str]) -> None:
        cl_ord_id = args.get("cl_ord_id")
        if cl_ord_id is None:
            return
        if "userref" in args:
            raise KrakenAnswer("EGeneral:Invalid arguments:cl_ord_id and userref")
        if "close[ordertype]" in args:
            raise KrakenAnswer("EGeneral:Invalid arguments:cl_ord_id with conditional close")
        if not (len(cl_ord_id) in (32, 36) or len(cl_ord_id) <= 18):
            raise KrakenAnswer("EGeneral:Invalid arguments:cl_ord_id")
        earlier = self.orders.get(self._by_cl_ord_id.get(cl_ord_id, ""))
        if earlier is not None and earlier["status"] in ("open", "pending"):
            raise KrakenAnswer("EGeneral:Invalid arguments:cl_ord_id")

    def _volume(self, args: dict[str, str], pair: dict[str, Any], ordertype: str,
                flags: set[str]) -> Decimal:
        volume = _decimal(args.get("volume"), "volume")
        if "viqc" in flags:
            if _places(volume) > int(pair.get("cost_decimals", 8)):
                raise KrakenAnswer("EGeneral:Invalid arguments:volume")
            return volume
        if volume == 0 and ordertype == "settle-position":
            return volume
        if volume <= 0 or _places(volume) > int(pair["lot_decimals"]):
            raise KrakenAnswer("EGeneral:Invalid arguments:volume")
        if volume < Decimal(pair.get("ordermin") or 0):
            raise KrakenAnswer("EOrder:Order minimum not met")
        return volume

    def _price(self, text: str | None, pair: dict[str, Any], field: str) -> Decimal | str | None:
        if text is None:
            return None
        if text[:1] in "+-#" or text.endswith("%"):
            number = text.lstrip("+-#").rstrip("%")
            _decimal(number, field)
            return text  # relative: resolved by the engine at trigger time
        price = _decimal(text, field)
        tick = Decimal(pair.get("tick_size") or "0")
        if price <= 0 or _places(price) > int(pair["pair_decimals"]) or (tick and price % tick):
            raise KrakenAnswer("EOrder:Tick size check failed")
        return price

    def _check_time_fields(self, args: dict[str, str]) -> None:
        tif = args.get("timeinforce", "GTC")
        if tif not in ("GTC", "IOC", "GTD"):
            raise KrakenAnswer("EGeneral:Invalid arguments:timeinforce")
        if tif == "GTD" and not args.get("expiretm"):
            raise KrakenAnswer("EGeneral:Invalid arguments:expiretm")
        if "deadline" in args:
            try:
                moment = datetime.fromisoformat(args["deadline"].replace("Z", "+00:00"))
            except ValueError:
                raise KrakenAnswer("EGeneral:Invalid arguments:deadline") from None
            margin = moment.timestamp() - self.clock.time()
            self.deadline_margins.append(margin)
            if margin < 0:
                raise KrakenAnswer("EService:Deadline elapsed")
            if margin < DEADLINE_MIN_SECONDS or margin > DEADLINE_MAX_SECONDS:
                raise KrakenAnswer("EGeneral:Invalid arguments:deadline")

    def _check_funds(self, pair: dict[str, Any], side: str, volume: Decimal,
                     cost: Decimal) -> None:
        asset, needed = (pair["quote"], cost) if side == "buy" else (pair["base"], volume)
        if self._available(asset) < needed:
            raise KrakenAnswer("EOrder:Insufficient funds")

    def _available(self, asset: str) -> Decimal:
        return self.account.balances.get(asset, Decimal(0)) - self.account.held.get(
            asset, Decimal(0))

    def _place(self, key: str, pair: dict[str, Any], args: dict[str, str], volume: Decimal,
               cost: Decimal, last: Decimal) -> str:
        txid = _txid("O")
        now = self.clock.time()
        side = args["type"]
        ordertype = args["ordertype"]
        order: dict[str, Any] = {
            "refid": None, "userref": int(args["userref"]) if "userref" in args else 0,
            "cl_ord_id": args.get("cl_ord_id"), "status": "open", "opentm": now,
            "starttm": 0, "expiretm": 0,
            "descr": {"pair": pair["altname"], "type": side, "ordertype": ordertype,
                      "price": args.get("price", "0"), "price2": args.get("price2", "0"),
                      "leverage": f"{args['leverage']}:1" if "leverage" in args else "none",
                      "order": self._describe(args, pair, volume)["order"],
                      "close": self._describe(args, pair, volume).get("close", "")},
            "vol": str(volume), "vol_exec": "0", "cost": "0", "fee": "0", "price": "0",
            "stopprice": "0", "limitprice": "0", "misc": "", "oflags": args.get("oflags", ""),
            "_reduce_only": _reduce_only(args), "_pair": key, "_hold": None, "_txid": txid,
            # the conditional close, placed by ``_fill`` once this order executes
            "_close": {name: args[f"close[{name}]"] for name in ("ordertype", "price", "price2")
                       if f"close[{name}]" in args} or None,
        }
        if self._hide_next:
            self._hidden_until[txid] = now + self._hide_next
            self._hide_next = 0.0
        self.orders[txid] = order
        if order["cl_ord_id"] is not None:
            self._by_cl_ord_id[order["cl_ord_id"]] = txid
        price = _absolute(args.get("price"), last)
        marketable = ordertype == "market" or (
            ordertype in _LIMIT and price is not None and (
                (side == "buy" and price >= last) or (side == "sell" and price <= last)))
        if marketable and "post" not in args.get("oflags", "") and last > 0:
            fill = price if ordertype in _LIMIT and price else last
            self._fill(order, pair, volume, fill, leveraged="leverage" in args)
        elif args.get("timeinforce") == "IOC":
            order["status"] = "canceled"
            order["reason"] = "Insufficient liquidity"
            order["closetm"] = now
        elif ordertype in _LIMIT and "leverage" not in args:
            asset, amount = (pair["quote"], volume * (price or last)) if side == "buy" \
                else (pair["base"], volume)
            self.account.held[asset] = self.account.held.get(asset, Decimal(0)) + amount
            order["_hold"] = (asset, str(amount))
        return txid

    def fill(self, txid: str, price: str | Decimal | None = None) -> None:
        """Execute a resting order (tests)."""
        order = self.orders[txid]
        self._release(order)
        pair = self.pairs[order["_pair"]]
        fill = Decimal(str(price)) if price is not None else self.prices[order["_pair"]]
        self._fill(order, pair, Decimal(order["vol"]), fill,
                   leveraged=order["descr"]["leverage"] != "none")

    def _fill(self, order: dict[str, Any], pair: dict[str, Any], volume: Decimal,
              price: Decimal, *, leveraged: bool) -> None:
        side = order["descr"]["type"]
        cost = volume * price
        if "viqc" in order["oflags"]:
            volume = cost / price if price else Decimal(0)
        if leveraged:
            if order.get("_reduce_only"):
                volume = min(volume, self._opposite_volume(order["_pair"], side))
                if not volume:  # the position went away while the order rested
                    order.update(status="canceled", reason="Reduce only:No position exists",
                                 closetm=self.clock.time())
                    return
                cost = volume * price
            opening = self._close_opposite(order["_pair"], side, volume)
            if opening:
                leverage = int(order["descr"]["leverage"].split(":")[0])
                self.set_position(order["_pair"], side, str(opening), str(price), leverage)
        else:
            sign = 1 if side == "buy" else -1
            base, quote = pair["base"], pair["quote"]
            self.account.balances[base] = self.account.balances.get(base, Decimal(0)) \
                + sign * volume
            self.account.balances[quote] = self.account.balances.get(quote, Decimal(0)) \
                - sign * cost
        order.update(status="closed", vol_exec=str(volume), cost=str(cost), price=str(price),
                     closetm=self.clock.time(), reason=None,
                     misc="partial" if volume < Decimal(order["vol"]) else order["misc"])
        if volume > 0:
            self._record_trade(order, pair, volume, price, cost)
        if order.get("_close") and volume > 0:
            self._place_close(order, pair, volume)

    def _record_trade(self, order: dict[str, Any], pair: dict[str, Any], volume: Decimal,
                      price: Decimal, cost: Decimal) -> None:
        """Keep the execution as TradesHistory shows it and tell the stream's listeners."""
        txid = _txid("T")
        trade = {"ordertxid": order["_txid"], "postxid": _txid("P"), "pair": order["_pair"],
                 "time": self.clock.time(), "type": order["descr"]["type"],
                 "ordertype": order["descr"]["ordertype"], "price": str(price),
                 "cost": str(cost), "fee": str(cost * self.fee_rate), "vol": str(volume),
                 "margin": "0", "misc": "", "trade_id": len(self.trades) + 1,
                 "_txid": txid}
        self.trades[txid] = trade
        for listener in list(self.fill_listeners):
            listener(order, trade)

    def _ep_TradesHistory(self, args: dict[str, str]) -> Any:
        """As Kraken: the newest first, 50 at a time from ``ofs``, after ``start`` (a Unix
        time, exclusive); ``count`` is how many match in all."""
        start = float(args.get("start") or 0)
        match = sorted(((txid, _public(trade)) for txid, trade in self.trades.items()
                        if trade["time"] > start), key=lambda item: -item[1]["time"])
        offset = max(int(args.get("ofs") or 0), 0)
        return {"trades": dict(match[offset:offset + CLOSED_PAGE]), "count": len(match)}

    def _ep_GetWebSocketsToken(self, args: dict[str, str]) -> Any:
        token = base64.b64encode(secrets.token_bytes(24)).decode()
        self.ws_tokens[token] = self.clock.time() + self.ws_token_seconds
        return {"token": token, "expires": int(self.ws_token_seconds)}

    def token_valid(self, token: str) -> bool:
        """Whether a WebSocket token was issued here and is still within its time."""
        return self.ws_tokens.get(token, -1.0) >= self.clock.time()

    def _place_close(self, parent: dict[str, Any], pair: dict[str, Any],
                     volume: Decimal) -> str:
        """Kraken's conditional close (docs/kraken-spot.md §2.1, ``close[ordertype]``): placed
        when the primary executes, for the executed volume, on the opposite side; afterwards
        an independent order (its own txid, listed by OpenOrders, cancelled by CancelOrder
        txid), whose ``refid`` is the primary's txid (§3's order object; Kraken documents
        ``refid`` as the "referral order transaction id that created this order")."""
        close = parent["_close"]
        key = parent["_pair"]
        side = "sell" if parent["descr"]["type"] == "buy" else "buy"
        ordertype = close["ordertype"]
        leverage = parent["descr"]["leverage"]
        last = self.prices.get(key, Decimal(0))
        txid = _txid("O")
        text = f"{side} {volume} {pair['altname']} @ {ordertype}"
        if "price" in close:
            text += f" {close['price']}"
        order: dict[str, Any] = {
            "refid": parent["_txid"],
            # userref: docs/kraken-spot.md does not say whether the close keeps its parent's
            # userref (§2.1 says only "afterwards an independent order"; §2.4's "parent's
            # userref not carried over" is about EditOrder). The fake keeps it: we think Kraken
            # does [unconfirmed], and it is the harder case for a client, whose userref
            # look-up of the primary then also answers the close (the broker skips orders
            # that carry a refid).
            "userref": parent["userref"],
            "cl_ord_id": None, "status": "open", "opentm": self.clock.time(),
            "starttm": 0, "expiretm": 0,
            "descr": {"pair": pair["altname"], "type": side, "ordertype": ordertype,
                      "price": close.get("price", "0"), "price2": close.get("price2", "0"),
                      "leverage": leverage, "order": text, "close": ""},
            "vol": str(volume), "vol_exec": "0", "cost": "0", "fee": "0", "price": "0",
            "stopprice": "0", "limitprice": "0", "misc": "", "oflags": "",
            "_reduce_only": False, "_pair": key, "_hold": None, "_txid": txid, "_close": None,
        }
        self.orders[txid] = order
        price = _close_price(close.get("price"), last, side, ordertype)
        limit = price if ordertype in _LIMIT else (
            _close_price(close.get("price2"), last, side, ordertype)
            if ordertype in _PRICE2 and not ordertype.startswith("trailing") else None)
        fill = _close_fill(ordertype, side, price, limit, last)
        if fill is not None:
            self._fill(order, pair, volume, fill, leveraged=leverage != "none")
        elif leverage == "none":  # a cash order holds what it would sell or spend
            asset, amount = (pair["base"], volume) if side == "sell" else (
                pair["quote"], volume * (limit or price or last))
            self.account.held[asset] = self.account.held.get(asset, Decimal(0)) + amount
            order["_hold"] = (asset, str(amount))
        return txid

    def _opposite_positions(self, key: str, side: str) -> list[tuple[str, dict[str, Any]]]:
        """Open positions of ``key`` that a ``side`` order reduces, oldest first."""
        opposite = "sell" if side == "buy" else "buy"
        found = [(ptxid, p) for ptxid, p in self.account.positions.items()
                 if p["pair"] == key and p["type"] == opposite]
        return sorted(found, key=lambda item: item[1]["time"])  # stable: insertion breaks ties

    def _opposite_volume(self, key: str, side: str) -> Decimal:
        return sum((_open_volume(p) for _, p in self._opposite_positions(key, side)),
                   Decimal(0))

    def _close_opposite(self, key: str, side: str, volume: Decimal) -> Decimal:
        """Net a leveraged fill against opposite positions; returns the volume left to open."""
        for ptxid, position in self._opposite_positions(key, side):
            if not volume:
                break
            still_open = _open_volume(position)
            closed = min(still_open, volume)
            volume -= closed
            if closed == still_open:
                del self.account.positions[ptxid]  # OpenPositions lists open positions only
                continue
            # cost and margin follow the open remainder, as TradeBalance reads them for P&L
            share = (still_open - closed) / still_open
            position["vol_closed"] = str(Decimal(position["vol_closed"]) + closed)
            position["cost"] = str(Decimal(position["cost"]) * share)
            position["margin"] = str(Decimal(position["margin"]) * share)
        return volume

    def _release(self, order: dict[str, Any]) -> None:
        if order.get("_hold"):
            asset, amount = order["_hold"]
            self.account.held[asset] = self.account.held.get(asset, Decimal(0)) - Decimal(amount)
            order["_hold"] = None

    def _describe(self, args: dict[str, str], pair: dict[str, Any],
                  volume: Decimal) -> dict[str, str]:
        text = f"{args['type']} {volume} {pair['altname']} @ {args['ordertype']}"
        if "price" in args:
            text += f" {args['price']}"
        if "leverage" in args:
            text += f" with {args['leverage']}:1 leverage"
        descr = {"order": text}
        if "close[ordertype]" in args:
            descr["close"] = (f"close position @ {args['close[ordertype]']} "
                              f"{args.get('close[price]', '')}").strip()
        return descr

    def _pair_key(self, name: str) -> str:
        wanted = name.upper().replace("/", "")
        for key, pair in self.pairs.items():
            names = {key, pair.get("altname", ""), str(pair.get("wsname", "")).replace("/", "")}
            if wanted in names:
                return key
        raise KrakenAnswer("EQuery:Unknown asset pair")


def _absolute(text: str | None, last: Decimal) -> Decimal | None:
    """A limit price as a number: relative forms resolved against the last trade."""
    if text is None:
        return None
    sign = text[:1] if text[:1] in "+-#" else ""
    number = Decimal(text.lstrip("+-#").rstrip("%"))
    if not sign and not text.endswith("%"):
        return number
    amount = last * number / 100 if text.endswith("%") else number
    return last - amount if sign in ("-", "#") else last + amount


def _close_price(text: str | None, last: Decimal, side: str, ordertype: str) -> Decimal | None:
    """A conditional close's price as a number. ``#`` picks the sign from side and type: a
    take profit (or limit) sells above and buys below the last trade, a stop the reverse."""
    if text is None or ordertype.startswith("trailing"):
        return None  # a trailing offset is no price
    if text.startswith("#"):
        above = (side == "sell") == (ordertype.startswith("take-profit") or ordertype in _LIMIT)
        text = ("+" if above else "-") + text[1:]
    return _absolute(text, last)


def _close_fill(ordertype: str, side: str, price: Decimal | None, limit: Decimal | None,
                last: Decimal) -> Decimal | None:
    """The price a just-placed conditional close executes at, or ``None`` while it rests: a
    limit crosses the last trade, a stop or take profit is already triggered (market at the
    last trade, or its limit when that crosses)."""
    if price is None or last <= 0:
        return None
    if ordertype in _LIMIT:
        crosses = price <= last if side == "sell" else price >= last
        return price if crosses else None
    if ordertype.startswith("stop-loss"):
        triggered = last <= price if side == "sell" else last >= price
    elif ordertype.startswith("take-profit"):
        triggered = last >= price if side == "sell" else last <= price
    else:
        return None
    if not triggered:
        return None
    if limit is None:
        return last
    crosses = limit <= last if side == "sell" else limit >= last
    return limit if crosses else None


def _reduce_only(args: Mapping[str, str]) -> bool:
    return args.get("reduce_only") in ("true", "1", "True")


def _reaches(side: str, limit: Decimal, last: Decimal) -> bool:
    return last <= limit if side == "buy" else last >= limit


def _open_volume(position: Mapping[str, Any]) -> Decimal:
    return Decimal(position["vol"]) - Decimal(position["vol_closed"])


def _public(order: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in order.items() if not k.startswith("_")}


def _decimal(text: str | None, field: str) -> Decimal:
    try:
        value = Decimal(text or "")
    except InvalidOperation:
        raise KrakenAnswer(f"EGeneral:Invalid arguments:{field}") from None
    if not value.is_finite():
        raise KrakenAnswer(f"EGeneral:Invalid arguments:{field}")
    return value


def _places(value: Decimal) -> int:
    exponent = value.normalize().as_tuple().exponent
    return max(0, -exponent) if isinstance(exponent, int) else 0


def _txid(prefix: str) -> str:
    # base32 letters and digits, like Kraken's ids; one urandom call (secrets.choice per
    # character was a third of the fake's time per order, and benchmarks measure clients)
    text = base64.b32encode(secrets.token_bytes(10)).decode()
    return f"{prefix}{text[:5]}-{text[5:10]}-{text[10:]}"
