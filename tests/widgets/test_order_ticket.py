"""The order ticket: reasons beside the field, snapping, sending, and refusing when latched."""

from __future__ import annotations

from decimal import Decimal

from PySide6.QtCore import Qt

from engine.clock import SimulatedClock
from engine.execution.intents import OrderIntent
from engine.execution.journal import MemoryJournal
from engine.models import ConnectionState, OrderSource, OrderType, Side, Tick, krx_stock
from engine.strategy.runner import StrategyRunner
from engine.trading import TradingEngine
from tests.engine.recording_broker import RecordingBroker
from widgets.bridge import EngineBridge
from widgets.context import AppContext
from widgets.order_ticket import OrderTicket
from widgets.orders_table import OrdersTable


def make(qtbot):
    clock = SimulatedClock(10**18)
    engine = TradingEngine.for_backtest(clock=clock, journal=MemoryJournal())
    engine.instruments.add(krx_stock("005930"))
    broker = RecordingBroker("paper", engine.bus, clock)
    engine.add_broker(broker)
    engine.open_account("paper", "KRW", Decimal(100_000_000))
    engine.bus.publish(Tick("005930", clock.now_ns(), 71_200.0, 1.0))
    ctx = AppContext(engine=engine, bridge=EngineBridge(engine.bus, rate_hz=1),
                     runner=StrategyRunner(engine))
    ticket = OrderTicket(ctx)
    qtbot.addWidget(ticket)
    return ctx, broker, ticket


def type_into(qtbot, field, text):
    field.clear()
    qtbot.keyClicks(field, text)


def test_bad_entries_are_refused_with_the_reason_beside_the_field(qtbot):
    ctx, broker, ticket = make(qtbot)
    type_into(qtbot, ticket.quantity, "0")
    type_into(qtbot, ticket.price, "71200")
    assert "quantity must be positive" in ticket.notes["quantity"].text()
    type_into(qtbot, ticket.quantity, "10")
    type_into(qtbot, ticket.price, "71234")
    assert "not on the tick grid" in ticket.notes["price"].text()
    assert "71200" in ticket.notes["price"].text()  # the nearest valid price is offered
    ticket.symbol.setCurrentText("NOPE")
    assert "unknown symbol" in ticket.notes["symbol"].text()
    assert ticket.send(Side.BUY).rejection.code == "unknown_symbol"
    assert broker.placed == []


def test_price_snaps_on_leaving_the_field_and_the_ladder_can_fill_it(qtbot):
    ctx, _, ticket = make(qtbot)
    type_into(qtbot, ticket.price, "71234")
    ticket.price.editingFinished.emit()
    assert ticket.price.text() == "71200"
    ticket.order_type.setCurrentText(OrderType.MARKET.value)
    ticket.set_price(70_950.0)
    assert ticket.order_type.currentText() == "LIMIT" and ticket.price.text() == "71000"


def test_limit_order_goes_out_appears_in_open_orders_and_cancels_from_there(qtbot):
    ctx, broker, ticket = make(qtbot)
    orders = OrdersTable(ctx)
    qtbot.addWidget(orders)
    type_into(qtbot, ticket.quantity, "10")
    type_into(qtbot, ticket.price, "71100")
    assert ticket.verdict.text() == "Risk check: OK"
    qtbot.mouseClick(ticket.buy_button, Qt.MouseButton.LeftButton)
    sent = broker.placed[-1]
    assert (sent.side, sent.quantity, sent.price, sent.source) == (
        Side.BUY, 10, Decimal(71_100), OrderSource.TICKET)
    ctx.bridge.flush()
    assert orders.model.rowCount() == 1
    orders.table.selectRow(0)
    assert orders.cancel_selected() == 1 and broker.cancelled == [sent.client_order_id]
    ctx.bridge.flush()
    assert orders.model.rowCount() == 0


def test_keyboard_sends_a_sell(qtbot):
    ctx, broker, ticket = make(qtbot)
    held = ctx.engine.submit(OrderIntent("005930", Side.BUY, 5, OrderType.LIMIT, 71_200)).order
    broker.fill(held, 5, 71_200)
    type_into(qtbot, ticket.quantity, "5")
    type_into(qtbot, ticket.price, "71300")
    ticket.show()
    ticket.quantity.setFocus()
    qtbot.keyClick(ticket.quantity, Qt.Key.Key_F10)
    assert broker.placed[-1].side is Side.SELL and broker.placed[-1].quantity == 5


def test_ticket_refuses_orders_while_latched_or_disconnected(qtbot):
    ctx, broker, ticket = make(qtbot)
    type_into(qtbot, ticket.quantity, "1")
    type_into(qtbot, ticket.price, "71100")
    ctx.engine.kill("test")
    assert not ticket.buy_button.isEnabled() and "KILL SWITCH" in ticket.verdict.text()
    assert ticket.send(Side.BUY) is None
    assert ctx.engine.rearm() is None
    ticket.update_enabled()
    assert ticket.buy_button.isEnabled()
    broker._set_state(ConnectionState.DISCONNECTED)
    assert not ticket.buy_button.isEnabled() and "disconnected" in ticket.verdict.text()


def test_size_by_risk_uses_the_sizer_and_explains_the_bound(qtbot):
    ctx, broker, ticket = make(qtbot)
    type_into(qtbot, ticket.price, "71200")
    explanation = ticket.size_by_risk()
    # max_position_pct 10% of 100M equity at 71,200 -> 140 shares (cash allows more)
    assert ticket.quantity.text() == "140"
    assert "bound by max_position" in explanation
    assert ticket.verdict.text() == "Risk check: OK"
