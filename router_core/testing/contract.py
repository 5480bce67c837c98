"""``BrokerContract``: the conformance suite every broker plugin runs in its own tests (see
``router_core.testing``). Each failure says what the broker did and what the contract expects,
so pytest's assertion rewriting is not needed: PYTEST_DONT_REWRITE
"""

from __future__ import annotations

import asyncio
import enum
import logging
import types
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from decimal import ROUND_CEILING, Decimal
from typing import Any, ClassVar

import pytest
from pydantic import SecretBytes, SecretStr

from ..brokers import Broker
from ..errors import AmbiguousOutcome, BrokerError, NotSupported, UnknownSymbol
from ..models import (
    Fill,
    Instrument,
    LegPurpose,
    Order,
    OrderResult,
    OrderStatus,
    OrderType,
    Side,
)

_SUCCESS = (OrderStatus.ACCEPTED, OrderStatus.FILLED, OrderStatus.PARTIALLY_FILLED)
# How deep the secret check walks the broker's attributes: broker.a.b.c (vars(), containers).
ATTRIBUTE_DEPTH = 3
# Tried in this order when looking for an order type the broker does not declare.
_EXOTIC_TYPES = (
    OrderType.TRAILING_STOP,
    OrderType.TAKE_PROFIT_LIMIT,
    OrderType.TAKE_PROFIT,
    OrderType.STOP_LIMIT,
    OrderType.STOP,
    OrderType.LIMIT,
    OrderType.MARKET,
)


def _describe(exc: BaseException) -> str:
    origin = "from the venue" if getattr(exc, "from_venue", False) else "before sending"
    if isinstance(exc, BrokerError):
        return f"raised {type(exc).__name__}({exc.message!r}, {origin})"
    return f"raised {type(exc).__name__}({exc})"


def _outcome(result: object) -> str:
    if isinstance(result, OrderResult):
        extra = f", reason={result.reason!r}" if result.reason else ""
        return (
            f"returned OrderResult(status={result.status.value}, "
            f"client_order_id={result.client_order_id!r}{extra})"
        )
    return f"returned {result!r}"


def _on_step(quantity: Decimal, step: Decimal) -> bool:
    return step > 0 and quantity % step == 0


class BrokerContract:
    """Conformance tests for one Broker; subclass it in your plugin's tests.

    Provide:

    ``broker`` (fixture, required)
        a *started* Broker talking to your plugin's fake venue; a fresh venue per test.
    ``known_symbol`` / ``unknown_symbol``
        tickers (as in an alert) the broker does / does not resolve; ``unknown_symbol = None``
        when the venue resolves every symbol (a simulator).
    ``secrets``
        strings that must never appear in reprs, error messages or log records.

    Optional:

    ``ambiguous_broker`` (fixture)
        a started Broker whose transport drops the reply to the *first order placement* after
        the venue executed it (raise ``httpx.ReadTimeout`` from a MockTransport handler after
        recording the order). Other requests, such as the look-up, must go through.
    ``venue_rejection_order`` (fixture)
        an ``Order``, or a callable ``(instrument) -> Order``, that the venue refuses (too big
        for the balance, say); the test expects a rejection, not a denial.
    ``order_quantity``
        the quantity of the small test orders (default: the instrument's minimum and lot step).
    ``resting_order_type`` / ``resting_limit_price``
        the order the cancel test places and expects to rest: a buy of this type (default
        ``limit``) at this price (default: half the reference price). For a stop type the
        price is the stop price.
    ``client_order_id(tag)``
        override when your venue limits client order ids (the default is a 36-char UUID).
    """

    known_symbol: ClassVar[str | None] = None
    unknown_symbol: ClassVar[str | None] = "NOPEUSD"
    secrets: ClassVar[Sequence[str]] = ()
    order_quantity: ClassVar[Decimal | None] = None
    resting_order_type: ClassVar[OrderType] = OrderType.LIMIT
    resting_limit_price: ClassVar[Decimal | None] = None
    # How long the fill stream may take to subscribe, and then to report a market order's fill
    fill_stream_seconds: ClassVar[float] = 10.0

    # ---- fixtures a subclass provides --------------------------------------------------------

    @pytest.fixture
    def broker(self) -> Broker:
        pytest.fail(
            f"{type(self).__name__} subclasses BrokerContract but defines no `broker` fixture; "
            "the contract requires a started Broker against the plugin's fake venue"
        )

    @pytest.fixture
    def ambiguous_broker(self) -> Broker | None:
        return None

    @pytest.fixture
    def venue_rejection_order(self) -> Order | Callable[[Instrument], Order] | None:
        return None

    # ---- helpers -----------------------------------------------------------------------------

    def client_order_id(self, tag: str) -> str:
        """A fresh client order id; ``tag`` names the test step (unused by the default)."""
        return str(uuid.uuid4())

    def make_order(
        self,
        broker: Broker,
        instrument: Instrument,
        *,
        quantity: Decimal,
        side: Side = Side.BUY,
        order_type: OrderType = OrderType.MARKET,
        purpose: LegPurpose = LegPurpose.OPEN,
        tag: str = "order",
        **fields: Any,
    ) -> Order:
        return Order(
            client_order_id=self.client_order_id(tag),
            account=broker.account,
            instrument=instrument,
            side=side,
            quantity=quantity,
            order_type=order_type,
            purpose=purpose,
            **fields,
        )

    async def _order(self, broker: Broker, instrument: Instrument, **fields: Any) -> Order:
        """``make_order`` with the reference price the core would attach, when known."""
        if "reference_price" not in fields:
            fields["reference_price"] = await self._reference_price(broker, instrument)
        return self.make_order(broker, instrument, **fields)

    def _leak_check(self, broker: Broker, where: str, text: str) -> None:
        for secret in self.secrets:
            if secret and secret in text:
                pytest.fail(
                    f"{broker.name}: {where} contains the secret {secret[:3]}...; the contract "
                    "requires secrets never to appear in reprs, error messages or logs",
                    pytrace=False,
                )

    def _check_error(self, broker: Broker, call: str, exc: BaseException) -> None:
        seen: set[int] = set()
        current: BaseException | None = exc
        while current is not None and id(current) not in seen:  # the chain reaches logs too
            seen.add(id(current))
            texts = [str(current), repr(current), str(getattr(current, "venue_code", "") or "")]
            self._leak_check(broker, f"the error {call} raised", " ".join(texts))
            current = current.__cause__ or current.__context__

    async def call(self, broker: Broker, method: str, *args: Any) -> Any:
        """Call ``broker.<method>(*args)``, checking any error it raises for secrets."""
        label = f"{method}({', '.join(_short(a) for a in args)})"
        try:
            return await getattr(broker, method)(*args)
        except Exception as exc:
            self._check_error(broker, label, exc)
            raise

    async def expect(self, broker: Broker, requirement: str, method: str, *args: Any) -> Any:
        """Like ``call``, but an exception fails the test saying what the contract requires."""
        label = f"{method}({', '.join(_short(a) for a in args)})"
        try:
            return await self.call(broker, method, *args)
        except Exception as exc:
            if isinstance(exc, NotSupported) and broker.stub:
                raise
            pytest.fail(f"{broker.name}: {label} {_describe(exc)}; {requirement}",
                        pytrace=False)

    def _symbol(self, text: str) -> Any:
        from ..normalize import normalize

        return normalize(text)

    async def _instrument(self, broker: Broker) -> Instrument:
        if not self.known_symbol:
            pytest.fail(
                f"{type(self).__name__} sets no known_symbol; the contract needs a ticker "
                f"{broker.name} resolves"
            )
        try:
            return await self.expect(
                broker, "the contract requires an Instrument for known_symbol", "resolve",
                self._symbol(self.known_symbol),
            )
        except NotSupported:  # only a stub gets here
            return _stub_instrument(self.known_symbol)

    async def _reference_price(self, broker: Broker, instrument: Instrument) -> Decimal | None:
        try:
            price = await self.call(broker, "reference_price", instrument)
        except NotSupported:
            return None
        return None if price is None else Decimal(str(price))

    async def _small_quantity(self, broker: Broker, instrument: Instrument) -> Decimal:
        if self.order_quantity is not None:
            return self.order_quantity
        step = instrument.lot_size
        quantity = max(step, instrument.min_quantity)
        if instrument.min_notional > 0:
            price = await self._reference_price(broker, instrument)
            if price:
                quantity = max(quantity, instrument.min_notional / price)
        return (quantity / step).to_integral_value(rounding=ROUND_CEILING) * step

    def _skip_unless_trading(self, broker: Broker) -> None:
        if broker.stub:
            pytest.skip(f"{broker.name} is a stub: it places no orders")

    def _entry_type(self, broker: Broker) -> OrderType:
        if OrderType.MARKET not in broker.capabilities.order_types:
            pytest.skip(f"{broker.name} declares no market orders; this test needs one to fill")
        return OrderType.MARKET

    async def _submit_ok(self, broker: Broker, order: Order, step: str) -> OrderResult:
        try:
            result = await self.call(broker, "submit_order", order)
        except Exception as exc:
            pytest.fail(
                f"{broker.name}: submit_order({_order_text(order)}) {_describe(exc)} ({step}); "
                "the contract requires a small valid order to be accepted or filled",
                pytrace=False,
            )
        if not isinstance(result, OrderResult) or result.status not in _SUCCESS:
            pytest.fail(
                f"{broker.name}: submit_order({_order_text(order)}) {_outcome(result)} ({step}); "
                "the contract requires a small valid order to be accepted or filled",
                pytrace=False,
            )
        if result.client_order_id != order.client_order_id:
            pytest.fail(
                f"{broker.name}: submit_order returned client_order_id "
                f"{result.client_order_id!r} for an order sent with {order.client_order_id!r}; "
                "the contract requires Order.client_order_id to be used verbatim",
                pytrace=False,
            )
        return result

    async def _position(self, broker: Broker, instrument: Instrument) -> Decimal:
        position = await self.expect(
            broker, "the contract requires the net Position", "position", instrument
        )
        return position.quantity

    @pytest.fixture(autouse=True)
    def _no_secret_in_logs(self, caplog: pytest.LogCaptureFixture) -> Iterator[None]:
        caplog.set_level(logging.DEBUG)
        yield
        if not self.secrets:
            return
        records = caplog.get_records("setup") + caplog.get_records("call")
        for record in records:
            text = record.getMessage() + (record.exc_text or "")
            for secret in self.secrets:
                if secret and secret in text:
                    pytest.fail(
                        f"log record from {record.name} contains the secret {secret[:3]}...; "
                        "the contract requires secrets never to reach a log line",
                        pytrace=False,
                    )

    # ---- symbols and precision ---------------------------------------------------------------

    @pytest.mark.asyncio
    async def test_resolves_known_symbol(self, broker: Broker) -> None:
        instrument = await self._instrument(broker)
        if not isinstance(instrument, Instrument):
            pytest.fail(
                f"{broker.name}: resolve({self.known_symbol!r}) returned {instrument!r}; "
                "the contract requires an Instrument",
                pytrace=False,
            )

    @pytest.mark.asyncio
    async def test_unknown_symbol_raises_unknown_symbol(self, broker: Broker) -> None:
        if self.unknown_symbol is None:
            pytest.skip(f"{type(self).__name__} sets unknown_symbol = None: the venue lists "
                        "every symbol")
        symbol = self._symbol(self.unknown_symbol)
        try:
            result = await self.call(broker, "resolve", symbol)
        except UnknownSymbol:
            return
        except Exception as exc:
            if broker.stub and isinstance(exc, NotSupported):
                pytest.skip(f"{broker.name} is a stub that resolves nothing")
            pytest.fail(
                f"{broker.name}: resolve({self.unknown_symbol!r}) {_describe(exc)}; "
                "the contract requires UnknownSymbol for a symbol the venue does not list",
                pytrace=False,
            )
        pytest.fail(
            f"{broker.name}: resolve({self.unknown_symbol!r}) returned {result!r}; "
            "the contract requires UnknownSymbol for a symbol the venue does not list",
            pytrace=False,
        )

    @pytest.mark.asyncio
    async def test_instrument_has_positive_decimal_steps(self, broker: Broker) -> None:
        instrument = await self._instrument(broker)
        for name in ("tick_size", "lot_size"):
            value = getattr(instrument, name)
            if not isinstance(value, Decimal) or value <= 0:
                pytest.fail(
                    f"{broker.name}: {instrument.symbol}.{name} is {value!r}; the contract "
                    "requires a positive Decimal step",
                    pytrace=False,
                )
        for name in ("min_quantity", "min_notional", "contract_size"):
            value = getattr(instrument, name)
            if not isinstance(value, Decimal) or value < 0:
                pytest.fail(
                    f"{broker.name}: {instrument.symbol}.{name} is {value!r}; the contract "
                    "requires a Decimal that is not negative",
                    pytrace=False,
                )

    @pytest.mark.asyncio
    async def test_off_step_quantity_is_rounded_or_denied(self, broker: Broker) -> None:
        self._skip_unless_trading(broker)
        order_type = self._entry_type(broker)
        instrument = await self._instrument(broker)
        quantity = await self._small_quantity(broker, instrument) + instrument.lot_size / 2
        order = await self._order(
            broker, instrument, quantity=quantity, order_type=order_type, tag="off-step"
        )
        expectation = (
            f"the contract requires a quantity off the lot step {instrument.lot_size} to be "
            "rounded down to the step or denied before sending, never sent as is"
        )
        try:
            result = await self.call(broker, "submit_order", order)
        except BrokerError as exc:
            if exc.from_venue or isinstance(exc, AmbiguousOutcome):
                pytest.fail(
                    f"{broker.name}: submit_order(quantity={quantity}) {_describe(exc)}, so "
                    f"the quantity reached the venue; {expectation}",
                    pytrace=False,
                )
            return  # a denial
        if result.status is OrderStatus.DENIED:
            return
        if result.status not in _SUCCESS:
            pytest.fail(
                f"{broker.name}: submit_order(quantity={quantity}) {_outcome(result)}; "
                f"{expectation}",
                pytrace=False,
            )
        sent = result.quantity
        if sent is None and broker.capabilities.find_order:
            found = await self.expect(
                broker, "the contract requires the submitted order found by its client "
                "order id", "find_order", order.client_order_id, instrument,
            )
            sent = found.quantity if found is not None else None
        if sent is None:
            pytest.fail(
                f"{broker.name}: submit_order(quantity={quantity}) succeeded without reporting "
                "the quantity (OrderResult.quantity is None, and find_order does not say); "
                "the contract requires the quantity sent, to check it is on the lot step",
                pytrace=False,
            )
        if not _on_step(sent, instrument.lot_size) or sent > quantity:
            pytest.fail(
                f"{broker.name}: submit_order(quantity={quantity}) sent {sent}; {expectation}",
                pytrace=False,
            )

    # ---- orders --------------------------------------------------------------------------------

    @pytest.mark.asyncio
    async def test_submit_small_order(self, broker: Broker) -> None:
        self._skip_unless_trading(broker)
        order_type = self._entry_type(broker)
        instrument = await self._instrument(broker)
        quantity = await self._small_quantity(broker, instrument)
        order = await self._order(broker, instrument, quantity=quantity, order_type=order_type)
        await self._submit_ok(broker, order, "a small market buy")

    @pytest.mark.asyncio
    async def test_find_order_by_client_order_id(self, broker: Broker) -> None:
        self._skip_unless_trading(broker)
        if not broker.capabilities.find_order:
            pytest.skip(f"{broker.name} declares capabilities.find_order=False")
        order_type = self._entry_type(broker)
        instrument = await self._instrument(broker)
        quantity = await self._small_quantity(broker, instrument)
        order = await self._order(broker, instrument, quantity=quantity, order_type=order_type)
        await self._submit_ok(broker, order, "before the look-up")
        cid = order.client_order_id
        found = await self.expect(
            broker, "the contract requires the order found by its client order id",
            "find_order", cid, instrument,
        )
        if found is None:
            pytest.fail(
                f"{broker.name}: find_order({cid}) returned None after a successful submit; "
                "the contract requires the order to be found by its client order id",
                pytrace=False,
            )
        if found.client_order_id != cid:
            pytest.fail(
                f"{broker.name}: find_order({cid}) returned an order with client_order_id "
                f"{found.client_order_id!r}; the contract requires the order with the id "
                "it was looked up by (Order.client_order_id used verbatim)",
                pytrace=False,
            )
        if found.status not in (*_SUCCESS, OrderStatus.CANCELED):
            pytest.fail(
                f"{broker.name}: find_order({cid}) {_outcome(found)} for an order the venue "
                "accepted; the contract requires its venue status (accepted, filled, ...)",
                pytrace=False,
            )

    @pytest.mark.asyncio
    async def test_fill_stream_reports_a_market_fill(self, broker: Broker) -> None:
        """With ``fill_stream`` declared: the stream says when it is live (``None``), then
        yields the fill of a market order with its client order id, and ``fills_since``
        lists the same execution under the same trade id."""
        self._skip_unless_trading(broker)
        if not broker.capabilities.fill_stream:
            pytest.skip(f"{broker.name} declares capabilities.fill_stream=False")
        if OrderType.MARKET not in broker.capabilities.order_types:
            pytest.skip(f"{broker.name} declares no market orders; this test needs one to fill")
        instrument = await self._instrument(broker)
        quantity = await self._small_quantity(broker, instrument)
        order = await self._order(broker, instrument, quantity=quantity,
                                  order_type=OrderType.MARKET)
        since = broker.context.clock.time() - 60
        stream = broker.stream_fills()
        got: Fill | None = None
        try:
            async with asyncio.timeout(self.fill_stream_seconds):
                while await anext(stream) is not None:
                    pass  # fills of earlier orders: wait for the stream to be live
            await self._submit_ok(broker, order, "before its fill is streamed")
            async with asyncio.timeout(self.fill_stream_seconds):
                async for item in stream:
                    if item is not None and item.client_order_id == order.client_order_id:
                        got = item
                        break
        except TimeoutError:
            pytest.fail(
                f"{broker.name}: the fill stream reported no fill of {order.client_order_id} "
                f"within {self.fill_stream_seconds:g} s; the contract requires it to yield None "
                "once subscribed, then every fill with the order's client order id",
                pytrace=False)
        finally:
            await stream.aclose()  # type: ignore[attr-defined]
        assert got is not None
        if not (got.trade_id and got.side is order.side and got.quantity > 0
                and got.price > 0 and isinstance(got.quantity, Decimal)):
            pytest.fail(f"{broker.name}: streamed fill {got!r} lacks a trade id, the order's "
                        "side, or a positive Decimal size and price", pytrace=False)
        listed = await self.expect(broker, "the contract requires the REST fills since a time",
                                   "fills_since", since)
        if got.trade_id not in {fill.trade_id for fill in listed}:
            pytest.fail(f"{broker.name}: fills_since() does not list trade {got.trade_id} that "
                        "the stream reported; the contract requires the same trade id on both, "
                        "so a fill seen twice counts once", pytrace=False)

    @pytest.mark.asyncio
    async def test_find_order_of_unknown_id_returns_none(self, broker: Broker) -> None:
        self._skip_unless_trading(broker)
        if not broker.capabilities.find_order:
            pytest.skip(f"{broker.name} declares capabilities.find_order=False")
        instrument = await self._instrument(broker)
        cid = self.client_order_id("never-sent")
        try:
            found = await self.call(broker, "find_order", cid, instrument)
        except Exception as exc:
            pytest.fail(
                f"{broker.name}: find_order({cid}) for an id never sent {_describe(exc)}; "
                "the contract requires None when the venue has no such order",
                pytrace=False,
            )
        if found is not None:
            pytest.fail(
                f"{broker.name}: find_order({cid}) for an id never sent {_outcome(found)}; "
                "the contract requires None when the venue has no such order",
                pytrace=False,
            )

    @pytest.mark.asyncio
    async def test_cancel_resting_order(self, broker: Broker) -> None:
        self._skip_unless_trading(broker)
        caps = broker.capabilities
        if not caps.cancel:
            pytest.skip(f"{broker.name} declares capabilities.cancel=False")
        resting = self.resting_order_type
        if resting not in caps.order_types:
            pytest.skip(f"{broker.name} declares no {resting.value} orders; set "
                        "resting_order_type to one that rests on the book")
        instrument = await self._instrument(broker)
        price = self.resting_limit_price
        if price is None:
            reference = await self._reference_price(broker, instrument)
            if not reference:
                pytest.skip(
                    f"{broker.name} gives no reference price; set resting_limit_price to a buy "
                    "limit price that rests on the book"
                )
            tick = instrument.tick_size
            price = (reference / 2 / tick).to_integral_value() * tick
        quantity = await self._small_quantity(broker, instrument)
        is_stop = resting in (OrderType.STOP, OrderType.STOP_LIMIT, OrderType.TRAILING_STOP,
                              OrderType.TAKE_PROFIT, OrderType.TAKE_PROFIT_LIMIT)
        order = await self._order(
            broker, instrument, quantity=quantity, order_type=resting,
            limit_price=None if resting is OrderType.STOP else price,
            stop_price=price if is_stop else None, tag="resting",
        )
        what = f"a buy {resting.value} at {price} meant to rest"
        placed = await self._submit_ok(broker, order, what)
        if placed.status is not OrderStatus.ACCEPTED:
            pytest.fail(
                f"{broker.name}: {what} {_outcome(placed)}; the cancel test needs an order "
                "that rests: set resting_order_type / resting_limit_price",
                pytrace=False,
            )
        cid = order.client_order_id
        try:
            cancelled = await self.call(broker, "cancel_order", cid, instrument)
        except Exception as exc:
            pytest.fail(
                f"{broker.name}: cancel_order({cid}) of a resting order {_describe(exc)}; "
                "the contract requires it to be cancelled by its client order id",
                pytrace=False,
            )
        if cancelled.status is not OrderStatus.CANCELED or cancelled.client_order_id != cid:
            pytest.fail(
                f"{broker.name}: cancel_order({cid}) {_outcome(cancelled)}; the contract "
                "requires status canceled and the same client order id",
                pytrace=False,
            )
        if caps.find_order:
            found = await self.expect(
                broker, "the contract requires the cancelled order found by its client "
                "order id", "find_order", cid, instrument,
            )
            if found is None or found.status is not OrderStatus.CANCELED:
                pytest.fail(
                    f"{broker.name}: find_order({cid}) after a cancel {_outcome(found)}; the "
                    "contract requires the order found with status canceled",
                    pytrace=False,
                )

    # ---- denied versus rejected ----------------------------------------------------------------

    @pytest.mark.asyncio
    async def test_undeclared_order_type_is_denied(self, broker: Broker) -> None:
        self._skip_unless_trading(broker)
        undeclared = [t for t in _EXOTIC_TYPES if t not in broker.capabilities.order_types]
        if not undeclared:
            pytest.skip(f"{broker.name} declares every order type")
        order_type = undeclared[0]
        instrument = await self._instrument(broker)
        quantity = await self._small_quantity(broker, instrument)
        price = await self._reference_price(broker, instrument) or instrument.tick_size * 1000
        order = await self._order(
            broker, instrument, quantity=quantity, order_type=order_type, tag="undeclared",
            limit_price=price, stop_price=price, trail_amount=instrument.tick_size * 10,
        )
        expectation = (
            f"the contract requires an order type outside capabilities.order_types "
            f"({order_type.value}) to be denied before sending: raise a BrokerError with "
            "from_venue=False (NotSupported) or return status denied"
        )
        try:
            result = await self.call(broker, "submit_order", order)
        except BrokerError as exc:
            if exc.from_venue or isinstance(exc, AmbiguousOutcome):
                pytest.fail(f"{broker.name}: submit_order {_describe(exc)}; {expectation}",
                            pytrace=False)
            return
        if result.status is not OrderStatus.DENIED:
            pytest.fail(f"{broker.name}: submit_order {_outcome(result)}; {expectation}",
                        pytrace=False)

    @pytest.mark.asyncio
    async def test_venue_refusal_is_a_rejection(
        self, broker: Broker, venue_rejection_order: Any
    ) -> None:
        self._skip_unless_trading(broker)
        if venue_rejection_order is None:
            pytest.skip(
                f"{type(self).__name__} provides no venue_rejection_order fixture "
                "(an order the fake venue refuses)"
            )
        order = venue_rejection_order
        if callable(order):
            order = order(await self._instrument(broker))
        expectation = (
            "the contract requires a refusal by the venue to be a rejection: a BrokerError "
            "with from_venue=True or status rejected"
        )
        try:
            result = await self.call(broker, "submit_order", order)
        except BrokerError as exc:
            if not exc.from_venue:
                pytest.fail(
                    f"{broker.name}: submit_order({_order_text(order)}) {_describe(exc)}; "
                    f"{expectation}",
                    pytrace=False,
                )
            return
        if result.status is not OrderStatus.REJECTED:
            pytest.fail(
                f"{broker.name}: submit_order({_order_text(order)}) {_outcome(result)}; "
                f"{expectation}",
                pytrace=False,
            )

    # ---- ambiguous outcome ---------------------------------------------------------------------

    @pytest.mark.asyncio
    async def test_ambiguous_outcome_is_found_by_client_order_id(
        self, ambiguous_broker: Broker | None
    ) -> None:
        if ambiguous_broker is None:
            pytest.skip(
                f"{type(self).__name__} provides no ambiguous_broker fixture (a broker whose "
                "transport drops the reply after the venue executed the order)"
            )
        broker = ambiguous_broker
        self._skip_unless_trading(broker)
        order_type = self._entry_type(broker)
        instrument = await self._instrument(broker)
        quantity = await self._small_quantity(broker, instrument)
        order = await self._order(
            broker, instrument, quantity=quantity, order_type=order_type, tag="ambiguous"
        )
        cid = order.client_order_id
        try:
            result = await self.call(broker, "submit_order", order)
        except AmbiguousOutcome:
            pass
        except Exception as exc:
            pytest.fail(
                f"{broker.name}: submit_order with the reply dropped {_describe(exc)}; the "
                "contract requires AmbiguousOutcome (or status unknown): the order may exist",
                pytrace=False,
            )
        else:
            if result.status is not OrderStatus.UNKNOWN:
                pytest.fail(
                    f"{broker.name}: submit_order with the reply dropped {_outcome(result)}; "
                    "the contract requires AmbiguousOutcome (or status unknown)",
                    pytrace=False,
                )
        if not broker.capabilities.find_order:
            pytest.fail(
                f"{broker.name}: declares capabilities.find_order=False yet can meet an "
                "ambiguous outcome; the contract requires find_order to resolve it",
                pytrace=False,
            )
        found = await self.expect(
            broker, "the contract requires find_order to locate the order after an "
            "ambiguous outcome", "find_order", cid, instrument,
        )
        if found is None or found.client_order_id != cid or found.status not in _SUCCESS:
            pytest.fail(
                f"{broker.name}: find_order({cid}) after the dropped reply {_outcome(found)}; "
                "the contract requires the one executed order, found by its client order id",
                pytrace=False,
            )

    # ---- reverse legs --------------------------------------------------------------------------

    @pytest.mark.asyncio
    async def test_reverse_close_leg_then_open_leg(self, broker: Broker) -> None:
        self._skip_unless_trading(broker)
        caps = broker.capabilities
        if not (caps.can_short or caps.net_position):
            pytest.skip(f"{broker.name} declares neither can_short nor net_position")
        order_type = self._entry_type(broker)
        instrument = await self._instrument(broker)
        quantity = await self._small_quantity(broker, instrument)
        start = await self._position(broker, instrument)

        async def leg(side: Side, purpose: LegPurpose, expected: Decimal, what: str) -> None:
            order = await self._order(
                broker, instrument, quantity=quantity, side=side, order_type=order_type,
                purpose=purpose, reduce_only=purpose is LegPurpose.CLOSE and caps.reduce_only,
                tag=purpose.value,
            )
            await self._submit_ok(broker, order, what)
            now = await self._position(broker, instrument)
            if now != expected:
                pytest.fail(
                    f"{broker.name}: position({instrument.symbol}) is {now} after {what}; "
                    f"the contract requires {expected}",
                    pytrace=False,
                )

        await leg(Side.BUY, LegPurpose.OPEN, start + quantity, f"opening a long of {quantity}")
        await leg(Side.SELL, LegPurpose.CLOSE, start, f"the close leg (sell {quantity})")
        await leg(Side.SELL, LegPurpose.OPEN, start - quantity, f"the open leg (sell {quantity})")

    @pytest.mark.asyncio
    async def test_reduce_only_never_opens_a_position(self, broker: Broker) -> None:
        self._skip_unless_trading(broker)
        if not broker.capabilities.reduce_only:
            pytest.skip(f"{broker.name} declares capabilities.reduce_only=False")
        order_type = self._entry_type(broker)
        instrument = await self._instrument(broker)
        if await self._position(broker, instrument) != 0:
            pytest.skip(f"{broker.name}: the fake venue does not start flat")
        quantity = await self._small_quantity(broker, instrument)
        order = await self._order(
            broker, instrument, quantity=quantity, side=Side.BUY, order_type=order_type,
            purpose=LegPurpose.CLOSE, reduce_only=True, tag="reduce-only",
        )
        try:
            await self.call(broker, "submit_order", order)
        except BrokerError:
            pass  # refused, locally or by the venue: both keep the account flat
        now = await self._position(broker, instrument)
        if now != 0:
            pytest.fail(
                f"{broker.name}: a reduce-only buy while flat left position {now}; the "
                "contract requires reduce-only orders never to open a position",
                pytrace=False,
            )

    # ---- secrets and stubs ---------------------------------------------------------------------

    @pytest.mark.asyncio
    async def test_secrets_absent_from_reprs_and_errors(self, broker: Broker) -> None:
        if not self.secrets:
            pytest.skip(f"{type(self).__name__} declares no secrets to look for")
        self._leak_check(broker, "repr(broker)", repr(broker))
        self._leak_check(broker, "str(broker)", str(broker))
        self._leak_check(broker, "repr(broker.config)", repr(broker.config))
        self._leak_check(broker, "broker.config as JSON", broker.config.model_dump_json())
        for where, text in _attribute_texts(broker):
            self._leak_check(broker, where, text)
        instrument = _stub_instrument(self.known_symbol or "BTCUSD")
        with_errors: list[tuple[str, tuple[Any, ...]]] = [
            ("resolve", (self._symbol(self.unknown_symbol or "NOPEUSD"),)),
            ("find_order", (self.client_order_id("never-sent"), instrument)),
            ("cancel_order", (self.client_order_id("never-sent"), instrument)),
            ("submit_order", (self.make_order(broker, instrument, quantity=Decimal(0)),)),
        ]
        for method, args in with_errors:
            try:
                await self.call(broker, method, *args)  # checks the error it raises
            except Exception:  # noqa: S112 - only the messages matter here
                continue

    @pytest.mark.asyncio
    async def test_stub_refuses_orders_as_a_stub(self, broker: Broker) -> None:
        if not broker.stub:
            pytest.skip(f"{broker.name} is not a stub")
        instrument = await self._instrument(broker)
        order = self.make_order(broker, instrument, quantity=instrument.lot_size, tag="stub")
        expectation = (
            "the contract requires a stub's submit_order to raise NotSupported whose message "
            "says (stub)"
        )
        try:
            result = await self.call(broker, "submit_order", order)
        except NotSupported as exc:
            if "(stub)" not in str(exc):
                pytest.fail(f"{broker.name}: submit_order {_describe(exc)}; {expectation}",
                            pytrace=False)
            if exc.from_venue:
                pytest.fail(f"{broker.name}: submit_order {_describe(exc)}; a stub sends "
                            "nothing, so from_venue must be False", pytrace=False)
            return
        except Exception as exc:
            pytest.fail(f"{broker.name}: submit_order {_describe(exc)}; {expectation}",
                        pytrace=False)
        pytest.fail(f"{broker.name}: submit_order {_outcome(result)}; {expectation}",
                    pytrace=False)


def _attribute_texts(broker: Broker) -> Iterator[tuple[str, str]]:
    """``(where, text)`` for the broker's own attributes, ``ATTRIBUTE_DEPTH`` levels down
    (``vars()``, slots, dict keys and values, list items): each one's repr and str, a string's
    text, a byte string's bytes. Held secrets must be ``SecretStr``/``SecretBytes``, which mask
    themselves and are not opened. The core's objects (the context with its environment, the
    nonce and rate-limit registries) are not the broker's and are left out."""
    seen = {id(broker), id(broker.context), id(broker.context.environ)}
    for name, value in _attributes(broker):
        yield from _walk(value, f"broker.{name}", ATTRIBUTE_DEPTH - 1, seen)


_SCALARS = (bool, int, float, complex, Decimal, enum.Enum)
_OPAQUE = (type, types.ModuleType, types.FunctionType, types.BuiltinFunctionType,
           types.MethodType, types.CoroutineType, types.GeneratorType)


def _walk(value: Any, where: str, depth: int, seen: set[int]) -> Iterator[tuple[str, str]]:
    if value is None or isinstance(value, (*_SCALARS, SecretStr, SecretBytes)):
        return
    if isinstance(value, str):
        yield f"{where} (a string attribute)", value
        return
    if isinstance(value, bytes | bytearray):
        yield f"{where} (a bytes attribute)", bytes(value).decode("utf-8", "replace")
        return
    if id(value) in seen or isinstance(value, _OPAQUE) or _core_owned(value):
        return
    seen.add(id(value))
    # The parts first, so a failure names the innermost place; a container's own repr is only
    # read where the walk stops (its items' reprs say the same, more precisely).
    container = isinstance(value, Mapping | list | tuple | set | frozenset)
    if depth > 0:
        yield from _parts(value, where, depth, seen)
    if container and depth > 0:
        return
    for how, render in (("repr", repr), ("str", str)):
        try:
            text = render(value)
        except Exception:  # noqa: S112 - a repr that fails shows nothing
            continue
        yield f"{how}({where})", text


def _parts(value: Any, where: str, depth: int, seen: set[int]) -> Iterator[tuple[str, str]]:
    if isinstance(value, Mapping):
        try:
            items = list(value.items())
        except Exception:
            return
        for key, item in items:
            yield from _walk(key, f"{where} (a key)", depth - 1, seen)
            yield from _walk(item, f"{where}[{key!r}]", depth - 1, seen)
    elif isinstance(value, list | tuple | set | frozenset):
        for index, item in enumerate(value):
            yield from _walk(item, f"{where}[{index}]", depth - 1, seen)
    else:
        for name, item in _attributes(value):
            yield from _walk(item, f"{where}.{name}", depth - 1, seen)


def _attributes(obj: Any) -> list[tuple[str, Any]]:
    """An object's own attributes: its ``__dict__`` and its slots (no properties, no calls)."""
    found: dict[str, Any] = {}
    try:
        found.update(vars(obj))
    except TypeError:
        pass
    for cls in type(obj).__mro__:
        slots = cls.__dict__.get("__slots__", ())
        for name in (slots,) if isinstance(slots, str) else slots:
            if name in ("__dict__", "__weakref__") or name in found:
                continue
            stored = name  # a private slot is stored under its mangled name
            if name.startswith("__") and not name.endswith("__"):
                stored = f"_{cls.__name__.lstrip('_')}{name}"
            try:
                found[name] = object.__getattribute__(obj, stored)
            except AttributeError:
                continue
    return list(found.items())


def _core_owned(value: Any) -> bool:
    module = type(value).__module__ or ""
    return module == "router_core" or module.startswith("router_core.")


def _stub_instrument(ticker: str) -> Instrument:
    """A plausible instrument for calls that must not depend on the venue's listing."""
    from ..normalize import normalize

    symbol = normalize(ticker)
    return Instrument(
        symbol=symbol.ticker or ticker,
        base=symbol.base or symbol.root or "BASE",
        quote=symbol.quote or "USD",
        kind=symbol.kind,
        tick_size=Decimal("0.01"),
        lot_size=Decimal("0.001"),
    )


def _short(value: Any) -> str:
    if isinstance(value, Instrument):
        return value.symbol
    if isinstance(value, Order):
        return value.client_order_id
    return str(value) if isinstance(value, str) else repr(value)


def _order_text(order: Order) -> str:
    price = f" @ {order.limit_price}" if order.limit_price is not None else ""
    flags = " reduce_only" if order.reduce_only else ""
    return (
        f"{order.side.value} {order.quantity} {order.instrument.symbol} "
        f"{order.order_type.value}{price}{flags}, id {order.client_order_id}"
    )
