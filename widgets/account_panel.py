"""Account summary per broker: cash, equity, PnL, fees, margin."""

from __future__ import annotations

from PySide6.QtWidgets import QVBoxLayout, QWidget

from widgets.context import AppContext
from widgets.record_table import Column, RecordModel, RecordTable, money, signed_colour

COLUMNS = [
    Column("Broker", lambda a: a.broker),
    Column("Currency", lambda a: a.currency),
    Column("Cash", lambda a: a.cash, money, align_right=True),
    Column("Equity", lambda a: a.equity, money, align_right=True),
    Column("Unrealized", lambda a: a.unrealized_pnl, money, signed_colour, True),
    Column("Realized", lambda a: a.realized_pnl, money, signed_colour, True),
    Column("Fees", lambda a: a.fees, money, align_right=True),
    Column("Margin used", lambda a: a.margin_used, money, align_right=True),
    Column("Buying power", lambda a: a.buying_power, money, align_right=True),
]


class AccountPanel(QWidget):
    def __init__(self, ctx: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.model = RecordModel(COLUMNS, key=lambda a: a.broker, row_cap=50)
        self.table = RecordTable(self.model)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.addWidget(self.table)
        self._ticks = 0
        ctx.bridge.refreshed.connect(self.refresh)
        self.refresh(force=True)

    def refresh(self, force: bool = False) -> None:
        self._ticks += 1
        if not force and self._ticks % 5:
            return
        ledger = self.ctx.engine.ledger
        self.model.upsert([ledger.account(b) for b in ledger.brokers()])
