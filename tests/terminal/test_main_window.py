"""Main window: the kill switch is one click or one shortcut away; layouts persist."""

from __future__ import annotations

from decimal import Decimal

from PySide6.QtCore import Qt

from engine.clock import SimulatedClock
from engine.execution.intents import OrderIntent
from engine.execution.journal import MemoryJournal
from engine.models import OrderType, Side, Tick, krx_stock
from engine.strategy.runner import StrategyRunner
from engine.trading import TradingEngine
from terminal.main_window import MainWindow, PanelSpec
from tests.engine.recording_broker import RecordingBroker
from widgets.bridge import EngineBridge
from widgets.context import AppContext


def make_ctx():
    clock = SimulatedClock(10**18)
    engine = TradingEngine.for_backtest(clock=clock, journal=MemoryJournal())
    engine.instruments.add(krx_stock("005930"))
    broker = RecordingBroker("paper", engine.bus, clock)
    engine.add_broker(broker)
    engine.open_account("paper", "KRW", Decimal(10_000_000))
    engine.bus.publish(Tick("005930", clock.now_ns(), 70_000.0, 1.0))
    ctx = AppContext(engine=engine, bridge=EngineBridge(engine.bus), runner=StrategyRunner(engine))
    return ctx, broker


def panels():
    from PySide6.QtWidgets import QLabel
    return [PanelSpec("orders", "Orders", lambda ctx: QLabel("orders")),
            PanelSpec("log", "Log", lambda ctx: QLabel("log"), Qt.DockWidgetArea.BottomDockWidgetArea)]


def test_one_click_kills_and_the_banner_shows_the_latch(qtbot):
    ctx, broker = make_ctx()
    window = MainWindow(ctx, panels=panels())
    qtbot.addWidget(window)
    window.show()
    order = ctx.engine.submit(OrderIntent("005930", Side.BUY, 1, OrderType.LIMIT, 69_000)).order
    assert not window.banner.isVisible()
    qtbot.mouseClick(window.kill_button, Qt.MouseButton.LeftButton)
    assert ctx.engine.kill_switch.latched and ctx.engine.kill_switch.state.source == "button"
    assert order.client_order_id in broker.cancelled
    assert window.banner.isVisible() and "LATCHED" in window.banner.label.text()
    assert "KILL SWITCH LATCHED" in window.windowTitle()
    assert window.banner.rearm() and not window.banner.isVisible()


def test_shortcut_kills_from_anywhere_in_the_app(qtbot):
    ctx, _ = make_ctx()
    window = MainWindow(ctx, panels=panels())
    qtbot.addWidget(window)
    window.show()
    window.kill_shortcut.activated.emit()
    assert ctx.engine.kill_switch.state.source == "shortcut"
    assert window.kill_shortcut.key().toString() == "Ctrl+Shift+K"
    assert window.kill_shortcut.context() == Qt.ShortcutContext.ApplicationShortcut


def test_layout_survives_a_restart_and_resets(qtbot, tmp_path):
    layout = tmp_path / "layout.ini"
    ctx, _ = make_ctx()
    first = MainWindow(ctx, panels=panels(), layout_file=layout)
    qtbot.addWidget(first)
    first.show()
    first.docks["log"].hide()
    first.close()  # saves
    second = MainWindow(ctx, panels=panels(), layout_file=layout)
    qtbot.addWidget(second)
    second.show()
    assert not second.docks["log"].isVisible()
    second.reset_layout()
    assert second.docks["log"].isVisible()


def test_a_panel_that_fails_to_start_does_not_stop_the_window(qtbot):
    ctx, _ = make_ctx()

    def broken(ctx):
        raise RuntimeError("no data")

    window = MainWindow(ctx, panels=[PanelSpec("broken", "Broken", broken)])
    qtbot.addWidget(window)
    assert "could not start" in window.panels["broken"].text()
