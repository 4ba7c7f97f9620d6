"""Risk panel: today's PnL, drawdown, VaR and exposure against their limits.

Each gauge is a bar filled to the share of its limit in use, green below 70%,
amber from 70% and red from 100%. Below them, the latest risk events (order
rejections with their reasons, limit breaches, quarantined broker reports).
"""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QComboBox,
    QGridLayout,
    QLabel,
    QProgressBar,
    QVBoxLayout,
    QWidget,
)

from engine.models import RiskEvent, ns_to_timestamp
from widgets.context import AppContext
from widgets.record_table import Column, RecordModel, RecordTable

AMBER_AT = 0.7
GREEN, AMBER, RED = "#2e7d32", "#f9a825", "#c62828"

EVENT_COLUMNS = [
    Column("Time", lambda e: ns_to_timestamp(e.ts_ns).strftime("%H:%M:%S")),
    Column("Severity", lambda e: e.severity,
           colour=lambda s: {"critical": RED, "warning": AMBER}.get(s)),
    Column("Code", lambda e: e.code),
    Column("Symbol", lambda e: e.symbol),
    Column("Message", lambda e: e.message),
]


def level_colour(used: float) -> str:
    """Colour for a gauge at ``used`` (share of the limit: 1.0 = at the limit)."""
    if used >= 1.0:
        return RED
    if used >= AMBER_AT:
        return AMBER
    return GREEN


@dataclass
class Gauge:
    title: QLabel
    bar: QProgressBar
    text: QLabel

    def show(self, used: float, text: str) -> None:
        used = max(0.0, used)
        self.bar.setValue(int(min(used, 1.0) * 1000))
        colour = level_colour(used)
        if self.bar.property("level") != colour:  # a style sheet re-polishes: only on change
            self.bar.setStyleSheet(f"QProgressBar::chunk {{ background: {colour}; }}")
            self.bar.setProperty("level", colour)
        if self.text.text() != text:
            self.text.setText(text)


class RiskPanel(QWidget):
    def __init__(self, ctx: AppContext, parent: QWidget | None = None, event_cap: int = 200) -> None:
        super().__init__(parent)
        self.ctx = ctx
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        self.broker = QComboBox()
        self.broker.addItems(ctx.engine.ledger.brokers() or list(ctx.engine.brokers))
        if ctx.symbols:  # start on the account the first (charted) symbol trades in
            routed = ctx.engine.broker_for(ctx.symbols[0])
            if self.broker.findText(routed) >= 0:
                self.broker.setCurrentText(routed)
        layout.addWidget(self.broker)
        grid = QGridLayout()
        self.gauges: dict[str, Gauge] = {}
        for row, (key, title) in enumerate((
            ("daily_loss", "Daily loss vs limit"),
            ("daily_target", "Daily return vs target"),
            ("drawdown", "Drawdown vs limit"),
            ("var", "VaR vs limit"),
            ("exposure", "Gross exposure vs limit"),
        )):
            label, bar, text = QLabel(title), QProgressBar(), QLabel()
            bar.setRange(0, 1000)
            bar.setTextVisible(False)
            bar.setFixedHeight(12)
            text.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            grid.addWidget(label, row, 0)
            grid.addWidget(bar, row, 1)
            grid.addWidget(text, row, 2)
            self.gauges[key] = Gauge(label, bar, text)
        grid.setColumnStretch(1, 1)
        layout.addLayout(grid)
        self.blocked = QLabel()
        self.blocked.setWordWrap(True)
        self.blocked.setStyleSheet(f"color: {RED}; font-weight: bold;")
        layout.addWidget(self.blocked)
        layout.addWidget(QLabel("Recent risk events"))
        self.events = RecordModel(EVENT_COLUMNS, key=lambda e: (e.ts_ns, e.code, id(e)),
                                  row_cap=event_cap)
        self.events_table = RecordTable(self.events)
        layout.addWidget(self.events_table, 1)
        self.events.upsert(ctx.engine.journal.load_risk_events(event_cap))
        ctx.bridge.risk_events.connect(self.on_risk_events)
        ctx.bridge.refreshed.connect(self.refresh)
        self._ticks = 0
        self.refresh(force=True)

    def on_risk_events(self, events: list[RiskEvent]) -> None:
        self.events.upsert(events)

    def refresh(self, force: bool = False) -> None:
        self._ticks += 1
        if not force and self._ticks % 5:
            return
        broker = self.broker.currentText()
        engine = self.ctx.engine
        if not broker or not engine.ledger.has_account(broker):
            return
        monitor = self.ctx.monitor
        account = engine.ledger.account(broker)
        equity = float(account.equity)
        if monitor is not None:
            lim = monitor.limits
            status = monitor.status(broker)
            daily, dd, var = status.daily_return_pct, status.drawdown_pct, status.var_pct
            self.gauges["daily_loss"].show(max(-daily, 0) / lim.daily_max_loss_pct,
                                           f"{daily:+.2f}% / -{lim.daily_max_loss_pct:g}%")
            self.gauges["daily_target"].show(max(daily, 0) / lim.target_daily_return_pct,
                                             f"{daily:+.2f}% / {lim.target_daily_return_pct:g}%")
            self.gauges["drawdown"].show(dd / lim.max_drawdown_pct,
                                         f"{dd:.2f}% / {lim.max_drawdown_pct:g}%")
            self.gauges["var"].show(var / lim.var_limit_pct, f"{var:.2f}% / {lim.var_limit_pct:g}%")
        gross = sum(abs(float(p.market_value)) for p in engine.ledger.positions(broker))
        cap = engine.risk.limits.max_gross_exposure_pct
        gross_pct = gross / equity * 100 if equity > 0 else 0.0
        self.gauges["exposure"].show(gross_pct / cap, f"{gross_pct:.1f}% / {cap:g}%")
        reason = engine.entries_blocked_reason(broker)
        self.blocked.setText(f"New entries stopped: {reason}" if reason else "")
