"""Open orders: cancel one (selected) or all; rows leave when an order is done."""

from __future__ import annotations

from PySide6.QtGui import QAction
from PySide6.QtWidgets import QHBoxLayout, QPushButton, QVBoxLayout, QWidget

from engine.models import Order, ns_to_timestamp
from widgets.context import AppContext
from widgets.record_table import Column, RecordModel, RecordTable

COLUMNS = [
    Column("Time", lambda o: ns_to_timestamp(o.created_ns).strftime("%H:%M:%S")),
    Column("Id", lambda o: o.client_order_id),
    Column("Broker", lambda o: o.broker),
    Column("Symbol", lambda o: o.symbol),
    Column("Side", lambda o: o.side, colour=lambda s: "#26a69a" if s.value == "BUY" else "#ef5350"),
    Column("Type", lambda o: o.order_type),
    Column("TIF", lambda o: o.time_in_force),
    Column("Qty", lambda o: o.quantity, align_right=True),
    Column("Filled", lambda o: o.filled_qty, align_right=True),
    Column("Price", lambda o: o.price, align_right=True),
    Column("Stop", lambda o: o.stop_price, align_right=True),
    Column("Status", lambda o: o.status),
    Column("Source", lambda o: o.source),
]


class OrdersTable(QWidget):
    def __init__(self, ctx: AppContext, parent: QWidget | None = None, row_cap: int = 1000) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.model = RecordModel(COLUMNS, key=lambda o: o.client_order_id, row_cap=row_cap)
        self.table = RecordTable(self.model)
        self.cancel_button = QPushButton("Cancel selected")
        self.cancel_all_button = QPushButton("Cancel all")
        self.cancel_button.clicked.connect(self.cancel_selected)
        self.cancel_all_button.clicked.connect(self.cancel_all)
        action = QAction("Cancel order", self.table)
        action.triggered.connect(self.cancel_selected)
        self.table.extra_actions.append(action)
        buttons = QHBoxLayout()
        buttons.addWidget(self.cancel_button)
        buttons.addWidget(self.cancel_all_button)
        buttons.addStretch(1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.addLayout(buttons)
        layout.addWidget(self.table)
        self.model.upsert(ctx.engine.oms.open_orders())
        ctx.bridge.orders.connect(self.on_orders)

    def on_orders(self, orders: list[Order]) -> None:
        done = [o.client_order_id for o in orders if not o.is_open]
        self.model.upsert([o for o in orders if o.is_open])
        self.model.remove(done)

    def cancel_selected(self) -> int:
        return sum(self.ctx.engine.cancel(o.client_order_id) for o in self.table.selected_records())

    def cancel_all(self) -> int:
        return self.ctx.engine.cancel_all()



