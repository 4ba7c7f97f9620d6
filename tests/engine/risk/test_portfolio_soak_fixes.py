"""What the soak run found in the portfolio monitor: VaR recomputed on every tick
(now cached until a new return is sampled) and entries let in after the
session-end flatten (now blocked per symbol until the session is over)."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.clock import SimulatedClock
from engine.execution.intents import OrderIntent
from engine.execution.journal import MemoryJournal
from engine.models import Bar, OrderSource, OrderType, Side, Tick, crypto_spot, krx_stock
from engine.risk.limits import RiskLimits
from engine.risk.portfolio import PortfolioLimits, PortfolioRiskMonitor
from engine.risk.var import historical_var
from engine.strategy import Strategy, StrategyRunner
from engine.trading import TradingEngine
from tests.engine.recording_broker import RecordingBroker

SAMSUNG = krx_stock("005930")
BTC = crypto_spot("BTC/USDT")
T0 = 1_767_225_600 * 10**9  # 2026-01-01 00:00 UTC: the first session opens here
SEC = 10**9
MIN = 60 * SEC
DAY = 24 * 60 * MIN
SESSION = 390 * MIN  # each day's session: [T0 + d * DAY, T0 + d * DAY + SESSION)
CALM = dict(daily_max_loss_pct=90, max_drawdown_pct=90, stop_loss_pct=0, take_profit_pct=0,
            target_daily_return_pct=900)


def session_end(symbol, ts):
    """SAMSUNG trades one 390-minute session a day; BTC never closes."""
    if symbol != "005930":
        return None
    open_ = T0 + (ts - T0) // DAY * DAY
    return open_ + SESSION if open_ <= ts < open_ + SESSION else None


def setup(monitor_cls=PortfolioRiskMonitor, *, fill_price=None, **limits):
    clock = SimulatedClock(T0)
    engine = TradingEngine.for_backtest(clock=clock, journal=MemoryJournal(),
                                        limits=RiskLimits(max_position_pct=100,
                                                          max_orders_per_second=1000,
                                                          price_band_pct=50,
                                                          duplicate_window_seconds=0))
    engine.instruments.add(SAMSUNG)
    engine.instruments.add(BTC)
    broker = RecordingBroker("paper", engine.bus, clock, fill_price=fill_price)
    engine.add_broker(broker)
    engine.open_account("paper", "KRW", Decimal(10_000_000))
    monitor = monitor_cls(engine, PortfolioLimits(**limits), session_end=session_end)
    return engine, broker, monitor, clock


def tick(engine, clock, px, ts, symbol="005930"):
    clock.advance_to(ts)
    engine.bus.publish(Tick(symbol, ts, float(px), 1.0))


def hold(engine, broker, clock, qty=140, px=70_000):
    tick(engine, clock, px, clock.now_ns())
    order = engine.submit(OrderIntent("005930", Side.BUY, qty, OrderType.LIMIT, px)).order
    broker.fill(order, qty, px)


# ---- VaR: cached until a new return, the same values and events --------------------

class UncachedMonitor(PortfolioRiskMonitor):
    """The monitor's VaR check as it was before the cache: a quantile on every tick."""

    def _check_var(self, broker, acct):
        if len(acct.returns) < 30:
            acct.var_pct = 0.0
            return
        var = historical_var(np.asarray(acct.returns), self.limits.var_confidence).var
        acct.var_pct = max(var, 0.0) * 100
        key = f"var:{broker}"
        if acct.var_pct > self.limits.var_limit_pct:
            self.engine.block_entries(key, f"VaR {acct.var_pct:.2f}% above the limit "
                                      f"{self.limits.var_limit_pct:g}%")
        else:
            self.engine.unblock_entries(key)


def _run(monitor_cls, moves, var_limit_pct):
    """Three ticks a minute (one VaR sample a minute); what the gate says after each."""
    engine, broker, monitor, clock = setup(monitor_cls, var_window=40,
                                           var_limit_pct=var_limit_pct, **CALM)
    hold(engine, broker, clock)
    px, seen = 70_000.0, []
    for minute, move in enumerate(moves, start=1):
        for k, wobble in enumerate((move, 0.0002, -0.0001)):
            px = round(px * (1 + wobble))
            tick(engine, clock, px, T0 + minute * MIN + k * 20 * SEC)
            seen.append((monitor.status("paper").var_pct, engine.entries_blocked_reason()))
    events = [(e.code, e.ts_ns, e.message) for e in engine.journal.risk_events]
    return seen, events, monitor


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(calm=st.integers(30, 45), wild=st.integers(0, 30), after=st.integers(0, 50),
       size=st.floats(0.001, 0.03), limit=st.floats(0.2, 2.0))
def test_cached_var_gives_the_same_values_and_events_as_every_tick(calm, wild, after, size,
                                                                   limit):
    rng = np.random.default_rng(calm * 1000 + wild)
    moves = np.concatenate([rng.normal(0, 0.001, calm), rng.normal(0, size, wild),
                            rng.normal(0, 0.001, after)]).tolist()
    cached = _run(PortfolioRiskMonitor, moves, limit)
    reference = _run(UncachedMonitor, moves, limit)
    assert cached[0] == reference[0]  # VaR and the entry gate after every tick
    assert cached[1] == reference[1]  # the same risk events at the same moments


def test_var_is_the_direct_quantile_after_each_sample_and_blocks_on_the_breach_tick():
    engine, broker, monitor, clock = setup(var_window=250, var_limit_pct=1.0, **CALM)
    hold(engine, broker, clock)
    acct = monitor._accounts["paper"]
    px = 70_000
    for minute in range(1, 40):
        px += 50 if minute % 2 else -50  # ~0.07% swings: VaR far below 1%
        tick(engine, clock, px, T0 + minute * MIN)
        if len(acct.returns) >= 30:
            direct = max(historical_var(np.asarray(acct.returns), 0.99).var, 0.0) * 100
            assert monitor.status("paper").var_pct == direct
    assert engine.entries_blocked_reason() is None
    tick(engine, clock, px * 0.9, T0 + 39 * MIN + 30 * SEC)  # inside the minute: no sample yet
    assert engine.entries_blocked_reason() is None
    tick(engine, clock, px * 0.9, T0 + 40 * MIN)  # the -9.8% return is sampled on this tick
    direct = max(historical_var(np.asarray(acct.returns), 0.99).var, 0.0) * 100
    assert monitor.status("paper").var_pct == direct > 1.0
    assert "VaR" in engine.entries_blocked_reason()
    # New limits apply on the next tick, without waiting for the next sample.
    monitor.limits = replace(monitor.limits, var_limit_pct=50.0)
    tick(engine, clock, px * 0.9, T0 + 40 * MIN + 10 * SEC)
    assert engine.entries_blocked_reason() is None


# ---- session end: no entries between the flatten and the close ---------------------

class BuyWhenFlat(Strategy):
    """Buys 10 at market whenever it is flat (what sma_cross did after the flatten)."""

    name = "buy_when_flat_test"

    def on_start(self):
        self.rejections = []

    def on_bar(self, bar):
        if self.position() == 0 and not self.open_orders():
            result = self.buy(10)
            if result.rejection is not None:
                self.rejections.append((bar.ts_ns, result.rejection))


def _bar(ts):
    return Bar("005930", "1m", ts, 70_000.0, 70_000.0, 70_000.0, 70_000.0, 100.0)


def test_strategy_cannot_reenter_after_the_session_end_flatten_until_the_next_session():
    engine, broker, monitor, clock = setup(fill_price=lambda order: 70_000,
                                           session_end_flatten_minutes=5, **CALM)
    runner = StrategyRunner(engine)
    strategy = runner.add(BuyWhenFlat(engine, "005930"))
    runner.start(strategy.strategy_id)
    for day in (0, 1):
        for minute in range(0, 390):
            ts = T0 + day * DAY + minute * MIN
            clock.advance_to(ts)
            engine.bus.publish(_bar(ts))
        close = T0 + day * DAY + SESSION
        assert engine.ledger.quantity("paper", "005930") == 0  # nothing carried over the close
        flatten = [o for o in broker.placed if o.tag == "session_end" and o.created_ns < close]
        assert flatten[-1].created_ns == close - 5 * MIN
        late_buys = [o for o in broker.placed if o.side is Side.BUY
                     and close - 5 * MIN <= o.created_ns < close]
        assert late_buys == []
    first = [(ts, r) for ts, r in strategy.rejections if ts < T0 + DAY]
    # Every bar from the one after the flatten to the close: flat, tried, rejected.
    assert [ts for ts, _ in first] == [T0 + SESSION - m * MIN for m in range(4, 0, -1)]
    code, message = first[0][1].code, first[0][1].message
    assert code == "entries_blocked"
    assert "005930: the session ends at 2026-01-01 06:30 UTC" in message
    assert "next session" in message
    # The next session opens: the strategy's first bar buys again.
    day2_buys = [o for o in broker.placed if o.side is Side.BUY and o.created_ns >= T0 + DAY]
    assert day2_buys[0].created_ns == T0 + DAY and day2_buys[0].source is OrderSource.STRATEGY
    rejected = engine.journal.risk_events
    assert any(e.code == "entries_blocked" and e.symbol == "005930" for e in rejected)


def test_other_symbols_and_reducing_orders_still_trade_inside_the_window():
    engine, broker, monitor, clock = setup(session_end_flatten_minutes=5, **CALM)
    hold(engine, broker, clock, qty=100)
    tick(engine, clock, 100_000_000, T0 + 380 * MIN, symbol="BTC/USDT")
    tick(engine, clock, 70_000, T0 + 385 * MIN)  # the flatten starts; it stays working here
    flatten = broker.placed[-1]
    assert flatten.tag == "session_end" and flatten.quantity == 100
    buy = OrderIntent("005930", Side.BUY, 1, OrderType.LIMIT, 70_000)
    assert engine.submit(buy).rejection.code == "entries_blocked"
    sell_short = OrderIntent("005930", Side.SELL, 1, OrderType.LIMIT, 70_000)
    assert engine.submit(sell_short).rejection is not None  # would add to the flatten's 100
    crypto = OrderIntent("BTC/USDT", Side.BUY, Decimal("0.001"), OrderType.LIMIT, 100_000_000)
    assert engine.submit(crypto).accepted  # BTC's market does not close
    assert engine.entries_blocked_reason() is None  # no engine-wide block
    engine.cancel(flatten.client_order_id)
    trim = OrderIntent("005930", Side.SELL, 40, OrderType.LIMIT, 70_000)
    assert engine.submit(trim).accepted  # reducing a position is always allowed


def test_the_gate_lifts_at_the_close_even_without_a_tick():
    engine, broker, monitor, clock = setup(session_end_flatten_minutes=5, **CALM)
    tick(engine, clock, 70_000, T0 + 10 * MIN)  # the session's close becomes known
    buy = OrderIntent("005930", Side.BUY, 1, OrderType.LIMIT, 70_000)
    clock.advance_to(T0 + 385 * MIN)  # no tick of this symbol in the window yet
    assert engine.submit(buy).rejection.code == "entries_blocked"
    clock.advance_to(T0 + SESSION)
    assert engine.submit(buy).accepted


def test_an_order_resting_from_before_the_window_is_flattened_when_it_fills_inside():
    engine, broker, monitor, clock = setup(session_end_flatten_minutes=5, **CALM)
    tick(engine, clock, 70_000, T0 + 380 * MIN)
    resting = engine.submit(OrderIntent("005930", Side.BUY, 10, OrderType.LIMIT, 69_900)).order
    tick(engine, clock, 70_000, T0 + 385 * MIN)  # flat: the flatten has nothing to sell
    assert len(broker.placed) == 1
    clock.advance_to(T0 + 386 * MIN)
    broker.fill(resting, 10, 69_900)
    exit_order = broker.placed[-1]
    assert exit_order.tag == "session_end" and exit_order.side is Side.SELL
    assert exit_order.quantity == 10 and exit_order.source is OrderSource.RISK


def test_no_gate_when_the_session_end_flatten_is_off():
    engine, broker, monitor, clock = setup(flatten_at_session_end=False, **CALM)
    tick(engine, clock, 70_000, T0 + 386 * MIN)
    assert engine.submit(OrderIntent("005930", Side.BUY, 1, OrderType.LIMIT, 70_000)).accepted
