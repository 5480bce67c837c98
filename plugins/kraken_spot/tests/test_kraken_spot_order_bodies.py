"""The exact AddOrder form body for every order type and flag, as the fake received it.

Each row is sent through the broker to the fake (which verifies signature, nonce, tick, lot,
minimums and the deadline, and accepts the order). The clock is fixed, so the deadline is
deterministic: Kraken's time (1700000000, +0.5 s for the truncated second) + 10 s.
"""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal
from typing import Any

import pytest
from router_kraken_spot.fake import FakeKraken
from router_kraken_spot.testing import make_order

from router_core import (
    Bracket,
    Instrument,
    InvalidOrder,
    OrderStatus,
    OrderType,
    Side,
    TimeInForce,
)

CID = "6d1b345e-2821-40e2-ad83-4ecb18a06876"
USERREF = "2097523855"  # userref_for(CID): orders with a conditional close carry it instead
TAIL = f"cl_ord_id={CID}&deadline=2023-11-14T22%3A13%3A30.500Z"
CLOSE_TAIL = f"userref={USERREF}&deadline=2023-11-14T22%3A13%3A30.500Z"
D = Decimal

CASES: list[tuple[str, dict[str, Any], str]] = [
    ("market", {}, f"ordertype=market&type=buy&volume=0.01&pair=XXBTZUSD&{TAIL}"),
    ("limit", {"order_type": OrderType.LIMIT, "limit_price": D("45000.0")},
     f"ordertype=limit&type=buy&volume=0.01&pair=XXBTZUSD&price=45000&{TAIL}"),
    ("limit post-only", {"order_type": OrderType.LIMIT, "limit_price": D("45000.1"),
                         "post_only": True},
     f"ordertype=limit&type=buy&volume=0.01&pair=XXBTZUSD&price=45000.1&oflags=post&{TAIL}"),
    ("stop-loss", {"order_type": OrderType.STOP, "side": Side.SELL, "stop_price": D("40000")},
     f"ordertype=stop-loss&type=sell&volume=0.01&pair=XXBTZUSD&price=40000&{TAIL}"),
    ("stop-loss-limit", {"order_type": OrderType.STOP_LIMIT, "side": Side.SELL,
                         "stop_price": D("40000"), "limit_price": D("39900.5")},
     "ordertype=stop-loss-limit&type=sell&volume=0.01&pair=XXBTZUSD&price=40000"
     f"&price2=39900.5&{TAIL}"),
    ("take-profit", {"order_type": OrderType.TAKE_PROFIT, "side": Side.SELL,
                     "stop_price": D("60000")},
     f"ordertype=take-profit&type=sell&volume=0.01&pair=XXBTZUSD&price=60000&{TAIL}"),
    ("take-profit-limit", {"order_type": OrderType.TAKE_PROFIT_LIMIT, "side": Side.SELL,
                           "stop_price": D("60000"), "limit_price": D("59900")},
     "ordertype=take-profit-limit&type=sell&volume=0.01&pair=XXBTZUSD&price=60000"
     f"&price2=59900&{TAIL}"),
    ("trailing-stop amount", {"order_type": OrderType.TRAILING_STOP, "side": Side.SELL,
                              "trail_amount": D("500")},
     f"ordertype=trailing-stop&type=sell&volume=0.01&pair=XXBTZUSD&price=%2B500&{TAIL}"),
    ("trailing-stop percent", {"order_type": OrderType.TRAILING_STOP, "side": Side.SELL,
                               "trail_percent": D("1.5")},
     f"ordertype=trailing-stop&type=sell&volume=0.01&pair=XXBTZUSD&price=%2B1.5%25&{TAIL}"),
    ("trailing-stop-limit (extras)", {"order_type": OrderType.TRAILING_STOP, "side": Side.SELL,
                                      "trail_amount": D("500"),
                                      "extras": {"ordertype": "trailing-stop-limit",
                                                 "price2": "-10"}},
     "ordertype=trailing-stop-limit&type=sell&volume=0.01&pair=XXBTZUSD&price=%2B500"
     f"&price2=-10&{TAIL}"),
    ("iceberg (extras)", {"order_type": OrderType.LIMIT, "quantity": "1.5",
                          "limit_price": D("45000"),
                          "extras": {"ordertype": "iceberg", "displayvol": "0.1"}},
     "ordertype=iceberg&type=buy&volume=1.5&pair=XXBTZUSD&price=45000&displayvol=0.1"
     f"&{TAIL}"),
    ("relative limit price", {"order_type": OrderType.LIMIT, "limit_price": D("45000"),
                              "extras": {"price": "-100"}},
     f"ordertype=limit&type=buy&volume=0.01&pair=XXBTZUSD&price=-100&{TAIL}"),
    ("relative percent price", {"order_type": OrderType.LIMIT, "limit_price": D("45000"),
                                "extras": {"price": "#1.5%"}},
     f"ordertype=limit&type=buy&volume=0.01&pair=XXBTZUSD&price=%231.5%25&{TAIL}"),
    ("IOC", {"order_type": OrderType.LIMIT, "limit_price": D("45000"),
             "time_in_force": TimeInForce.IOC},
     f"ordertype=limit&type=buy&volume=0.01&pair=XXBTZUSD&price=45000&timeinforce=IOC&{TAIL}"),
    ("GTC", {"order_type": OrderType.LIMIT, "limit_price": D("45000"),
             "time_in_force": TimeInForce.GTC},
     f"ordertype=limit&type=buy&volume=0.01&pair=XXBTZUSD&price=45000&timeinforce=GTC&{TAIL}"),
    ("GTD", {"order_type": OrderType.LIMIT, "limit_price": D("45000"),
             "time_in_force": TimeInForce.GTD, "expire_time": 1700003600},
     "ordertype=limit&type=buy&volume=0.01&pair=XXBTZUSD&price=45000&timeinforce=GTD"
     f"&expiretm=1700003600&{TAIL}"),
    ("fcib nompp", {"side": Side.SELL, "extras": {"oflags": "fcib,nompp"}},
     f"ordertype=market&type=sell&volume=0.01&pair=XXBTZUSD&oflags=fcib%2Cnompp&{TAIL}"),
    ("fciq", {"order_type": OrderType.LIMIT, "limit_price": D("45000"),
              "extras": {"oflags": ["fciq"]}},
     f"ordertype=limit&type=buy&volume=0.01&pair=XXBTZUSD&price=45000&oflags=fciq&{TAIL}"),
    ("viqc", {"extras": {"oflags": "viqc", "quote_volume": "100"}},
     f"ordertype=market&type=buy&volume=100&pair=XXBTZUSD&oflags=viqc&{TAIL}"),
    ("trigger stptype starttm", {"order_type": OrderType.STOP, "side": Side.SELL,
                                 "stop_price": D("40000"),
                                 "extras": {"trigger": "index", "stptype": "cancel-both",
                                            "starttm": "+60"}},
     "ordertype=stop-loss&type=sell&volume=0.01&pair=XXBTZUSD&price=40000&starttm=%2B60"
     f"&trigger=index&stptype=cancel-both&{TAIL}"),
    ("close take-profit-limit", {"order_type": OrderType.LIMIT, "limit_price": D("45000"),
                                 "take_profit": Bracket(OrderType.TAKE_PROFIT_LIMIT,
                                                        trigger_price=D("60000"),
                                                        limit_price=D("59900"))},
     "ordertype=limit&type=buy&volume=0.01&pair=XXBTZUSD&price=45000"
     "&close%5Bordertype%5D=take-profit-limit&close%5Bprice%5D=60000"
     f"&close%5Bprice2%5D=59900&{CLOSE_TAIL}"),
    ("close limit", {"take_profit": Bracket(OrderType.LIMIT, limit_price=D("60000"))},
     "ordertype=market&type=buy&volume=0.01&pair=XXBTZUSD"
     f"&close%5Bordertype%5D=limit&close%5Bprice%5D=60000&{CLOSE_TAIL}"),
    ("close stop-loss", {"stop_loss": Bracket(OrderType.STOP, trigger_price=D("45000"))},
     "ordertype=market&type=buy&volume=0.01&pair=XXBTZUSD"
     f"&close%5Bordertype%5D=stop-loss&close%5Bprice%5D=45000&{CLOSE_TAIL}"),
    ("close stop-loss-limit", {"stop_loss": Bracket(OrderType.STOP_LIMIT,
                                                    trigger_price=D("45000"),
                                                    limit_price=D("44900"))},
     "ordertype=market&type=buy&volume=0.01&pair=XXBTZUSD"
     "&close%5Bordertype%5D=stop-loss-limit&close%5Bprice%5D=45000"
     f"&close%5Bprice2%5D=44900&{CLOSE_TAIL}"),
    ("close trailing-stop", {"stop_loss": Bracket(OrderType.TRAILING_STOP,
                                                  trail_percent=D("2"))},
     "ordertype=market&type=buy&volume=0.01&pair=XXBTZUSD"
     f"&close%5Bordertype%5D=trailing-stop&close%5Bprice%5D=%2B2%25&{CLOSE_TAIL}"),
    ("close relative (extras)", {"stop_loss": Bracket(OrderType.STOP,
                                                      trigger_price=D("45000")),
                                 "extras": {"close_price": "-5%"}},
     "ordertype=market&type=buy&volume=0.01&pair=XXBTZUSD"
     f"&close%5Bordertype%5D=stop-loss&close%5Bprice%5D=-5%25&{CLOSE_TAIL}"),
]

MARGIN_CASES: list[tuple[str, dict[str, Any], str]] = [
    ("leverage", {"leverage": D("5")},
     f"ordertype=market&type=buy&volume=0.01&pair=XXBTZUSD&leverage=5&{TAIL}"),
    ("reduce-only margin close", {"side": Side.SELL, "leverage": D("2"), "reduce_only": True},
     "ordertype=market&type=sell&volume=0.01&pair=XXBTZUSD&leverage=2&reduce_only=true"
     f"&{TAIL}"),
    ("settle-position (extras)", {"quantity": "0", "leverage": D("2"),
                                  "extras": {"ordertype": "settle-position"}},
     f"ordertype=settle-position&type=buy&volume=0&pair=XXBTZUSD&leverage=2&{TAIL}"),
]


def _order(btc: Instrument, fields: dict[str, Any]):  # type: ignore[no-untyped-def]
    return make_order(btc, client_order_id=CID, **fields)


def _without_nonce(body: str) -> str:
    nonce, _, rest = body.partition("&")
    assert nonce.startswith("nonce=") and nonce[6:].isdigit()
    return rest


@pytest.mark.parametrize(("name", "fields", "body"), CASES, ids=[c[0] for c in CASES])
async def test_form_body(broker, btc, fake: FakeKraken, name, fields, body) -> None:
    result = await broker.submit_order(_order(btc, fields))
    assert result.status is OrderStatus.ACCEPTED and result.venue_order_id
    assert [_without_nonce(b) for b in fake.bodies()] == [body]
    assert fake.errors_sent == {}


@pytest.mark.parametrize(("name", "fields", "body"), MARGIN_CASES,
                         ids=[c[0] for c in MARGIN_CASES])
async def test_margin_form_body(margin_broker, fake: FakeKraken, name, fields, body) -> None:
    from router_core import normalize_ticker as normalize

    btc = await margin_broker.resolve(normalize("XBTUSD"))
    if fields.get("reduce_only"):  # Kraken refuses a reduce-only order with nothing to reduce
        fake.set_position("XXBTZUSD", "buy", "0.01", "50000")
    result = await margin_broker.submit_order(_order(btc, fields))
    assert result.status is OrderStatus.ACCEPTED
    assert [_without_nonce(b) for b in fake.bodies()] == [body]


async def test_validate_only_places_nothing(tmp_path, fake: FakeKraken, clock) -> None:
    from router_kraken_spot.testing import make_broker, make_context

    from router_core import normalize_ticker as normalize

    broker = make_broker(make_context(tmp_path, fake, clock=clock), validate=True)
    await broker.start()
    btc = await broker.resolve(normalize("XBTUSD"))
    result = await broker.submit_order(_order(btc, {}))
    await broker.close()
    assert [_without_nonce(b) for b in fake.bodies()] == [
        f"ordertype=market&type=buy&volume=0.01&pair=XXBTZUSD&cl_ord_id={CID}&validate=true"
        "&deadline=2023-11-14T22%3A13%3A30.500Z"
    ]
    assert result.status is OrderStatus.ACCEPTED and result.venue_order_id is None
    assert result.reason.startswith("validate only: nothing placed")
    assert fake.placed() == []


DENIALS: list[tuple[str, dict[str, Any], str]] = [
    ("too many decimals", {"quantity": "0.000000001"}, "volume decimals"),
    ("below ordermin", {"quantity": "0.00005"}, "ordermin"),
    ("below costmin", {"quantity": "0.0001", "order_type": OrderType.LIMIT,
                       "limit_price": D("1000")}, "costmin"),
    ("off tick", {"order_type": OrderType.LIMIT, "limit_price": D("45000.05")}, "tick size"),
    ("limit without price", {"order_type": OrderType.LIMIT}, "needs limit_price"),
    ("stop without price", {"order_type": OrderType.STOP, "side": Side.SELL}, "stop_price"),
    ("trailing without trail", {"order_type": OrderType.TRAILING_STOP}, "trail_amount"),
    ("unknown extras key", {"extras": {"ordrtype": "limit"}}, "'ordrtype'"),
    ("unknown oflag", {"extras": {"oflags": "fast"}}, "oflags fast"),
    ("post on market", {"post_only": True}, "post-only is for limit"),
    ("fcib with fciq", {"extras": {"oflags": "fcib,fciq"}}, "exclude each other"),
    ("viqc on sell", {"side": Side.SELL, "extras": {"oflags": "viqc", "quote_volume": "100"}},
     "viqc"),
    ("FOK", {"order_type": OrderType.LIMIT, "limit_price": D("45000"),
             "time_in_force": TimeInForce.FOK}, "FOK"),
    ("GTD without expiry", {"order_type": OrderType.LIMIT, "limit_price": D("45000"),
                            "time_in_force": TimeInForce.GTD}, "expire_time"),
    ("leverage without margin", {"leverage": D("2")}, "margin"),
    ("both brackets", {"take_profit": Bracket(OrderType.TAKE_PROFIT, trigger_price=D("60000")),
                       "stop_loss": Bracket(OrderType.STOP, trigger_price=D("40000"))},
     "one conditional close"),
    ("iceberg without displayvol", {"order_type": OrderType.LIMIT, "limit_price": D("45000"),
                                    "extras": {"ordertype": "iceberg"}}, "displayvol"),
    ("iceberg display too small", {"order_type": OrderType.LIMIT, "quantity": "1.6",
                                   "limit_price": D("45000"),
                                   "extras": {"ordertype": "iceberg", "displayvol": "0.1"}},
     "1/15"),
    ("trailing price not +", {"order_type": OrderType.TRAILING_STOP, "trail_amount": D("5"),
                              "extras": {"price": "-5"}}, "relative with '+'"),
    ("bad relative price", {"order_type": OrderType.LIMIT, "limit_price": D("45000"),
                            "extras": {"price": "1e3"}}, "is not a price"),
    ("reduce-only buy on cash", {"reduce_only": True}, "no short to reduce"),
    ("bad client order id", {"client_order_id": "not a valid id with spaces"}, "cl_ord_id"),
    ("zero quantity", {"quantity": "0"}, "must be positive"),
]


@pytest.mark.parametrize(("name", "fields", "message"), DENIALS, ids=[c[0] for c in DENIALS])
async def test_denied_before_sending(broker, btc, fake: FakeKraken, name, fields,
                                     message) -> None:
    fields = dict(fields)
    cid = fields.pop("client_order_id", CID)
    order = make_order(btc, client_order_id=cid, **fields)
    with pytest.raises(InvalidOrder) as info:
        await broker.submit_order(order)
    assert info.value.from_venue is False
    assert message in str(info.value)
    assert "nothing sent" in str(info.value)
    assert fake.add_order_calls == 0


async def test_not_online_instrument_is_denied_at_submit(broker, btc, fake) -> None:
    from router_core import MarketClosed

    closed = replace(btc, status="cancel_only", tradeable=False)
    with pytest.raises(MarketClosed) as info:
        await broker.submit_order(make_order(closed, client_order_id=CID))
    assert info.value.from_venue is False and "cancel_only" in str(info.value)
    assert fake.add_order_calls == 0
