"""Nonce order and the rate budget under concurrency on one API key."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from router_core import OrderStatus
from router_core import normalize_ticker as normalize


async def test_200_concurrent_orders_on_one_key_have_no_nonce_errors(
    broker: Any, fake: Any, clock: Any, new_order: Callable[..., Any]
) -> None:
    inst = await broker.resolve(normalize("XBTUSD.P"))
    orders = [new_order(inst, "0.0001") for _ in range(200)]
    results = await asyncio.gather(*(broker.submit_order(o) for o in orders))
    assert fake.nonce_errors == 0
    assert fake.rate_limited == 0  # the local budget waited instead
    assert all(r.status is OrderStatus.FILLED for r in results)
    assert len(fake.orders) == 200
    nonces = [r.nonce for r in fake.requests if r.endpoint == "sendorder"]
    assert nonces == sorted(nonces) and len(set(nonces)) == 200
    assert sum(clock.sleeps) >= (200 * 10 - 500) / 50 - 1  # 2000 units at 50/s after 500


async def test_two_accounts_sharing_a_key_share_its_nonces_and_budget(
    make_broker: Callable[..., Any], fake: Any, new_order: Callable[..., Any]
) -> None:
    first, second = await make_broker(), await make_broker()
    inst = await first.resolve(normalize("XBTUSD.P"))
    calls = [b.submit_order(new_order(inst, "0.0001")) for b in (first, second) for _ in range(60)]
    await asyncio.gather(*calls)
    assert fake.nonce_errors == 0 and fake.rate_limited == 0
    assert len(fake.orders) == 120
