"""The fast ``PreTradeRisk.check`` gives exactly the plain rule-by-rule answers.

``ReferenceRisk`` (reference_limits.py) is the check as it was before its caches
and shortcuts. Both run on the same random world (instruments, positions, marks,
quotes, open and cancelling orders, limits, switches) and the same random stream
of intents, and must return equal rejections (code and message) or both accept;
accepted orders feed both rate and duplicate windows. Quantities and prices come
from small pools so the caches see repeats, and the world changes between
intents (new quotes, replaced instruments and limits) so stale caches would show.
"""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from engine.bus import EventBus
from engine.clock import SimulatedClock
from engine.execution.intents import OrderIntent, Rejection
from engine.execution.journal import MemoryJournal
from engine.execution.oms import OrderManager
from engine.instruments import InstrumentRegistry
from engine.market_state import MarketState
from engine.models import (
    Fill,
    Instrument,
    OrderSource,
    OrderType,
    Side,
    crypto_perp,
    crypto_spot,
    krx_stock,
)
from engine.models.instrument import FeeSchedule
from engine.portfolio.ledger import Ledger
from engine.risk.limits import PreTradeRisk, RiskLimits
from tests.engine.risk.reference_limits import ReferenceRisk

D = Decimal
NAN = float("nan")
INSTRUMENTS = [
    krx_stock("005930"),  # no shorts, won ticks, a sell tax
    crypto_spot("BTC/USDT", lot="0.001"),
    replace(crypto_spot("SYN/USD", tick="0.01", lot="1", min_notional=0), allows_short=True,
            fees=FeeSchedule(maker=D("0.0001"), taker=D("0.0002"))),
    crypto_perp("BTC/USDT:USDT", lot="0.001", contract_size=2),
]
SYMBOLS = [i.symbol for i in INSTRUMENTS]
BROKERS = ["paper", "other"]  # "other" has no ledger account

# Mostly plausible orders, so most reach the exposure rules; some wild ones for parsing.
plain_quantities = st.sampled_from([10.0, 10.0, 1.0, 3.0, 0.002, 10, 1, 20, 100.0, D(10), D("10.000"),
                                    D("0.002"), D("1E+1"), D(3)])
wild_quantities = st.sampled_from([
    0.5, 0.0015, 1e13, 0.0, -0.0, -1.0, NAN, float("inf"), 0, -3, 2_000_000, D("-1"), D("NaN"),
    D("sNaN"), D("Infinity"), "5", "1,000", "abc", True, None,
])
plain_prices = st.sampled_from([None, None, None, 100.0, 99.99, 70_000, 70_000.0, D("70100"),
                                D("50000.5"), 50_000.0, 49_000])
wild_prices = st.sampled_from([70_010, 0.0, -5.0, NAN, "70,000", "x", 1e9, D("NaN")])
quote_prices = st.sampled_from([NAN, 0.0, -1.0, 100.0, 99.99, 70_000.0, 70_100.0, 50_000.0, 49_000.0,
                                1e7, 100])
# Each limit is mostly generous (so orders get to the later rules) and sometimes tight.
LIMITS = {
    "max_position_pct": (1e6, 1.0, 10.0, 100.0),
    "max_gross_exposure_pct": (1e6, 5.0, 100.0, 1_000.0),
    "max_order_qty": (1e12, 5.0, 1e6),
    "max_order_notional": (1e15, 1e3, 1e8),
    "price_band_pct": (100.0, 0.5, 5.0),
    "max_orders_per_second": (1_000_000, 2),
    "max_active_orders": (1_000_000, 3),
    "max_cancels_per_window": (1_000_000, 2),
    "cancel_window_seconds": (60.0, 0.0),
    "duplicate_window_seconds": (0.0, 2.0),
    "max_leverage": (100.0, 0.5, 3.0),
}
limit_values = st.fixed_dictionaries({
    name: st.sampled_from([values[0]] * 3 + list(values)) for name, values in LIMITS.items()
}).map(lambda kw: RiskLimits(**kw))
rarely = st.sampled_from([False] * 9 + [True])


def intents(symbols: list[str]) -> st.SearchStrategy[OrderIntent]:
    sources = st.sampled_from([OrderSource.STRATEGY, OrderSource.STRATEGY, *OrderSource])
    market = st.builds(OrderIntent, symbol=st.sampled_from(symbols),
                       side=st.sampled_from(list(Side)), quantity=plain_quantities, source=sources)
    limit = st.builds(OrderIntent, symbol=st.sampled_from(symbols),
                      side=st.sampled_from(list(Side)), quantity=plain_quantities,
                      order_type=st.just(OrderType.LIMIT), price=plain_prices, source=sources)
    wild = st.builds(
        OrderIntent,
        symbol=st.sampled_from([*SYMBOLS, "NOPE"]),
        side=st.sampled_from([Side.BUY, Side.SELL, "HOLD"]),
        quantity=st.one_of(plain_quantities, wild_quantities),
        order_type=st.sampled_from(list(OrderType)),
        price=st.one_of(plain_prices, wild_prices),
        stop_price=st.sampled_from([None, None, 100.0, 70_000, 0.0, D("49999.5"), NAN]),
        source=st.sampled_from(list(OrderSource)),
    )
    return st.sampled_from([market] * 3 + [limit, wild]).flatmap(lambda kind: kind)


def fills(insts: list[Instrument]) -> st.SearchStrategy[tuple]:
    return st.tuples(st.sampled_from(insts), st.sampled_from(list(Side)),
                     st.sampled_from([D(1), D(3), D(10), D("0.005")]),
                     st.sampled_from([D(100), D(70_000), D(50_000), D("99.99")]))


def orders(insts: list[Instrument]) -> st.SearchStrategy[tuple]:
    return st.tuples(st.sampled_from(BROKERS[:1] * 3 + BROKERS), st.sampled_from(insts),
                     st.sampled_from(list(Side)), st.sampled_from([D(1), D(2), D(10), D("0.004")]),
                     st.sampled_from([None, D(100), D(70_000), D(50_000)]),
                     st.sampled_from([False, False, True]))


def changes(insts: list[Instrument]) -> st.SearchStrategy[tuple]:
    """Between two intents the world may move: a new quote, a new mark, a replaced
    instrument (new lot and fees) or new limits, a cancel sent, time passing."""
    symbols = [i.symbol for i in insts]
    quotes = st.tuples(st.just("quote"), st.sampled_from(symbols), quote_prices, quote_prices,
                       quote_prices)
    return st.one_of(
        quotes, quotes, quotes,
        st.tuples(st.just("mark"), st.sampled_from(symbols), quote_prices),
        st.tuples(st.just("instrument"), st.sampled_from(insts), st.sampled_from(["1", "0.5"])),
        st.tuples(st.just("limits"), limit_values),
        st.tuples(st.just("cancel")),
        st.tuples(st.just("time"), st.sampled_from([1, 10**8, 10**9, 3 * 10**9])),
    )


class World:
    """One engine's worth of state, read by two risk checks side by side."""

    def __init__(self, limits: RiskLimits, cash: Decimal | None) -> None:
        self.clock = SimulatedClock(10**18)
        self.instruments = InstrumentRegistry(INSTRUMENTS)
        self.ledger = Ledger()
        if cash is not None:
            self.ledger.open_account("paper", "USD", cash)
        self.market = MarketState()
        self.oms = OrderManager(EventBus(), self.clock, MemoryJournal(), self.ledger,
                                self.instruments, subscribe=False)
        self.latched = False
        self.blocked: str | None = None
        self.gated: str | None = None
        args = (limits, self.clock, self.instruments, self.oms, self.ledger, self.market)
        kw = dict(kill_switch_latched=lambda: self.latched,
                  entries_blocked=lambda broker: self.blocked)
        self.fast = PreTradeRisk(*args, **kw)  # type: ignore[arg-type]
        self.ref = ReferenceRisk(*args, **kw)  # type: ignore[arg-type]
        for risk in (self.fast, self.ref):
            risk.add_entry_gate(lambda broker, symbol: self.gated if symbol == SYMBOLS[0] else None)

    def fill(self, n: int, inst, side: Side, qty: Decimal, price: Decimal) -> None:
        if self.ledger.has_account("paper"):
            self.ledger.apply_fill(Fill(f"f{n}", f"c{n}", "paper", inst.symbol, side, qty, price,
                                        self.clock.now_ns()), inst)

    def order(self, broker: str, inst, side: Side, qty: Decimal, price: Decimal | None,
              cancelling: bool) -> None:
        order = self.oms.create(broker=broker, symbol=inst.symbol, side=side,
                                order_type=OrderType.MARKET if price is None else OrderType.LIMIT,
                                quantity=qty, price=price)
        if cancelling:
            self.oms.mark_cancel_requested(order.client_order_id)

    def change(self, change: tuple) -> None:
        kind = change[0]
        if kind == "quote":
            q = self.market.quote(change[1])
            q.last, q.bid, q.ask = change[2:]
        elif kind == "mark":
            self.ledger.mark(change[1], change[2])
        elif kind == "instrument":
            inst = change[1]
            self.instruments.add(replace(inst, lot_size=D(change[2]) * inst.lot_size,
                                         fees=FeeSchedule(taker=D("0.001"))))
        elif kind == "limits":
            self.fast.limits = self.ref.limits = change[1]
        elif kind == "cancel":
            self.fast.cancel_sent()
            self.ref.cancel_sent()
        else:
            self.clock.advance_to(self.clock.now_ns() + change[1])

    def both(self, intent: OrderIntent, broker: str) -> tuple[object, object]:
        return _outcome(self.fast.check, intent, broker), _outcome(self.ref.check, intent, broker)


def _outcome(check, intent: OrderIntent, broker: str) -> object:
    try:
        return check(intent, broker)
    except Exception as exc:  # both must fail the same way, if at all
        return type(exc)


@settings(max_examples=300, deadline=None)
@given(data=st.data(), limits=limit_values,
       cash=st.sampled_from([D(1_000_000), D(2_000_000), D(200_000), D(5_000), None]),
       focus=st.lists(st.sampled_from(INSTRUMENTS), min_size=1, max_size=2, unique=True),
       switches=st.tuples(rarely, rarely, rarely))
def test_fast_check_agrees_with_the_reference(data, limits, cash, focus, switches):
    # One or two instruments per example, so positions, open orders, quotes and
    # intents meet on the same symbol (pending sums, reductions, cached prices).
    world = World(limits, cash)
    for n, fill in enumerate(data.draw(st.lists(fills(focus), max_size=4))):
        world.fill(n, *fill)
    for order in data.draw(st.lists(orders(focus), max_size=6)):
        world.order(*order)
    for sym, price in zip(SYMBOLS, [70_000.0, 50_000.0, 100.0, 50_000.0], strict=True):
        q = world.market.quote(sym)
        q.last = q.bid = q.ask = price
    latched, blocked, gated = switches
    world.latched = latched  # mostly unlatched and unblocked: the rules run
    world.blocked = "daily loss limit" if blocked else None
    world.gated = "session end" if gated else None
    steps = data.draw(st.lists(st.tuples(intents([i.symbol for i in focus]),
                                         st.sampled_from(BROKERS[:1] * 4 + BROKERS),
                                         st.lists(changes(focus), max_size=2),
                                         st.sampled_from([False, True])),
                               min_size=1, max_size=12))
    previous = None
    for intent, broker, world_changes, again in steps:
        if again and previous is not None:  # the same order again: duplicates, cached sizes
            intent, broker = previous
        previous = intent, broker
        fast, ref = world.both(intent, broker)
        assert fast == ref, (intent, broker)
        if fast is None:
            world.fast.order_sent(intent, broker)
            world.ref.order_sent(intent, broker)
        for change in world_changes:
            world.change(change)


def test_the_bench_workload_is_accepted_by_both_and_repeats_hit_the_caches():
    """Closes and reversals of a 24/7 symbol, as bench_backtest's SMA cross sends them."""
    from engine.backtest.runner import BACKTEST_LIMITS

    world = World(BACKTEST_LIMITS, D(1_000_000))
    syn = INSTRUMENTS[2]
    for n in range(6):
        side = Side.BUY if n % 2 == 0 else Side.SELL
        q = world.market.quote(syn.symbol)
        q.last = q.bid = q.ask = 100.0 + n
        for intent in (OrderIntent(syn.symbol, side, D(10), reduce_only=True),
                       OrderIntent(syn.symbol, side, 10.0)):
            fast, ref = world.both(intent, "paper")
            assert fast is None and ref is None
            world.fast.order_sent(intent, "paper")
            world.ref.order_sent(intent, "paper")
        world.fill(n, syn, side, D(10), D(100 + n))
    too_big = OrderIntent(syn.symbol, Side.BUY, 1e13)
    fast, ref = world.both(too_big, "paper")
    assert isinstance(fast, Rejection) and fast == ref and fast.code == "max_order_qty"


def test_only_cash_product_buys_need_cash():
    """A short sale worth more than the cash passes both; the same size bought does not."""
    world = World(RiskLimits(max_position_pct=1e6, max_gross_exposure_pct=1e6), D(5_000))
    syn = INSTRUMENTS[2]
    q = world.market.quote(syn.symbol)
    q.last = q.bid = q.ask = 100.0
    sell, buy = (OrderIntent(syn.symbol, side, 100.0) for side in (Side.SELL, Side.BUY))
    assert world.both(sell, "paper") == (None, None)
    fast, ref = world.both(buy, "paper")
    assert isinstance(fast, Rejection) and fast == ref and fast.code == "insufficient_cash"
