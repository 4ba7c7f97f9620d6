"""The paper venue: a simulated exchange behind the ordinary ``Broker`` contract.

It behaves like a real venue from the engine's point of view: orders travel
to it (with optional latency on the engine clock), are validated against the
instrument's rules and the venue's own account, acknowledged with a venue
order id, matched against the market data it sees (see ``matching``) and
reported back as ``OrderUpdate`` and ``Fill`` records on the bus.

Synchronous by design: ``place_order``, ``cancel_order`` and ``amend_order``
are ``async def`` to honour the contract but never suspend, so a backtester
can drive them without an event loop (``engine.tasks.InlineRunner``) or call
the plain methods ``submit``, ``request_cancel`` and ``request_amend``.
Market data comes from the bus (``Tick``, ``OrderBook``, ``Bar``, subscribed in
``connect`` unless ``bus_market_data`` is off) or from direct calls to
``on_tick``, ``on_book`` and ``on_bar``. Everything is deterministic: ids are
counters, and nothing is random.

Example::

    venue = PaperBroker("paper", bus, clock, instruments=[krx_stock("005930")],
                        config=PaperConfig.from_settings({"initial_cash": 10_000_000}))
    await venue.connect()
    await venue.place_order(order)      # reports arrive on the bus
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from datetime import date, datetime
from decimal import ROUND_FLOOR, ROUND_HALF_EVEN, Decimal
from zoneinfo import ZoneInfo

import pandas as pd

from brokers.paper.account import VenueAccount
from brokers.paper.config import PaperConfig
from brokers.paper.matching import (
    NEVER,
    MatchingEngine,
    PlanStep,
    WorkingOrder,
    session_end_ns,
)
from brokers.paper.terms import Terms
from engine.bus import EventBus, Subscription
from engine.calendars import MarketCalendar, get_calendar, index_to_ns
from engine.clock import Clock
from engine.errors import UserError
from engine.execution.broker import (
    Broker,
    BrokerCapabilities,
    BrokerError,
    BrokerUnavailable,
    OrderUpdate,
)
from engine.models import (
    Account,
    Bar,
    ConnectionState,
    Fill,
    FundingPayment,
    Instrument,
    Liquidity,
    Order,
    OrderBook,
    OrderStatus,
    OrderType,
    Position,
    Side,
    Tick,
    Timeframe,
    TimeInForce,
)
from engine.models.numbers import ZERO, to_decimal
from engine.models.orders import evolve

log = logging.getLogger(__name__)

S = OrderStatus
# Enum members as module constants: ``OrderStatus.FILLED`` is an attribute lookup on
# the enum class, ~70 ns each time on the order path.
BUY, SELL = Side.BUY, Side.SELL
ACCEPTED, FILLED, PARTIALLY_FILLED = S.ACCEPTED, S.FILLED, S.PARTIALLY_FILLED
STOP, DAY, CONNECTED = OrderType.STOP, TimeInForce.DAY, ConnectionState.CONNECTED
BarSource = Mapping[str, pd.DataFrame] | Callable[[str, str, int | None, int | None], pd.DataFrame]
OHLCV = ["open", "high", "low", "close", "volume"]
_STOPS = (OrderType.STOP, OrderType.STOP_LIMIT)
_PRICED = (OrderType.LIMIT, OrderType.STOP_LIMIT)
_IMMEDIATE = (TimeInForce.IOC, TimeInForce.FOK)


class PaperBroker(Broker):
    """A simulated venue; see the module docstring and ``brokers.paper.matching``."""

    capabilities = BrokerCapabilities(amend=True, reduce_only=True, post_only=True,
                                      short_selling=True, inline_commands=True)

    def __init__(self, name: str, bus: EventBus, clock: Clock, *,
                 config: PaperConfig | None = None, instruments: Iterable[Instrument] = (),
                 bar_source: BarSource | None = None) -> None:
        super().__init__(name, bus, clock, live=False)
        self.config = config or PaperConfig()
        self.account = VenueAccount(self.config.cash)
        self.matching = MatchingEngine(
            self,
            slippage_bps=self.config.slippage_bps,
            fill_on_touch=self.config.fill_on_touch,
            bar_fill_on_touch=self.config.bar_fill_on_touch,
            bar_participation=self.config.bar_participation,
            calendar_for=self._calendar,
        )
        self.bar_source = bar_source
        self._instruments: dict[str, Instrument] = {}
        self._terms: dict[str, Terms] = {}
        self._working: dict[str, WorkingOrder] = {}
        # Closed orders: an Order, or a closed working order made into one when asked.
        self._closed: dict[str, Order | WorkingOrder] = {}
        self._seen: set[str] = set()
        self._fills: list[Fill] = []
        self._order_no = 0
        self._fill_no = 0
        self._subs: list[Subscription] = []
        self._calendars: dict[str, MarketCalendar | None] = {}
        self._resampled: dict[tuple[str, str], pd.DataFrame] = {}
        self.subscriptions: dict[str, set[str]] = {"ticks": set(), "book": set(), "bars": set()}
        for inst in instruments:
            self.add_instrument(inst)

    # ---- connection -----------------------------------------------------------
    async def connect(self) -> None:
        """Go online: publish CONNECTING then CONNECTED, and listen to market data."""
        self._set_state(ConnectionState.CONNECTING)
        if self.config.bus_market_data and not self._subs:
            matching = self.matching
            self._subs = [
                self.bus.subscribe(Tick, self.on_tick),
                self.bus.subscribe(OrderBook, matching.on_book),
                self.bus.subscribe(Bar, matching.on_bar),
            ]
        self._set_state(ConnectionState.CONNECTED)

    async def disconnect(self) -> None:
        """Go offline. Resting orders stay at the venue, as they would at a real one."""
        for sub in self._subs:
            self.bus.unsubscribe(sub)
        self._subs = []
        self._set_state(ConnectionState.DISCONNECTED)

    # ---- restart -------------------------------------------------------------------
    def resume(self, fills: Iterable[Fill], orders: Iterable[Order] = ()) -> int:
        """Pick up where an earlier run of this venue left off, from the engine's journal.

        Cash and holdings are rebuilt by booking this venue's journaled fills again,
        and order and fill numbers continue after the highest ones used, so a new id
        never repeats an old one (the OMS would take it for a duplicate). Resting
        orders are not kept across a restart: the caller cancels them. Returns the
        fills booked.
        """
        booked = 0
        for fill in fills:
            inst = self._instruments.get(fill.symbol)
            if fill.broker != self.name or inst is None:
                continue
            self.account.apply_fill(fill, inst, inst.max_leverage)
            self._fill_no = max(self._fill_no, _serial(fill.fill_id))
            booked += 1
        for order in orders:
            if order.broker == self.name and order.broker_order_id:
                self._order_no = max(self._order_no, _serial(order.broker_order_id))
        return booked

    # ---- reference data ---------------------------------------------------------
    def add_instrument(self, inst: Instrument) -> None:
        """Make ``inst`` tradable here (its rules are what the venue enforces)."""
        self._instruments[inst.symbol] = inst
        self._terms[inst.symbol] = Terms(inst)
        self.matching.add_instrument(inst)

    async def instruments(self) -> list[Instrument]:
        return list(self._instruments.values())

    def set_reference_price(self, symbol: str, price: float) -> None:
        """Base of today's ±band for ``symbol`` when the data holds no previous close."""
        market = self.matching.markets[symbol]
        market.prev_close = float(price)

    # ---- market data ------------------------------------------------------------
    async def subscribe_ticks(self, symbols: Iterable[str]) -> None:
        """Recorded only: the paper venue reads trades from the bus (a replay, another feed)."""
        self.subscriptions["ticks"].update(symbols)

    async def subscribe_order_book(self, symbols: Iterable[str], depth: int = 10) -> None:
        self.subscriptions["book"].update(symbols)

    async def subscribe_bars(self, symbols: Iterable[str], timeframe: str = "1m") -> None:
        self.subscriptions["bars"].update(symbols)

    async def unsubscribe(self, symbols: Iterable[str]) -> None:
        for group in self.subscriptions.values():
            group.difference_update(symbols)

    async def fetch_bars(self, symbol: str, timeframe: str, start_ns: int | None = None,
                         end_ns: int | None = None) -> pd.DataFrame:
        """Bars from the ``bar_source`` given at construction, resampled if needed.

        ``start_ns`` is inclusive and ``end_ns`` exclusive (bar open times).
        """
        source = self.bar_source
        if source is None:
            return _empty_bars()
        if callable(source):
            return source(symbol, timeframe, start_ns, end_ns)
        frame = source.get(symbol)
        if frame is None:
            return _empty_bars()
        tf = Timeframe.parse(timeframe).name
        if tf != self.config.bar_timeframe:
            key = (symbol, tf)
            if key not in self._resampled:
                from engine.data.resample import resample

                inst = self._instruments.get(symbol)
                self._resampled[key] = resample(
                    frame, tf, inst.calendar if inst else None,
                    source_timeframe=self.config.bar_timeframe)
            frame = self._resampled[key]
        if not len(frame):
            return frame
        index = index_to_ns(frame.index)  # the frame's unit may be us or s, not ns
        lo = 0 if start_ns is None else int(index.searchsorted(start_ns, "left"))
        hi = len(frame) if end_ns is None else int(index.searchsorted(end_ns, "left"))
        return frame.iloc[lo:hi]

    def on_tick(self, tick: Tick) -> None:
        """A trade printed (also the bus handler)."""
        price = tick.price
        if price > 0:  # NaN and non-positive prints are dropped, never matched on
            self.matching.on_trade(tick.symbol, tick.ts_ns, price, tick.size)

    def on_book(self, book: OrderBook) -> None:
        self.matching.on_book(book)

    def on_bar(self, bar: Bar) -> None:
        """A bar closed (publish it with the clock at or after the bar's end)."""
        self.matching.on_bar(bar)

    # ---- commands ---------------------------------------------------------------
    async def place_order(self, order: Order) -> None:
        """Send ``order``; never suspends (see the module docstring)."""
        self.submit(order)

    async def cancel_order(self, order: Order) -> None:
        self.request_cancel(order)

    async def amend_order(self, order: Order, quantity: Decimal | None = None,
                          price: Decimal | None = None) -> None:
        self.request_amend(order, quantity, price)

    async def cancel_all(self, symbol: str | None = None) -> None:
        for wo in list(self._working.values()):
            if symbol is None or wo.symbol == symbol:
                self.request_cancel(wo.order)

    def submit(self, order: Order) -> None:
        """Synchronous ``place_order``: the order reaches the venue after the latency."""
        self._check_online()
        if self.config.latency_ns <= 0:
            self._arrive(order)
        else:
            self._after_latency(f"place {order.client_order_id}", self._arrive, order)

    def request_cancel(self, order: Order) -> None:
        self._check_online()
        if self.config.latency_ns <= 0:
            self._cancel_arrives(order)
        else:
            self._after_latency(f"cancel {order.client_order_id}", self._cancel_arrives, order)

    def request_amend(self, order: Order, quantity: Decimal | None = None,
                      price: Decimal | None = None) -> None:
        self._check_online()
        if quantity is None and price is None:
            raise BrokerError("amend needs a new quantity or price")
        self._after_latency(f"amend {order.client_order_id}", self._amend_arrives,
                            order, quantity, price)

    def _check_online(self) -> None:
        if self.state is not CONNECTED:
            raise BrokerUnavailable(f"{self.name} is {self.state.value.lower()}")

    def _after_latency(self, what: str, fn: Callable[..., None], *args: object) -> None:
        delay = self.config.latency_ns
        if delay <= 0:
            fn(*args)
        else:
            self.clock.call_later(delay, lambda _now: fn(*args), name=f"{self.name}: {what}")

    # ---- arrival at the venue -----------------------------------------------------
    def _arrive(self, order: Order) -> None:
        cid = order.client_order_id
        if cid in self._seen:
            self._report(cid, S.REJECTED, reason=f"duplicate client order id {cid}")
            return
        self._seen.add(cid)
        now = self.clock.now_ns()
        terms = self._terms.get(order.symbol)
        if terms is None:
            known = ", ".join(sorted(self._instruments)[:8]) or "none"
            self._reject(order, f"unknown symbol {order.symbol!r} at {self.name} (known: {known})")
            return
        reason = self._validate(order, terms.inst, now)
        if reason:
            self._reject(order, reason)
            return
        self._order_no += 1
        wo = WorkingOrder(order, terms, f"{self.name}-{self._order_no}",
                          self.matching.next_seq(), now)
        reason = self._reserve(wo)
        if not reason and wo.tif is DAY:
            reason = self._schedule_expiry(wo, now)
        if not reason and order.post_only and self.matching.would_take(wo):
            reason = f"post-only order at {order.price} would take liquidity"
        if reason:
            self._release(wo)
            self._cancel_timer(wo)
            self._reject(order, reason, wo.boid)
            return
        self._working[cid] = wo
        self._report(cid, ACCEPTED, wo.boid)
        self.matching.add(wo)

    def _validate(self, order: Order, inst: Instrument, now: int) -> str:
        kind, tif = order.order_type, order.time_in_force
        stop = kind in _STOPS
        if stop and tif in _IMMEDIATE:
            return f"{kind.value} orders cannot be {tif.value}: a stop waits for its trigger"
        if order.post_only and (kind is not OrderType.LIMIT or tif in _IMMEDIATE):
            return "post-only needs a GTC or DAY LIMIT order"
        needs_price = kind in _PRICED
        if needs_price and order.price is None:
            return f"{kind.value} order needs a limit price"
        if stop and order.stop_price is None:
            return f"{kind.value} order needs a stop price"
        qty = order.quantity
        if not qty > 0:
            return f"quantity must be positive, got {qty}"
        if qty % inst.lot_size:
            return f"quantity {qty} is not a multiple of the lot size {inst.lot_size}"
        if qty < inst.min_qty:
            return f"quantity {qty} is below the minimum {inst.min_qty}"
        # Both are set when needed (checked above); a market order has none to check.
        prices = _prices(order, needs_price, stop) if needs_price or stop else ()
        for what, p in prices:
            if p <= 0:
                return f"{what} must be positive, got {p}"
            if not inst.is_valid_price(p):
                return (f"{what} {p} is not on the tick grid (tick {inst.tick_size(p)} "
                        f"at this price; nearest valid {inst.snap_price(p)})")
        market = self.matching.markets[inst.symbol]
        base = market.base_price(now) if market.banded else None
        if base is not None:
            limits = inst.price_limits(base)
            assert limits is not None
            lo, hi = limits
            for what, p in prices:
                if not lo <= p <= hi:
                    return (f"{what} {p} is outside today's price limits {lo}..{hi} "
                            f"(±{inst.price_band_pct * 100:g}% of the previous close "  # type: ignore[operator]
                            f"{inst.snap_price(base)})")
        if order.reduce_only:
            held = self.account.holding(inst)
            if held == 0 or (held > 0) == (order.side is BUY):
                return "reduce-only order would open or increase a position"
            if qty > abs(held):
                return f"reduce-only order of {qty} exceeds the position of {abs(held)}"
        if inst.min_notional > 0:
            value = order.price if needs_price else order.stop_price
            if value is None:
                ref = market.reference()
                if ref is None:
                    return (f"no market price for {inst.symbol} yet: cannot check the "
                            f"minimum notional of a market order")
                value = inst.snap_price(ref)
            notional = inst.notional(value, qty)
            if notional < inst.min_notional:
                return (f"order notional {notional} {inst.currency} is below the minimum "
                        f"{inst.min_notional} {inst.currency}")
        return ""

    # ---- reservations ---------------------------------------------------------------
    def _price_for_cash(self, wo: WorkingOrder) -> Decimal | None:
        if wo.limit is not None and wo.kind is not STOP:
            return wo.limit
        if wo.kind is STOP and wo.stop is not None:
            return self.matching._slipped(wo.inst, wo.stop, wo.buy)
        return self.matching.estimate_price(wo)

    def _reserve(self, wo: WorkingOrder) -> str:
        inst = wo.inst
        if not wo.buy and not inst.allows_short:
            sellable = self.account.sellable(inst)
            if wo.qty > sellable:
                held = self.account.holding(inst)
                return (f"insufficient holdings: selling {wo.qty} {inst.symbol} but only "
                        f"{max(sellable, ZERO)} is available (held {held}, "
                        f"{self.account.reserved_qty(inst.symbol)} in open sell orders); "
                        f"short selling is not allowed for {inst.symbol}")
            self.account.reserve_qty(inst.symbol, wo.qty)
            wo.reserved_qty = wo.qty
        if not wo.needs_cash:
            return ""
        price = self._price_for_cash(wo)
        if price is None:
            return f"no market price for {inst.symbol} yet: cannot value a market order"
        need = wo.terms.cost(price, wo.qty)
        free = self.account.free_cash(inst.currency)
        if need > free:
            return (f"insufficient cash: the order needs {need} {inst.currency} "
                    f"(incl. fees{', as margin' if inst.asset_class.is_derivative else ''}), "
                    f"{max(free, ZERO)} {inst.currency} is available")
        self.account.reserve_cash(inst.currency, need)
        wo.reserved_cash = need
        return ""

    def _release(self, wo: WorkingOrder) -> None:
        if wo.reserved_cash:
            self.account.release_cash(wo.inst.currency, wo.reserved_cash)
            wo.reserved_cash = ZERO
        if wo.reserved_qty:
            self.account.release_qty(wo.symbol, wo.reserved_qty)
            wo.reserved_qty = ZERO

    # ---- DAY orders -------------------------------------------------------------------
    def _schedule_expiry(self, wo: WorkingOrder, now: int) -> str:
        """Set a DAY order's expiry at its session's close ("" or why it cannot have one)."""
        calendar = self._calendar(wo.inst)
        if calendar is None:
            return f"DAY orders need a market calendar; {wo.inst.calendar!r} is unknown"
        wo.expire_ns = session_end_ns(calendar, now)
        if wo.expire_ns >= NEVER:
            return f"no session of {calendar.name} is known after now: DAY orders cannot expire"
        wo.timer = self.clock.call_at(wo.expire_ns, lambda _now: self._session_closed(wo),
                                      name=f"{self.name}: DAY expiry {wo.cid}")
        return ""

    def _session_closed(self, wo: WorkingOrder) -> None:
        if wo.done:
            return
        if self.matching.bar_mode(wo.symbol):
            return  # bars are matched after they close: the bar holding the close expires it
        self.matching.expire(wo)

    def expire_day_orders(self, now_ns: int | None = None) -> int:
        """Expire every DAY order whose session closed by ``now_ns`` (default: now).

        Timers do this by themselves; call it from a session-close hook to force it.
        """
        now = self.clock.now_ns() if now_ns is None else now_ns
        due = [wo for wo in self._working.values() if wo.expire_ns <= now]
        for wo in due:
            self.matching.expire(wo)
        return len(due)

    def _cancel_timer(self, wo: WorkingOrder) -> None:
        if wo.timer is not None:
            wo.timer.cancel()  # type: ignore[attr-defined]
            wo.timer = None

    # ---- cancels and amends --------------------------------------------------------------
    def _find(self, order: Order) -> WorkingOrder | None:
        wo = self._working.get(order.client_order_id)
        if wo is None and order.broker_order_id:
            wo = next((w for w in self._working.values() if w.boid == order.broker_order_id),
                      None)
        return wo

    def _cancel_arrives(self, order: Order) -> None:
        wo = self._find(order)
        if wo is None:
            log.debug("%s: cancel of %s ignored, the order is not open here", self.name,
                      order.client_order_id)
            return
        self.matching.finish(wo, S.CANCELLED, "cancelled on request")

    def _amend_arrives(self, order: Order, quantity: Decimal | None,
                       price: Decimal | None) -> None:
        wo = self._find(order)
        if wo is None:
            return
        reason = self._amend(wo, quantity, price)
        if reason:
            self._report(wo.cid, wo.status, broker_order_id=wo.boid,
                         reason=f"amend rejected: {reason}", filled_qty=wo.filled)

    def _amend(self, wo: WorkingOrder, quantity: Decimal | None, price: Decimal | None) -> str:
        inst = wo.inst
        new_qty = wo.qty if quantity is None else quantity
        new_price = wo.limit if price is None else price
        if price is not None and wo.kind not in (OrderType.LIMIT, OrderType.STOP_LIMIT):
            return f"a {wo.kind.value} order has no limit price to change"
        if new_qty <= wo.filled:
            return f"new quantity {new_qty} is not above the {wo.filled} already filled"
        if new_qty % inst.lot_size or new_qty < inst.min_qty:
            return (f"quantity {new_qty} must be a multiple of {inst.lot_size} and at least "
                    f"{inst.min_qty}")
        probe = evolve(wo.order, quantity=new_qty, price=new_price,
                                    reduce_only=False)
        reason = self._validate(probe, inst, self.clock.now_ns())
        if reason:
            return reason
        old = (wo.qty, wo.limit, wo.limit_f, wo.reserved_cash, wo.reserved_qty)
        self._release(wo)
        wo.qty, wo.limit = new_qty, new_price
        wo.limit_f = float(new_price) if new_price is not None else 0.0
        reason = self._reserve_remaining(wo)
        if not reason and wo.order.post_only and self.matching.would_take(wo):
            reason = f"post-only order at {new_price} would take liquidity"
        if reason:
            self._release(wo)
            wo.qty, wo.limit, wo.limit_f = old[0], old[1], old[2]
            self._restore(wo, old[3], old[4])
            return reason
        if new_price != old[1] or new_qty > old[0]:
            self.matching.reprioritise(wo)  # loses its place in the queue
        self._report(wo.cid, wo.status, broker_order_id=wo.boid, quantity=new_qty,
                     price=new_price if price is not None else None, filled_qty=wo.filled)
        if new_price != old[1]:
            self.matching.rematch(wo)
        return ""

    def _reserve_remaining(self, wo: WorkingOrder) -> str:
        """Reserve for what is left of ``wo`` (after an amend)."""
        inst, rest = wo.inst, wo.remaining
        if not wo.buy and not inst.allows_short:
            sellable = self.account.sellable(inst)
            if rest > sellable:
                return f"insufficient holdings: {rest} {inst.symbol} to sell, {sellable} available"
            self.account.reserve_qty(inst.symbol, rest)
            wo.reserved_qty = rest
        if wo.needs_cash:
            price = self._price_for_cash(wo)
            if price is None:
                return f"no market price for {inst.symbol}"
            need = wo.terms.cost(price, rest)
            free = self.account.free_cash(inst.currency)
            if need > free:
                return f"insufficient cash: needs {need} {inst.currency}, {free} available"
            self.account.reserve_cash(inst.currency, need)
            wo.reserved_cash = need
        return ""

    def _restore(self, wo: WorkingOrder, cash: Decimal, qty: Decimal) -> None:
        if cash:
            self.account.reserve_cash(wo.inst.currency, cash)
            wo.reserved_cash = cash
        if qty:
            self.account.reserve_qty(wo.symbol, qty)
            wo.reserved_qty = qty

    # ---- the matching engine's sink -------------------------------------------------------
    def execute(self, wo: WorkingOrder, qty: Decimal, price: Decimal,
                liquidity: Liquidity) -> Decimal:
        """Book one execution of ``wo``; may fill less when cash runs short."""
        terms = wo.terms
        # Instrument.fees_for's arithmetic (tests/brokers/paper/test_terms.py); the
        # commission is also what the cash check charges.
        notional = terms.notional(price, qty)
        commission = terms.commission(notional, liquidity)
        if wo.needs_cash:
            available = self.account.free_cash(terms.currency) + wo.reserved_cash
            cost = terms.tied_up(notional) + commission
            if cost > available:
                qty = self._affordable(terms, price, qty, liquidity, available)
                wo.kill_reason = (f"insufficient cash to fill the rest at {price}: "
                                  f"{max(available, ZERO)} {terms.currency} available")
                if qty <= 0:
                    return ZERO
                notional = terms.notional(price, qty)
                commission = terms.commission(notional, liquidity)
                cost = terms.tied_up(notional) + commission
        else:
            cost = ZERO
        now = self.clock.now_ns()
        side = BUY if wo.buy else SELL
        tax = terms.tax(notional, side, self._trade_date(terms.inst, now)) if terms.taxed \
            else terms.no_tax
        self._fill_no += 1
        fill = Fill(f"{self.name}-F{self._fill_no}", wo.cid, self.name, wo.symbol, side, qty,
                    price, now, commission, tax, liquidity, wo.boid)
        # What is still reserved for the rest never exceeds what was reserved minus
        # what this fill cost, so free cash never goes negative.
        left = max(wo.reserved_cash - cost, ZERO)
        self._release(wo)
        wo.filled += qty
        wo.filled_value += qty * price
        wo.status = FILLED if wo.filled >= wo.qty else PARTIALLY_FILLED
        self.account.apply_fill(fill, terms.inst, terms.leverage)
        if wo.remaining > 0 and not wo.kill_reason:
            self._rereserve(wo, left)
        self._fills.append(fill)
        self.bus.publish(fill)
        return qty

    def _rereserve(self, wo: WorkingOrder, at_most: Decimal) -> None:
        inst = wo.inst
        if not wo.buy and not inst.allows_short:
            self.account.reserve_qty(inst.symbol, wo.remaining)
            wo.reserved_qty = wo.remaining
        if wo.needs_cash:
            price = self._price_for_cash(wo)
            need = wo.terms.cost(price, wo.remaining) if price is not None else at_most
            need = min(need, at_most)
            self.account.reserve_cash(inst.currency, need)
            wo.reserved_cash = need

    @staticmethod
    def _affordable(terms: Terms, price: Decimal, qty: Decimal, liquidity: Liquidity,
                    available: Decimal) -> Decimal:
        """The most lots of ``qty`` that ``available`` pays for at ``price``."""
        inst = terms.inst
        unit = terms.cost(price, inst.lot_size, None)
        if unit <= 0:
            return qty
        lots = min(qty / inst.lot_size, (max(available, ZERO) / unit).to_integral_value(
            rounding=ROUND_FLOOR))
        q = inst.snap_qty(lots * inst.lot_size)
        while q > 0 and terms.cost(price, q, liquidity) > available:
            q -= inst.lot_size
        return max(q, ZERO)

    def can_fill(self, wo: WorkingOrder, plan: list[PlanStep]) -> str | None:
        if not wo.needs_cash:
            return None
        inst = wo.inst
        cost = sum((wo.terms.cost(p, q, liq) for q, p, liq, _ in plan), ZERO)
        available = self.account.free_cash(inst.currency) + wo.reserved_cash
        if cost > available:
            return (f"FOK: filling all would cost {cost} {inst.currency}, "
                    f"{max(available, ZERO)} is available; cancelled without a fill")
        return None

    def close(self, wo: WorkingOrder, status: OrderStatus, reason: str) -> None:
        self._release(wo)
        self._cancel_timer(wo)
        self._working.pop(wo.cid, None)
        wo.status = status
        wo.reason = reason
        wo.closed_ns = self.clock.now_ns()
        self._closed[wo.cid] = wo  # final: the snapshot can wait
        if status is not FILLED:  # a fill is its own report
            self._report(wo.cid, status, broker_order_id=wo.boid, reason=reason,
                         filled_qty=wo.filled)

    # ---- reports ---------------------------------------------------------------------
    def settle_funding(self, symbol: str, rate: float, ts_ns: int) -> FundingPayment | None:
        """Funding at ``ts_ns`` on the position in perpetual ``symbol``, as Binance settles
        it: position x price x contract size x ``rate``, paid by longs to shorts when the
        rate is positive, valued at the last price seen. Moves this account's cash and
        publishes the ``FundingPayment`` (the engine books it once); None when flat."""
        inst = self._instruments.get(symbol)
        market = self.matching.markets.get(symbol)
        if inst is None or not inst.asset_class.is_derivative or market is None:
            return None
        held, price = self.account.holding(inst), market.reference()
        if not held or price is None:
            return None
        value = held * market.snap(price) * inst.contract_size * to_decimal(rate, what="rate")
        amount = (-value).quantize(inst.currency_unit, rounding=ROUND_HALF_EVEN)
        self.account.transfer(inst.currency, amount)
        payment = FundingPayment(self.name, symbol, amount, inst.currency, ts_ns,
                                 f"paper-funding-{symbol}-{ts_ns}")
        self.bus.publish(payment)
        return payment

    def _report(self, cid: str, status: OrderStatus, broker_order_id: str = "",
                reason: str = "", quantity: Decimal | None = None, price: Decimal | None = None,
                filled_qty: Decimal | None = None) -> None:
        """Publish an ``OrderUpdate`` (positional arguments: cheaper than keywords)."""
        self.bus.publish(OrderUpdate(self.name, cid, status, self.clock.now_ns(),
                                     broker_order_id, reason, quantity, price, filled_qty))

    def _reject(self, order: Order, reason: str, broker_order_id: str = "") -> None:
        now = self.clock.now_ns()
        self._closed[order.client_order_id] = evolve(
            order, status=S.REJECTED, reason=reason, updated_ns=now,
            broker_order_id=broker_order_id)
        log.info("%s rejected %s: %s", self.name, order.client_order_id, reason)
        self._report(order.client_order_id, S.REJECTED, reason=reason,
                     broker_order_id=broker_order_id)

    def _snapshot(self, wo: WorkingOrder, now_ns: int | None = None) -> Order:
        return evolve(
            wo.order,
            status=wo.status,
            quantity=wo.qty,
            price=wo.limit,
            filled_qty=wo.filled,
            avg_fill_price=wo.filled_value / wo.filled if wo.filled else None,
            broker_order_id=wo.boid,
            updated_ns=self.clock.now_ns() if now_ns is None else now_ns,
            reason=wo.reason,
        )

    # ---- queries ---------------------------------------------------------------------
    async def fetch_open_orders(self) -> list[Order]:
        return [self._snapshot(wo) for wo in self._working.values()]

    async def fetch_order_history(self, since_ns: int | None = None) -> list[Order]:
        out: list[Order] = []
        for cid, entry in self._closed.items():
            order = self._snapshot(entry, entry.closed_ns) if isinstance(
                entry, WorkingOrder) else entry
            self._closed[cid] = order
            if since_ns is None or order.updated_ns >= since_ns:
                out.append(order)
        return out

    async def fetch_positions(self) -> list[Position]:
        self._mark()
        return self.account.positions(self.name)

    async def fetch_balances(self) -> list[Account]:
        self._mark()
        return self.account.balances(self.name, self.clock.now_ns())

    async def fetch_fills(self, since_ns: int | None = None) -> list[Fill]:
        return [f for f in self._fills if since_ns is None or f.ts_ns >= since_ns]

    def open_orders(self) -> list[WorkingOrder]:
        """The venue's working orders (for tests and the backtester's reports)."""
        return list(self._working.values())

    def _mark(self) -> None:
        for symbol, market in self.matching.markets.items():
            ref = market.reference()
            if ref is not None and ref > 0:
                self.account.mark(symbol, market.inst.snap_price(ref))

    # ---- calendars and dates ------------------------------------------------------------
    def _calendar(self, inst: Instrument) -> MarketCalendar | None:
        name = inst.calendar
        if name not in self._calendars:
            try:
                self._calendars[name] = get_calendar(name)
            except UserError as exc:
                log.warning("%s: %s; no price band or DAY expiry for %s", self.name, exc,
                            inst.symbol)
                self._calendars[name] = None
        return self._calendars[name]

    def _trade_date(self, inst: Instrument, ts_ns: int) -> date | None:
        """The fill's date in the market's own time zone (KRX sell tax is by date)."""
        if not inst.fees.sell_tax:
            return None
        calendar = self._calendar(inst)
        tz = calendar.tz if calendar is not None else ZoneInfo("UTC")
        return datetime.fromtimestamp(ts_ns // 1_000_000_000, tz).date()


def _prices(order: Order, limit: bool, stop: bool) -> list[tuple[str, Decimal]]:
    """The order's prices to validate, with their names for the messages."""
    prices = [("price", order.price)] if limit else []
    if stop:
        prices.append(("stop price", order.stop_price))
    return prices  # type: ignore[return-value]


def _empty_bars() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype="float64") for c in OHLCV},
                        index=pd.DatetimeIndex([], tz="UTC", name="time"))


def _serial(venue_id: str) -> int:
    """The number at the end of an id this venue gave ("paper-F12" -> 12; else 0)."""
    digits = len(venue_id) - len(venue_id.rstrip("0123456789"))
    return int(venue_id[-digits:]) if digits else 0
