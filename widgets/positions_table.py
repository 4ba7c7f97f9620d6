"""Positions with unrealized PnL at the last price; flatten one or all."""

from __future__ import annotations

from PySide6.QtGui import QAction
from PySide6.QtWidgets import QHBoxLayout, QPushButton, QVBoxLayout, QWidget

from engine.models import OrderSource
from widgets.context import AppContext
from widgets.record_table import Column, RecordModel, RecordTable, money, signed_colour

COLUMNS = [
    Column("Broker", lambda p: p.broker),
    Column("Symbol", lambda p: p.symbol),
    Column("Qty", lambda p: p.quantity, colour=signed_colour, align_right=True),
    Column("Avg price", lambda p: p.avg_price, money, align_right=True),
    Column("Last", lambda p: p.last_price, money, align_right=True),
    Column("Value", lambda p: p.market_value, money, align_right=True),
    Column("Unrealized", lambda p: p.unrealized_pnl, money, signed_colour, True),
    Column("Realized", lambda p: p.realized_pnl, money, signed_colour, True),
    Column("Fees", lambda p: p.fees, money, align_right=True),
]


class PositionsTable(QWidget):
    def __init__(self, ctx: AppContext, parent: QWidget | None = None, row_cap: int = 1000) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.model = RecordModel(COLUMNS, key=lambda p: (p.broker, p.symbol), row_cap=row_cap)
        self.table = RecordTable(self.model)
        self.flatten_button = QPushButton("Flatten selected")
        self.flatten_all_button = QPushButton("Flatten all")
        self.flatten_button.clicked.connect(self.flatten_selected)
        self.flatten_all_button.clicked.connect(self.flatten_all)
        action = QAction("Flatten position", self.table)
        action.triggered.connect(self.flatten_selected)
        self.table.extra_actions.append(action)
        buttons = QHBoxLayout()
        buttons.addWidget(self.flatten_button)
        buttons.addWidget(self.flatten_all_button)
        buttons.addStretch(1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.addLayout(buttons)
        layout.addWidget(self.table)
        ctx.bridge.refreshed.connect(self.refresh)
        self._ticks = 0
        self.refresh(force=True)

    def refresh(self, force: bool = False) -> None:
        """Positions re-read from the ledger a few times a second (marks move)."""
        self._ticks += 1
        if not force and self._ticks % 5:
            return
        current = self.ctx.engine.ledger.positions()
        keys = {(p.broker, p.symbol) for p in current}
        gone = [(r.broker, r.symbol) for r in self.model.records() if (r.broker, r.symbol) not in keys]
        self.model.remove(gone)
        self.model.upsert(current)

    def flatten_selected(self) -> int:
        n = 0
        for pos in self.table.selected_records():
            n += len(self.ctx.engine.flatten(symbol=pos.symbol, broker=pos.broker,
                                             source=OrderSource.TICKET))
        return n

    def flatten_all(self) -> int:
        return len(self.ctx.engine.flatten(source=OrderSource.TICKET))



