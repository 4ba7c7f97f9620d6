"""The paper venue's matching engine: which working orders trade, how much, at what price.

It holds no money and publishes nothing: every execution it decides is handed
to a ``Sink`` (the venue), which books it in the venue account and reports it.
It is synchronous and allocation-light, so a backtest can push a million bars
through it; a bar or trade for a symbol without working orders costs a dict
lookup and two attribute stores.

Each symbol is matched in one of two modes, chosen by the data that arrives:

**Tick mode** (a ``Tick`` or ``OrderBook`` was seen for the symbol; bars are
then ignored for matching):

* An arriving order that can trade takes liquidity at once (TAKER). With an
  order book it walks the opposite side level by level, up to its limit,
  never reusing size it already took from the same snapshot; without a book a
  market order, or a limit the last trade price is through (the same rule as
  for resting limits below), trades its whole quantity at the last price. A market order's
  remainder once the book is exhausted is cancelled; an IOC remainder is
  cancelled; a FOK order that cannot fill completely is cancelled with no fill.
* A resting limit fills only when a trade prints THROUGH it: a buy at L needs
  a trade strictly below L (``fill_on_touch=True``: at or below L). It fills at
  L (MAKER), for at most the trade's size, shared by price-time priority
  (better price first, then earlier order; a stop-limit's time is its trigger).
* Stops trigger on a trade at or through the stop price. A stop-market then
  fills in full at that trade's price plus slippage; a stop-limit becomes a
  limit, taking at the trade price if that is within its limit, else resting.
* An order that arrived before any data for its symbol is evaluated on the
  first trade as if it arrived then: so it may fill at a better price than its
  limit when the market opened through it.

**Bar mode** (only bars seen; the backtester's mode, matching backtesting.py):

* An order takes part in a bar if it was active before the bar ended (publish
  a closed bar with the clock at or after its end). A market order fills at
  the bar's OPEN plus slippage.
* A buy limit fills if low <= L (``bar_fill_on_touch=False``: low < L) at
  min(L, open); a sell limit if high >= L at max(L, open).
* A buy stop triggers if high >= S and fills at max(S, open) plus slippage;
  sell stops mirror it. A stop-limit triggered in a bar fills at once at the
  trigger price if that is within its limit. Otherwise, if the open itself
  triggered it (a gap), the whole bar followed the trigger and it may fill at
  its limit in the same bar; if the trigger came during the bar, the bar's
  range before and after the trigger cannot be told apart, so it only rests
  from the next bar on (pessimistic, like backtesting.py's "limit before stop").
* IOC/FOK orders see only the open of their first bar.
* Volume: no limit by default. With ``bar_participation=p`` each side may fill
  at most p x bar volume per bar, shared by priority (market and stop orders
  first, then limits by price, then time); market orders carry the rest over
  to the next bar's open.
* Liquidity: TAKER if the order was marketable at its first bar's open (or is
  a market/stop order), MAKER if it rested first.

Slippage (``slippage_bps``) applies to market and stop-market fills priced from
trades or bars (walking a book already costs the spread and the depth), is
rounded AWAY from the trader to a valid tick, so any non-zero setting costs at
least one tick.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Callable
from decimal import Decimal
from typing import TYPE_CHECKING, Protocol

from engine.calendars import MarketCalendar
from engine.models import (
    Bar,
    Instrument,
    Liquidity,
    Order,
    OrderBook,
    OrderStatus,
    OrderType,
    Side,
    Timeframe,
    TimeInForce,
    to_decimal,
)
from engine.models.numbers import ZERO

if TYPE_CHECKING:
    from brokers.paper.terms import Terms

MAKER = Liquidity.MAKER
TAKER = Liquidity.TAKER
MARKET = OrderType.MARKET
LIMIT = OrderType.LIMIT
STOP = OrderType.STOP
STOP_LIMIT = OrderType.STOP_LIMIT
IOC = TimeInForce.IOC
FOK = TimeInForce.FOK
BUY = Side.BUY
ACCEPTED, FILLED = OrderStatus.ACCEPTED, OrderStatus.FILLED
NEVER = 2**63 - 1  # a time after every other
BPS = Decimal(10_000)
SNAP_MEMO = 4096  # snapped prices remembered per symbol (then forgotten all at once)

# (quantity, price, liquidity, book level price or None)
PlanStep = tuple[Decimal, Decimal, Liquidity, float | None]


class WorkingOrder:
    """An order the venue accepted and is still working (mutable, venue-private)."""

    __slots__ = (
        "order", "cid", "boid", "terms", "inst", "symbol", "buy", "kind", "tif", "qty", "filled",
        "filled_value", "limit", "limit_f", "stop", "stop_f", "seq", "active_ns", "fresh",
        "triggered", "expire_ns", "needs_cash", "reserved_cash", "reserved_qty", "kill_reason",
        "done", "status", "timer", "reason", "closed_ns",
    )

    def __init__(self, order: Order, terms: Terms, broker_order_id: str, seq: int,
                 active_ns: int) -> None:
        self.order = order
        self.cid = order.client_order_id
        self.boid = broker_order_id
        self.terms = terms
        self.inst = terms.inst
        self.symbol = order.symbol
        self.buy = order.side is BUY
        self.kind = order.order_type
        self.tif = order.time_in_force
        self.qty = order.quantity
        self.filled = ZERO
        self.filled_value = ZERO
        self.limit = order.price
        self.limit_f = float(order.price) if order.price is not None else 0.0
        self.stop = order.stop_price
        self.stop_f = float(order.stop_price) if order.stop_price is not None else 0.0
        self.seq = seq
        self.active_ns = active_ns
        self.fresh = True  # not yet compared with any market data
        self.triggered = self.kind is not STOP and self.kind is not STOP_LIMIT
        self.expire_ns = NEVER
        # Pays cash (or margin) to fill: a buy of a cash product, a derivative order that
        # can add to a position.
        self.needs_cash = not order.reduce_only if terms.derivative else self.buy
        self.reserved_cash = ZERO
        self.reserved_qty = ZERO
        self.kill_reason = ""  # set by the sink when it had to stop this order (cash)
        self.done = False
        self.status = ACCEPTED
        self.timer: object | None = None
        self.reason = ""
        self.closed_ns = 0  # when the venue closed it (set with ``done``)

    @property
    def remaining(self) -> Decimal:
        return self.qty - self.filled

    @property
    def is_limit(self) -> bool:
        """Rests on the book as a limit (a limit, or a stop-limit after its trigger)."""
        return self.kind is LIMIT or (self.kind is STOP_LIMIT and self.triggered)

    def __repr__(self) -> str:
        return (f"WorkingOrder({self.cid} {'BUY' if self.buy else 'SELL'} {self.kind.value} "
                f"{self.filled}/{self.qty} limit={self.limit} stop={self.stop})")


class Sink(Protocol):
    """What the venue does with the matching engine's decisions."""

    def execute(self, wo: WorkingOrder, qty: Decimal, price: Decimal,
                liquidity: Liquidity) -> Decimal:
        """Book and report a fill; return the quantity actually filled (cash may clip it,
        in which case the sink sets ``wo.kill_reason``)."""
        ...

    def can_fill(self, wo: WorkingOrder, plan: list[PlanStep]) -> str | None:
        """None if the account can pay for all of ``plan`` (FOK), else the reason."""
        ...

    def close(self, wo: WorkingOrder, status: OrderStatus, reason: str) -> None:
        """``wo`` reached a terminal state (FILLED, CANCELLED, EXPIRED)."""
        ...


class Market:
    """Per-symbol matching state: working orders and the latest market picture."""

    __slots__ = ("inst", "orders", "last", "book", "consumed", "tick_mode", "seen_bars",
                 "banded", "calendar", "session_end_ns", "prev_close", "lot", "_snapped")

    def __init__(self, inst: Instrument) -> None:
        self.inst = inst
        self.orders: list[WorkingOrder] = []  # in arrival order
        self.last = float("nan")  # last trade price (tick mode) or bar close (bar mode)
        self.book: OrderBook | None = None
        self.consumed: dict[float, float] = {}  # size taken per level of the current book
        self.tick_mode = False
        self.seen_bars = False
        self.banded = inst.price_band_pct is not None
        self.calendar: MarketCalendar | None = None
        self.session_end_ns = -(2**63)  # end of the session the latest data belongs to
        self.prev_close: float | None = None  # the base of the daily price band
        self.lot = inst.lot_size
        self._snapped: dict[float, Decimal] = {}

    def snap(self, price: float) -> Decimal:
        """``inst.snap_price(price)``, remembered: market data repeats the same prices,
        and snapping (exact Decimal division) costs microseconds. Keyed by value, which
        is what ``snap_price`` depends on (NaN and bad prices raise and are not kept)."""
        got = self._snapped.get(price)
        if got is None:
            memo = self._snapped
            if len(memo) >= SNAP_MEMO:
                memo.clear()
            got = memo[price] = self.inst.snap_price(price)
        return got

    @property
    def has_price(self) -> bool:
        return self.last == self.last or self.book is not None

    def reference(self) -> float | None:
        """The price to value a new order at: last trade / bar close, else the book's mid."""
        if self.last == self.last:
            return self.last
        book = self.book
        if book is None:
            return None
        if book.bids and book.asks:
            return book.mid
        level = book.best_bid or book.best_ask
        return level.price if level is not None else None

    def roll_session(self, ts_ns: int) -> None:
        """Data of a new session arrived: the last price becomes the band's base."""
        if self.last == self.last:
            self.prev_close = self.last
        self.session_end_ns = session_end_ns(self.calendar, ts_ns) if self.calendar else NEVER

    def base_price(self, now_ns: int) -> float | None:
        """Base of today's price band: the previous session's close as seen in the data."""
        if now_ns >= self.session_end_ns and self.last == self.last:
            return self.last  # the session of the last data is over: it was the close
        return self.prev_close


def session_end_ns(calendar: MarketCalendar, ts_ns: int) -> int:
    """Close of the session holding ``ts_ns``, or of the next one between sessions."""
    i = calendar.session_index(ts_ns)
    if i < 0:
        i = bisect_right(calendar.opens_list, ts_ns)
        if i >= len(calendar.opens_list):
            return NEVER
    return calendar.closes_list[i]


class MatchingEngine:
    """Decides executions for the venue's working orders; see the module docstring."""

    def __init__(self, sink: Sink, *, slippage_bps: Decimal = ZERO, fill_on_touch: bool = False,
                 bar_fill_on_touch: bool = True, bar_participation: float | None = None,
                 calendar_for: Callable[[Instrument], MarketCalendar | None] | None = None
                 ) -> None:
        self.sink = sink
        self.slip = to_decimal(slippage_bps) / BPS
        self.touch = fill_on_touch
        self.bar_touch = bar_fill_on_touch
        self.participation = bar_participation
        self.calendar_for = calendar_for
        self.markets: dict[str, Market] = {}
        self._tf_ns: dict[str, int] = {}
        self._seq = 0

    # ---- setup ----------------------------------------------------------------
    def add_instrument(self, inst: Instrument) -> Market:
        market = self.markets.get(inst.symbol)
        if market is None:
            market = self.markets[inst.symbol] = Market(inst)
            if market.banded:
                market.calendar = self.calendar_for(inst) if self.calendar_for else None
                market.banded = market.calendar is not None
        return market

    def next_seq(self) -> int:
        self._seq += 1
        return self._seq

    # ---- orders ---------------------------------------------------------------
    def add(self, wo: WorkingOrder) -> None:
        """Start working an accepted order: trade now if it can, else rest."""
        m = self.markets[wo.symbol]
        m.orders.append(wo)
        if m.tick_mode and m.has_price:
            self._evaluate(m, wo)

    def remove(self, wo: WorkingOrder) -> None:
        m = self.markets.get(wo.symbol)
        if m is not None and wo in m.orders:
            m.orders.remove(wo)

    def finish(self, wo: WorkingOrder, status: OrderStatus, reason: str) -> None:
        """Take ``wo`` off the venue (cancelled on request, expired ...)."""
        m = self.markets[wo.symbol]
        self._finish(m, wo, status, reason)

    def rematch(self, wo: WorkingOrder) -> None:
        """``wo``'s limit price was amended: in tick mode it may now be marketable."""
        m = self.markets[wo.symbol]
        if not wo.done and m.tick_mode and m.has_price:
            self._evaluate(m, wo)

    def reprioritise(self, wo: WorkingOrder) -> None:
        """An amend that worsens priority (new price, more quantity) goes to the back."""
        wo.seq = self.next_seq()

    def would_take(self, wo: WorkingOrder) -> bool:
        """True if ``wo`` (a limit) would trade on arrival: post-only orders are refused."""
        m = self.markets.get(wo.symbol)
        if m is None or wo.kind is not LIMIT:
            return False
        if m.tick_mode and m.book is not None:
            level = m.book.best_ask if wo.buy else m.book.best_bid
            return level is not None and (level.price <= wo.limit_f if wo.buy
                                          else level.price >= wo.limit_f)
        ref = m.reference()
        return ref is not None and self._crosses(wo, ref)

    def estimate_price(self, wo: WorkingOrder) -> Decimal | None:
        """What a market order of ``wo``'s size is likely to pay (for cash checks)."""
        m = self.markets.get(wo.symbol)
        if m is None:
            return None
        inst = m.inst
        if m.tick_mode and m.book is not None:
            levels = m.book.asks if wo.buy else m.book.bids
            need, price = float(wo.remaining), None
            for level in levels:
                price = level.price
                need -= level.size
                if need <= 0:
                    break
            if price is not None:
                return inst.snap_price(price, "up" if wo.buy else "down")
        last = m.last
        ref = last if last == last else m.reference()  # the bar close or last trade, mostly
        if ref is None:
            return None
        return self._slipped(inst, m.snap(ref), wo.buy) if self.slip else m.snap(ref)

    # ---- market data: ticks and books ------------------------------------------
    def on_trade(self, symbol: str, ts_ns: int, price: float, size: float) -> None:
        m = self.markets.get(symbol)
        if m is None:
            return
        if m.banded and ts_ns >= m.session_end_ns:
            m.roll_session(ts_ns)
        m.tick_mode = True
        if m.orders:
            self._trade(m, price, size)
        m.last = price

    def on_book(self, book: OrderBook) -> None:
        m = self.markets.get(book.symbol)
        if m is None:
            return
        if m.banded and book.ts_ns >= m.session_end_ns:
            m.roll_session(book.ts_ns)
        m.tick_mode = True
        m.book = book
        if m.consumed:
            m.consumed = {}
        if m.orders:
            for wo in list(m.orders):
                if wo.fresh and not wo.done:
                    self._evaluate(m, wo)

    def _evaluate(self, m: Market, wo: WorkingOrder) -> None:
        """First look at the market (tick mode): take what is marketable, rest the rest."""
        wo.fresh = False
        if not wo.triggered:
            return  # a stop waits for a trade at or through its stop price
        inst = m.inst
        book = m.book
        if wo.kind is MARKET or wo.kind is STOP:
            if book is not None:
                self._run(m, wo, self._walk(m, wo, None))
                if not wo.done and wo.remaining > 0:
                    self._finish(m, wo, OrderStatus.CANCELLED,
                                 f"no more liquidity in the order book: filled {wo.filled} "
                                 f"of {wo.qty}")
            else:
                price = self._slipped(inst, m.snap(m.last), wo.buy)
                self._run(m, wo, [(wo.remaining, price, TAKER, None)])
            return
        if book is not None:
            self._run(m, wo, self._walk(m, wo, wo.limit_f))
        elif self._crosses(wo, m.last):
            self._run(m, wo, [(wo.remaining, m.snap(m.last), TAKER, None)])
        self._after_first_look(m, wo)

    def _crosses(self, wo: WorkingOrder, price: float) -> bool:
        """Without a book: a trade at ``price`` is through the limit (or at it, on touch).

        The same rule as for resting orders, so an order is not filled on arrival
        by a print that would not have filled it had it been resting.
        """
        if wo.buy:
            return price < wo.limit_f or (self.touch and price == wo.limit_f)
        return price > wo.limit_f or (self.touch and price == wo.limit_f)

    def _after_first_look(self, m: Market, wo: WorkingOrder) -> None:
        if not wo.done and wo.remaining > 0 and (wo.tif is IOC or wo.tif is FOK):
            self._finish(m, wo, OrderStatus.CANCELLED,
                         f"{wo.tif.value}: {wo.remaining} not immediately fillable, cancelled")

    def _walk(self, m: Market, wo: WorkingOrder, limit: float | None) -> list[PlanStep]:
        """Take the book's opposite side level by level, up to ``limit``."""
        assert m.book is not None
        inst, consumed = m.inst, m.consumed
        plan: list[PlanStep] = []
        need = wo.remaining
        for level in (m.book.asks if wo.buy else m.book.bids):
            if need <= 0:
                break
            if limit is not None and (level.price > limit if wo.buy else level.price < limit):
                break
            free = level.size - consumed.get(level.price, 0.0)
            if free <= 0:
                continue
            qty = min(need, inst.snap_qty(free))
            if qty <= 0:
                continue
            plan.append((qty, m.snap(level.price), TAKER, level.price))
            need -= qty
        return plan

    def _trade(self, m: Market, price: float, size: float) -> None:
        """A trade printed: first looks, stop triggers, then fills of resting limits."""
        inst = m.inst
        for wo in list(m.orders):
            if wo.fresh and not wo.done:
                # No data before this trade: the order meets the market here.
                wo.fresh = False
                if wo.triggered:
                    self._evaluate_at(m, wo, price)
        for wo in list(m.orders):
            if wo.done or wo.triggered:
                continue
            if price >= wo.stop_f if wo.buy else price <= wo.stop_f:
                wo.triggered = True
                if wo.kind is STOP:
                    fill = self._slipped(inst, m.snap(price), wo.buy)
                    self._run(m, wo, [(wo.remaining, fill, TAKER, None)])
                elif price <= wo.limit_f if wo.buy else price >= wo.limit_f:
                    self._run(m, wo, [(wo.remaining, m.snap(price), TAKER, None)])
                else:
                    wo.seq = self.next_seq()  # rests as a limit from its trigger on
        self._trade_through(m, price, size)

    def _evaluate_at(self, m: Market, wo: WorkingOrder, price: float) -> None:
        inst = m.inst
        if wo.kind is MARKET:
            fill = self._slipped(inst, m.snap(price), wo.buy)
            self._run(m, wo, [(wo.remaining, fill, TAKER, None)])
            return
        if self._crosses(wo, price):
            self._run(m, wo, [(wo.remaining, m.snap(price), TAKER, None)])
        self._after_first_look(m, wo)

    def _trade_through(self, m: Market, price: float, size: float) -> None:
        touch = self.touch
        buys: list[WorkingOrder] = []
        sells: list[WorkingOrder] = []
        for wo in m.orders:
            if wo.done or wo.fresh or not wo.is_limit:
                continue
            if wo.buy:
                if price < wo.limit_f or (touch and price == wo.limit_f):
                    buys.append(wo)
            elif price > wo.limit_f or (touch and price == wo.limit_f):
                sells.append(wo)
        if buys:
            buys.sort(key=lambda w: (-w.limit_f, w.seq))
            self._share(m, buys, size)
        if sells:
            sells.sort(key=lambda w: (w.limit_f, w.seq))
            self._share(m, sells, size)

    def _share(self, m: Market, orders: list[WorkingOrder], size: float) -> None:
        """Fill resting limits at their price from one trade's size, in priority order."""
        budget: Decimal | None = m.inst.snap_qty(size) if size > 0 else None
        for wo in orders:
            if budget is not None and budget <= 0:
                return
            qty = wo.remaining if budget is None else min(wo.remaining, budget)
            filled = self._run(m, wo, [(qty, wo.limit, MAKER, None)])  # type: ignore[list-item]
            if budget is not None:
                budget -= filled

    # ---- market data: bars -----------------------------------------------------
    def on_bar(self, bar: Bar) -> None:
        m = self.markets.get(bar.symbol)
        if m is None:
            return
        if m.banded and bar.ts_ns >= m.session_end_ns:
            m.roll_session(bar.ts_ns)
        if m.tick_mode:
            return  # the bar summarises trades this symbol was already matched on
        if m.orders:
            self._bar(m, bar)
        m.seen_bars = True
        close = bar.close
        if close > 0:  # a NaN close never becomes the reference price
            m.last = close

    def bar_mode(self, symbol: str) -> bool:
        m = self.markets.get(symbol)
        return m is not None and m.seen_bars and not m.tick_mode

    def _bar(self, m: Market, bar: Bar) -> None:
        if not (bar.open > 0 and bar.high > 0 and bar.low > 0):
            return  # malformed bar (NaN, zero): nothing trades on it
        tf_ns = self._tf_ns.get(bar.timeframe)
        if tf_ns is None:
            tf_ns = self._tf_ns[bar.timeframe] = Timeframe.parse(bar.timeframe).ns
        start, end = bar.ts_ns, bar.ts_ns + tf_ns
        expiring = NEVER
        for wo in m.orders:  # a loop: min() over a generator costs more for one or two orders
            if wo.expire_ns < expiring:
                expiring = wo.expire_ns
        if expiring <= start:
            self._expire(m, start)  # DAY orders of a session that closed before this bar
        eligible = [wo for wo in m.orders if wo.active_ns < end]
        if eligible:
            if len(eligible) > 1:
                eligible.sort(key=_bar_priority)
            budgets = None
            if self.participation is not None:
                cap = m.inst.snap_qty(max(bar.volume, 0.0) * self.participation)
                budgets = {True: cap, False: cap}
            for wo in eligible:
                if not wo.done:
                    self._bar_order(m, wo, bar, budgets)
        if expiring <= end:
            self._expire(m, end)  # ... and those whose session closed with this bar

    def _bar_order(self, m: Market, wo: WorkingOrder, bar: Bar,
                   budgets: dict[bool, Decimal] | None) -> None:
        first = wo.fresh
        wo.fresh = False
        hit = self._bar_price(m, wo, first, bar.open, bar.high, bar.low)
        if hit is not None:
            price, liquidity = hit
            qty = wo.remaining
            if budgets is not None:
                qty = min(qty, budgets[wo.buy])
            if wo.tif is FOK and qty < wo.remaining:
                qty = ZERO  # not all of it: none of it
            if qty > 0:
                filled = self._run(m, wo, [(qty, price, liquidity, None)])
                if budgets is not None:
                    budgets[wo.buy] -= filled
        if first:
            self._after_first_look(m, wo)

    def _bar_price(self, m: Market, wo: WorkingOrder, first: bool, o: float, h: float,
                   low: float) -> tuple[Decimal, Liquidity] | None:
        inst, buy = m.inst, wo.buy
        if not wo.triggered:
            s = wo.stop_f
            if not (h >= s if buy else low <= s):
                return None
            wo.triggered = True
            gap = o >= s if buy else o <= s
            trigger = m.snap(o) if gap else wo.stop
            assert trigger is not None
            if wo.kind is STOP:
                return self._slipped(inst, trigger, buy), TAKER
            if trigger <= wo.limit if buy else trigger >= wo.limit:  # type: ignore[operator]
                return trigger, TAKER
            if not gap:
                wo.seq = self.next_seq()
                return None  # rests as a limit from the next bar
            return (wo.limit, MAKER) if self._touched(wo, h, low) else None  # type: ignore[return-value]
        if wo.kind is MARKET or wo.kind is STOP:
            return self._slipped(inst, m.snap(o), buy), TAKER
        limit = wo.limit_f
        marketable = o <= limit if buy else o >= limit
        if first and (wo.tif is IOC or wo.tif is FOK):
            return (m.snap(o), TAKER) if marketable else None
        if not self._touched(wo, h, low):
            return None
        if buy:
            price = m.snap(o) if o < limit else wo.limit
        else:
            price = m.snap(o) if o > limit else wo.limit
        return price, (TAKER if first and marketable else MAKER)  # type: ignore[return-value]

    def _touched(self, wo: WorkingOrder, h: float, low: float) -> bool:
        limit = wo.limit_f
        if wo.buy:
            return low <= limit if self.bar_touch else low < limit
        return h >= limit if self.bar_touch else h > limit

    # ---- expiry ----------------------------------------------------------------
    def _expire(self, m: Market, now_ns: int) -> None:
        for wo in list(m.orders):
            if wo.expire_ns <= now_ns and not wo.done:
                self._finish(m, wo, OrderStatus.EXPIRED, "DAY order expired at the session close")

    def expire(self, wo: WorkingOrder) -> None:
        """Expire ``wo`` now (its session closed)."""
        m = self.markets[wo.symbol]
        if not wo.done:
            self._finish(m, wo, OrderStatus.EXPIRED, "DAY order expired at the session close")

    # ---- execution ---------------------------------------------------------------
    def _run(self, m: Market, wo: WorkingOrder, plan: list[PlanStep]) -> Decimal:
        """Execute ``plan`` for ``wo`` through the sink; returns the quantity filled."""
        if not plan:
            return ZERO
        if wo.tif is FOK and wo.filled == 0:
            total = sum((step[0] for step in plan), ZERO)
            reason = None
            if total < wo.remaining:
                reason = (f"FOK: only {total} of {wo.qty} available at the limit or better, "
                          "cancelled without a fill")
            else:
                reason = self.sink.can_fill(wo, plan)
            if reason is not None:
                self._finish(m, wo, OrderStatus.CANCELLED, reason)
                return ZERO
        filled = ZERO
        for qty, price, liquidity, level in plan:
            got = self.sink.execute(wo, qty, price, liquidity)
            filled += got
            if level is not None and got > 0:
                m.consumed[level] = m.consumed.get(level, 0.0) + float(got)
            if wo.kill_reason:
                self._finish(m, wo, OrderStatus.CANCELLED, wo.kill_reason)
                break
            if wo.remaining <= 0:
                self._finish(m, wo, FILLED, "")
                break
        return filled

    def _finish(self, m: Market, wo: WorkingOrder, status: OrderStatus, reason: str) -> None:
        if wo.done:
            return
        wo.done = True
        if wo in m.orders:
            m.orders.remove(wo)
        self.sink.close(wo, status, reason)

    def _slipped(self, inst: Instrument, price: Decimal, buy: bool) -> Decimal:
        if not self.slip:
            return price
        if buy:
            return inst.snap_price(price * (1 + self.slip), "up")
        return inst.snap_price(price * (1 - self.slip), "down")


def _bar_priority(wo: WorkingOrder) -> tuple[int, float, int]:
    if not wo.is_limit:
        return (0, 0.0, wo.seq)  # market and stop orders take first
    return (1, -wo.limit_f if wo.buy else wo.limit_f, wo.seq)
