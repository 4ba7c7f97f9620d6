"""Risk panel gauges turn amber and red; rejections are listed with their reasons."""

from __future__ import annotations

from decimal import Decimal

from engine.clock import SimulatedClock
from engine.execution.intents import OrderIntent
from engine.execution.journal import MemoryJournal
from engine.models import OrderType, Side, Tick, krx_stock
from engine.risk.limits import RiskLimits
from engine.risk.portfolio import PortfolioLimits, PortfolioRiskMonitor
from engine.strategy.runner import StrategyRunner
from engine.trading import TradingEngine
from tests.engine.recording_broker import RecordingBroker
from widgets.bridge import EngineBridge
from widgets.context import AppContext
from widgets.risk_panel import AMBER, GREEN, RED, RiskPanel, level_colour

T0 = 1_767_225_600 * 10**9


def test_level_colours():
    assert (level_colour(0.1), level_colour(0.75), level_colour(1.0)) == (GREEN, AMBER, RED)


def test_gauges_follow_the_day_and_rejections_are_listed(qtbot):
    clock = SimulatedClock(T0)
    engine = TradingEngine.for_backtest(clock=clock, journal=MemoryJournal(),
                                        limits=RiskLimits(max_position_pct=100))
    engine.instruments.add(krx_stock("005930"))
    broker = RecordingBroker("paper", engine.bus, clock)
    engine.add_broker(broker)
    engine.open_account("paper", "KRW", Decimal(10_000_000))
    monitor = PortfolioRiskMonitor(engine, PortfolioLimits(daily_max_loss_pct=2, stop_loss_pct=0,
                                                           auto_on_daily_loss=False))
    ctx = AppContext(engine=engine, bridge=EngineBridge(engine.bus, rate_hz=1),
                     runner=StrategyRunner(engine), monitor=monitor)
    panel = RiskPanel(ctx)
    qtbot.addWidget(panel)
    engine.bus.publish(Tick("005930", T0, 70_000.0, 1.0))
    order = engine.submit(OrderIntent("005930", Side.BUY, 100, OrderType.LIMIT, 70_000)).order
    broker.fill(order, 100, 70_000)
    clock.advance_to(T0 + 60 * 10**9)
    engine.bus.publish(Tick("005930", clock.now_ns(), 68_900.0, 1.0))  # -110,000 = -1.1%
    panel.refresh(force=True)
    assert panel.gauges["daily_loss"].bar.property("level") == GREEN
    engine.bus.publish(Tick("005930", clock.now_ns(), 68_500.0, 1.0))  # -1.5%: 75% of the limit
    panel.refresh(force=True)
    assert panel.gauges["daily_loss"].bar.property("level") == AMBER
    assert "-1.50%" in panel.gauges["daily_loss"].text.text()
    engine.bus.publish(Tick("005930", clock.now_ns(), 67_900.0, 1.0))  # -2.1%
    panel.refresh(force=True)
    assert panel.gauges["daily_loss"].bar.property("level") == RED
    assert "daily loss" in panel.blocked.text()
    engine.submit(OrderIntent("005930", Side.BUY, 1, OrderType.LIMIT, 67_900))
    ctx.bridge.flush()
    codes = [e.code for e in panel.events.records()]
    assert "entries_blocked" in codes
    assert "new entries are stopped" in panel.events.records()[-1].message
