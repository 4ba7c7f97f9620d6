"""Orders, fills, positions and account tables driven through the real engine."""

from __future__ import annotations

import csv
from decimal import Decimal

from PySide6.QtCore import QItemSelectionModel, Qt

from engine.clock import SimulatedClock
from engine.execution.intents import OrderIntent
from engine.execution.journal import MemoryJournal
from engine.models import OrderType, Side, Tick, krx_stock
from engine.risk.limits import RiskLimits
from engine.strategy.runner import StrategyRunner
from engine.trading import TradingEngine
from tests.engine.recording_broker import RecordingBroker
from widgets.account_panel import AccountPanel
from widgets.bridge import EngineBridge
from widgets.context import AppContext
from widgets.fills_table import FillsTable
from widgets.orders_table import OrdersTable
from widgets.positions_table import PositionsTable


def make_ctx():
    clock = SimulatedClock(10**18)
    engine = TradingEngine.for_backtest(clock=clock, journal=MemoryJournal(),
                                        limits=RiskLimits(max_orders_per_second=1000,
                                                          max_active_orders=5000))
    engine.instruments.add(krx_stock("005930"))
    broker = RecordingBroker("paper", engine.bus, clock)
    engine.add_broker(broker)
    engine.open_account("paper", "KRW", Decimal(1_000_000_000))
    engine.bus.publish(Tick("005930", clock.now_ns(), 70_000.0, 1.0))
    bridge = EngineBridge(engine.bus, rate_hz=1)
    return AppContext(engine=engine, bridge=bridge, runner=StrategyRunner(engine)), broker


def limit(qty, price=69_000, side=Side.BUY):
    return OrderIntent("005930", side, qty, OrderType.LIMIT, price)


def select_row(table, row):
    index = table.proxy.index(row, 0)
    table.selectionModel().select(index, QItemSelectionModel.SelectionFlag.ClearAndSelect
                                  | QItemSelectionModel.SelectionFlag.Rows)


def test_open_orders_appear_cancel_selected_and_leave(qtbot):
    ctx, broker = make_ctx()
    panel = OrdersTable(ctx)
    qtbot.addWidget(panel)
    orders = [ctx.engine.submit(limit(q, 69_000 - 100 * q)).order for q in (1, 2, 3)]
    ctx.bridge.flush()
    assert panel.model.rowCount() == 3
    panel.table.sortByColumn(7, Qt.SortOrder.DescendingOrder)  # quantity, numerically
    select_row(panel.table, 0)
    assert panel.table.selected_records()[0].quantity == 3
    assert panel.cancel_selected() == 1
    assert broker.cancelled == [orders[2].client_order_id]
    ctx.bridge.flush()
    assert panel.model.rowCount() == 2
    assert panel.cancel_all() == 2
    ctx.bridge.flush()
    assert panel.model.rowCount() == 0


def test_selection_survives_updates(qtbot):
    ctx, broker = make_ctx()
    panel = OrdersTable(ctx)
    qtbot.addWidget(panel)
    first = ctx.engine.submit(limit(1)).order
    ctx.bridge.flush()
    select_row(panel.table, 0)
    ctx.engine.submit(limit(2))
    ctx.bridge.flush()
    assert [o.client_order_id for o in panel.table.selected_records()] == [first.client_order_id]


def test_fills_table_is_capped_and_exports_csv(qtbot, tmp_path):
    ctx, broker = make_ctx()
    panel = FillsTable(ctx, row_cap=5)
    qtbot.addWidget(panel)
    order = ctx.engine.submit(limit(20)).order
    for _ in range(8):
        broker.fill(order, 1, 69_000)
    ctx.bridge.flush()
    assert panel.model.rowCount() == 5  # newest five kept
    assert panel.model.records()[-1].fill.fill_id == "paper-8"
    out = tmp_path / "fills.csv"
    assert panel.table.export_csv(out) == 5
    rows = list(csv.reader(out.open()))
    assert rows[0][:3] == ["Time", "Symbol", "Side"] and len(rows) == 6


def test_positions_flatten_and_account_refresh(qtbot):
    ctx, broker = make_ctx()
    positions = PositionsTable(ctx)
    account = AccountPanel(ctx)
    qtbot.addWidget(positions)
    qtbot.addWidget(account)
    order = ctx.engine.submit(limit(10, 70_000)).order
    broker.fill(order, 10, 70_000)
    positions.refresh(force=True)
    account.refresh(force=True)
    assert positions.model.rowCount() == 1 and positions.model.record(0).quantity == 10
    assert account.model.record(0).cash == Decimal(1_000_000_000 - 700_000)
    select_row(positions.table, 0)
    assert positions.flatten_selected() == 1
    flatten = broker.placed[-1]
    assert flatten.side is Side.SELL and flatten.quantity == 10 and flatten.order_type is OrderType.MARKET
    broker.fill(flatten, 10, 70_100)
    positions.refresh(force=True)
    assert positions.model.rowCount() == 0
