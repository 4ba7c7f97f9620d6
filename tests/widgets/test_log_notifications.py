"""Log panel filtering, and notifications that do not flood."""

from __future__ import annotations

import logging
from decimal import Decimal

from engine.clock import SimulatedClock
from engine.execution.intents import OrderIntent
from engine.execution.journal import MemoryJournal
from engine.models import OrderType, Side, Tick, krx_stock
from engine.strategy.runner import StrategyRunner
from engine.trading import TradingEngine
from tests.engine.recording_broker import RecordingBroker
from widgets.bridge import EngineBridge
from widgets.context import AppContext
from widgets.log_panel import LogPanel
from widgets.notifications import Notifier


def test_log_panel_filters_by_level_and_shows_panel_errors(qtbot):
    panel = LogPanel()
    qtbot.addWidget(panel)
    log = logging.getLogger("test.panel")
    log.setLevel(logging.DEBUG)
    log.debug("quiet detail")
    log.info("order sent")
    try:
        raise RuntimeError("chart exploded")
    except RuntimeError:
        log.exception("panel chart failed")
    qtbot.waitUntil(lambda: "chart exploded" in panel.visible_text(), timeout=2000)
    assert "order sent" in panel.visible_text() and "quiet detail" not in panel.visible_text()
    panel.level.setCurrentText("ERROR")
    assert "order sent" not in panel.visible_text() and "panel chart failed" in panel.visible_text()
    panel.level.setCurrentText("DEBUG")
    assert "quiet detail" in panel.visible_text()
    panel.close()


def test_notifications_for_fills_rejections_and_kill_switch(qtbot):
    clock = SimulatedClock(10**18)
    engine = TradingEngine.for_backtest(clock=clock, journal=MemoryJournal())
    engine.instruments.add(krx_stock("005930"))
    broker = RecordingBroker("paper", engine.bus, clock)
    engine.add_broker(broker)
    engine.open_account("paper", "KRW", Decimal(10_000_000))
    engine.bus.publish(Tick("005930", clock.now_ns(), 70_000.0, 1.0))
    ctx = AppContext(engine=engine, bridge=EngineBridge(engine.bus, rate_hz=1),
                     runner=StrategyRunner(engine))
    notifier = Notifier(ctx, min_interval_s=60)
    order = engine.submit(OrderIntent("005930", Side.BUY, 2, OrderType.LIMIT, 70_000)).order
    broker.fill(order, 1, 70_000)
    broker.fill(order, 1, 70_000)
    engine.submit(OrderIntent("005930", Side.BUY, 0, OrderType.LIMIT, 70_000))
    ctx.bridge.flush()
    titles = [t for t, _ in notifier.sent]
    assert titles == ["Fill", "Order rejected"]  # the second fill is throttled
    engine.kill("test")
    assert notifier.sent[-1][0] == "KILL SWITCH" and "test" in notifier.sent[-1][1]


def test_notifier_remembers_only_the_last_notifications(qtbot):
    from widgets.notifications import SENT_KEPT

    clock = SimulatedClock(10**18)
    engine = TradingEngine.for_backtest(clock=clock, journal=MemoryJournal())
    ctx = AppContext(engine=engine, bridge=EngineBridge(engine.bus, rate_hz=1),
                     runner=StrategyRunner(engine))
    notifier = Notifier(ctx, min_interval_s=0)
    total = SENT_KEPT * 3 + 7
    for i in range(total):
        assert notifier.notify("fill", "Fill", f"fill {i}", clock=lambda i=i: float(i))
    assert len(notifier.sent) == SENT_KEPT
    assert [m for _, m in notifier.sent] == [f"fill {i}" for i in range(total - SENT_KEPT, total)]
