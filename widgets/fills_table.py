"""Fills, newest last, capped in rows."""

from __future__ import annotations

from PySide6.QtWidgets import QVBoxLayout, QWidget

from engine.models import FillEvent, ns_to_timestamp
from widgets.context import AppContext
from widgets.record_table import Column, RecordModel, RecordTable, money

COLUMNS = [
    Column("Time", lambda e: ns_to_timestamp(e.fill.ts_ns).strftime("%Y-%m-%d %H:%M:%S")),
    Column("Symbol", lambda e: e.fill.symbol),
    Column("Side", lambda e: e.fill.side,
           colour=lambda s: "#26a69a" if s.value == "BUY" else "#ef5350"),
    Column("Qty", lambda e: e.fill.quantity, align_right=True),
    Column("Price", lambda e: e.fill.price, align_right=True),
    Column("Commission", lambda e: e.fill.commission, money, align_right=True),
    Column("Tax", lambda e: e.fill.tax, money, align_right=True),
    Column("Liquidity", lambda e: e.fill.liquidity),
    Column("Order", lambda e: e.fill.client_order_id),
    Column("Fill id", lambda e: e.fill.fill_id),
    Column("Broker", lambda e: e.fill.broker),
]


class FillsTable(QWidget):
    def __init__(self, ctx: AppContext, parent: QWidget | None = None, row_cap: int = 1000) -> None:
        super().__init__(parent)
        self.model = RecordModel(COLUMNS, key=lambda e: (e.fill.broker, e.fill.fill_id),
                                 row_cap=row_cap)
        self.table = RecordTable(self.model)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.addWidget(self.table)
        ctx.bridge.fills.connect(self.on_fills)

    def on_fills(self, events: list[FillEvent]) -> None:
        self.model.upsert(events)
