"""Portfolio risk: daily loss/target, drawdown, VaR, stops, session-end flatten."""

from __future__ import annotations

from decimal import Decimal

from engine.clock import SimulatedClock
from engine.execution.intents import OrderIntent
from engine.execution.journal import MemoryJournal
from engine.models import OrderSource, OrderType, Side, Tick, krx_stock
from engine.risk.limits import RiskLimits
from engine.risk.portfolio import PortfolioLimits, PortfolioRiskMonitor
from engine.trading import TradingEngine
from tests.engine.recording_broker import RecordingBroker

SAMSUNG = krx_stock("005930")
T0 = 1_767_225_600 * 10**9  # 2026-01-01 00:00 UTC
MIN = 60 * 10**9


def setup(session_end=None, **limits):
    clock = SimulatedClock(T0)
    engine = TradingEngine.for_backtest(clock=clock, journal=MemoryJournal(),
                                        limits=RiskLimits(max_position_pct=100,
                                                          max_orders_per_second=1000,
                                                          price_band_pct=50))
    engine.instruments.add(SAMSUNG)
    broker = RecordingBroker("paper", engine.bus, clock)
    engine.add_broker(broker)
    engine.open_account("paper", "KRW", Decimal(10_000_000))
    monitor = PortfolioRiskMonitor(engine, PortfolioLimits(**limits), session_end=session_end)
    return engine, broker, monitor, clock


def price(engine, clock, px, minutes):
    clock.advance_to(T0 + minutes * MIN)
    engine.bus.publish(Tick("005930", clock.now_ns(), float(px), 1.0))


def hold(engine, broker, clock, qty=100, px=70_000):
    price(engine, clock, px, 0)
    order = engine.submit(OrderIntent("005930", Side.BUY, qty, OrderType.LIMIT, px)).order
    broker.fill(order, qty, px)
    return order


def test_daily_loss_limit_throws_the_kill_switch():
    engine, broker, monitor, clock = setup(daily_max_loss_pct=2, stop_loss_pct=0)
    hold(engine, broker, clock)  # 7M of 10M equity in stock
    price(engine, clock, 68_000, 1)  # -200,000 = -2.0%
    assert engine.kill_switch.latched and engine.kill_switch.state.source == "daily_loss"
    assert monitor.status("paper").daily_return_pct == -2.0


def test_daily_target_stops_entries_until_the_next_day():
    engine, broker, monitor, clock = setup(target_daily_return_pct=3, take_profit_pct=0)
    hold(engine, broker, clock)
    price(engine, clock, 73_000, 1)  # +300,000 = +3%
    assert "daily target" in engine.entries_blocked_reason()
    intent = OrderIntent("005930", Side.BUY, 1, OrderType.LIMIT, 73_000)
    assert engine.submit(intent).rejection.code == "entries_blocked"
    price(engine, clock, 73_000, 24 * 60 + 1)  # the next day starts from here
    assert engine.entries_blocked_reason() is None
    assert engine.submit(intent).accepted
    assert not engine.kill_switch.latched


def test_drawdown_from_the_peak_throws_the_kill_switch():
    engine, broker, monitor, clock = setup(max_drawdown_pct=5, daily_max_loss_pct=50,
                                           stop_loss_pct=0, take_profit_pct=0,
                                           target_daily_return_pct=100)
    hold(engine, broker, clock)
    price(engine, clock, 80_000, 1)  # equity 11M: the peak
    price(engine, clock, 74_000, 2)  # 10.4M: 5.45% below the peak
    assert engine.kill_switch.latched and engine.kill_switch.state.source == "drawdown"


def test_stop_loss_and_take_profit_flatten_from_the_entry_price():
    engine, broker, monitor, clock = setup(stop_loss_pct=1, take_profit_pct=2,
                                           daily_max_loss_pct=50)
    hold(engine, broker, clock)
    price(engine, clock, 69_400, 1)  # above the 69,300 stop
    assert len(broker.placed) == 1
    price(engine, clock, 69_300, 2)
    exit_order = broker.placed[-1]
    assert exit_order.source is OrderSource.RISK and exit_order.tag == "stop_loss"
    assert exit_order.side is Side.SELL and exit_order.quantity == 100
    price(engine, clock, 69_200, 3)  # no second exit while the first one works
    assert len(broker.placed) == 2


def test_trailing_stop_follows_the_best_price():
    engine, broker, monitor, clock = setup(stop_loss_pct=5, take_profit_pct=0,
                                           trailing_stop_pct=1, daily_max_loss_pct=50,
                                           target_daily_return_pct=100)
    hold(engine, broker, clock)
    price(engine, clock, 75_000, 1)  # trail to 74,250
    price(engine, clock, 74_300, 2)
    assert len(broker.placed) == 1
    price(engine, clock, 74_200, 3)
    assert broker.placed[-1].tag == "stop_loss"


def test_session_end_flattens_before_the_close():
    close = T0 + 390 * MIN
    engine, broker, monitor, clock = setup(session_end=lambda symbol, ts: close,
                                           session_end_flatten_minutes=5, stop_loss_pct=0,
                                           take_profit_pct=0)
    hold(engine, broker, clock)
    price(engine, clock, 70_000, 384)
    assert len(broker.placed) == 1
    price(engine, clock, 70_000, 385)
    assert broker.placed[-1].tag == "session_end" and broker.placed[-1].quantity == 100
    price(engine, clock, 70_000, 386)
    assert len(broker.placed) == 2  # once per session


def test_var_above_the_limit_blocks_entries():
    engine, broker, monitor, clock = setup(var_limit_pct=0.5, daily_max_loss_pct=90,
                                           max_drawdown_pct=90, stop_loss_pct=0,
                                           take_profit_pct=0, target_daily_return_pct=900)
    hold(engine, broker, clock, qty=140)  # 9.8M in stock
    for i in range(1, 60):
        price(engine, clock, 70_000 * (1.02 if i % 2 else 0.98), i)  # +-2% swings every minute
    assert monitor.status("paper").var_pct > 0.5
    assert "VaR" in engine.entries_blocked_reason()


def test_calendar_helpers_use_real_sessions():
    from engine.instruments import InstrumentRegistry
    from engine.models import crypto_spot
    from engine.risk.portfolio import calendar_day, calendar_session_end

    reg = InstrumentRegistry([SAMSUNG, crypto_spot("BTC/USDT")])
    end = calendar_session_end(reg)
    ts = 1_767_312_000 * 10**9 + 3 * 3600 * 10**9  # 2026-01-02 03:00 UTC = 12:00 KST
    assert end("005930", ts) == 1_767_335_400 * 10**9  # 15:30 KST = 06:30 UTC
    assert end("BTC/USDT", ts) is None
    assert calendar_day("XKRX")(ts).isoformat() == "2026-01-02"
