"""Ladder and tape: levels in order, click-to-ticket, bounded repaints."""

from __future__ import annotations

from decimal import Decimal

from PySide6.QtCore import Qt

from engine.clock import SimulatedClock
from engine.execution.journal import MemoryJournal
from engine.models import BookLevel, OrderBook, Side, Tick, krx_stock
from engine.strategy.runner import StrategyRunner
from engine.trading import TradingEngine
from tests.engine.recording_broker import RecordingBroker
from widgets.bridge import EngineBridge
from widgets.context import AppContext
from widgets.order_book import OrderBookPanel
from widgets.order_ticket import OrderTicket


def book(ts, mid=71_000.0, levels=12):
    bids = tuple(BookLevel(mid - 100 * (i + 1), 10.0 * (i + 1)) for i in range(levels))
    asks = tuple(BookLevel(mid + 100 * i, 5.0 * (i + 1)) for i in range(levels))
    return OrderBook("005930", ts, bids, asks)


def make(qtbot):
    clock = SimulatedClock(10**18)
    engine = TradingEngine.for_backtest(clock=clock, journal=MemoryJournal())
    engine.instruments.add(krx_stock("005930"))
    engine.add_broker(RecordingBroker("paper", engine.bus, clock))
    engine.open_account("paper", "KRW", Decimal(10_000_000))
    ctx = AppContext(engine=engine, bridge=EngineBridge(engine.bus, rate_hz=1),
                     runner=StrategyRunner(engine), symbols=["005930"])
    panel = OrderBookPanel(ctx, levels=10)
    qtbot.addWidget(panel)
    return ctx, panel


def test_ladder_orders_levels_and_shows_spread_and_last(qtbot):
    ctx, panel = make(qtbot)
    ctx.engine.bus.publish(book(1))
    ctx.engine.bus.publish(Tick("005930", 2, 71_000.0, 3.0, Side.BUY))
    ctx.bridge.flush()
    model = panel.ladder.model
    assert model.rowCount() == 20
    prices = [model.index(r, 1).data() for r in range(20)]
    assert prices[9] == "71,000" and prices[10] == "70,900"  # best ask above best bid
    assert prices[0] == "71,900" and prices[19] == "70,000"  # ten levels each side
    assert model.index(9, 2).data() == "5" and model.index(10, 0).data() == "10"
    assert model.index(10, 2).data() is None  # no ask size on a bid row
    assert panel.ladder.spread.text() == "spread 100"
    assert panel.ladder.last.text() == "last 71,000 x 3"
    tape = panel.tape.model
    assert tape.rowCount() == 1
    assert [tape.index(0, c).data() for c in range(3)] == ["00:00:00", "71,000", "3"]
    assert "BUY 3 @ 71,000" in tape.index(0, 1).data(Qt.ItemDataRole.ToolTipRole)


def test_the_tape_shows_time_price_and_size_unclipped_in_its_first_start_width(qtbot):
    ctx, panel = make(qtbot)
    panel.resize(560, 400)  # the book dock's first-start width
    panel.show()
    ctx.engine.bus.publish(Tick("005930", 1_700_000_000_123_000_000, 171_000.0, 123_456.0,
                                Side.SELL))
    ctx.bridge.flush()
    view, model = panel.tape.view, panel.tape.model
    metrics = view.fontMetrics()
    for col in range(3):
        text = model.index(0, col).data()
        assert metrics.horizontalAdvance(text) < view.columnWidth(col), (col, text)


def test_clicking_a_level_fills_the_ticket(qtbot):
    ctx, panel = make(qtbot)
    ticket = OrderTicket(ctx)
    qtbot.addWidget(ticket)
    panel.price_clicked.connect(ticket.set_price)
    ctx.engine.bus.publish(book(1))
    ctx.bridge.flush()
    panel.show()
    rect = panel.ladder.view.visualRect(panel.ladder.model.index(10, 1))
    qtbot.mouseClick(panel.ladder.view.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    assert ticket.price.text() == "70900"


def test_fifty_updates_become_one_repaint_per_flush(qtbot):
    ctx, panel = make(qtbot)
    for i in range(50):
        ctx.engine.bus.publish(book(i, mid=71_000.0 + 100 * (i % 3)))
    ctx.bridge.flush()
    assert panel.ladder.repaints == 1
