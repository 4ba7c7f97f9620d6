"""The backtest tab: Run/Cancel, then metrics, equity/drawdown, PnL histogram and trades."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QSplitter, QVBoxLayout, QWidget

from engine.backtest.runner import BacktestResult
from widgets.backtest.controls import RunBar
from widgets.backtest.plots import EquityPlots, PnlHistogram
from widgets.backtest.tables import MetricsTable, TradesTable


class BacktestTab(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.run_bar = RunBar("Run backtest")
        self.metrics = MetricsTable()
        self.plots = EquityPlots()
        self.histogram = PnlHistogram()
        self.trades = TradesTable()
        charts = QSplitter(Qt.Orientation.Horizontal)
        charts.addWidget(self.metrics)
        charts.addWidget(self.plots)
        charts.addWidget(self.histogram)
        charts.setStretchFactor(0, 0)
        charts.setStretchFactor(1, 3)
        charts.setStretchFactor(2, 2)
        charts.setSizes([330, 620, 380])
        body = QSplitter(Qt.Orientation.Vertical)
        body.addWidget(charts)
        body.addWidget(self.trades)
        body.setStretchFactor(0, 3)
        body.setStretchFactor(1, 2)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.addWidget(self.run_bar)
        layout.addWidget(body, 1)

    def show_result(self, result: BacktestResult) -> None:
        extra = {"Run time s": round(result.elapsed_s, 3),
                 "Bars per second": round(result.bars_per_second),
                 "Orders": len(result.orders), "Fills": len(result.fills),
                 "Rejected orders": sum(result.rejections.values())
                 + sum(result.venue_rejections.values()),
                 "Warnings": len(result.warnings)}
        self.metrics.show_metrics(result.metrics.as_dict(), extra)
        self.plots.show_curves(result.equity, result.drawdown)
        self.histogram.show_trades(result.trades)
        self.trades.show_trades(result.trades)

    def clear(self) -> None:
        self.metrics.records.replace_all([])
        self.plots.clear_curves()
        self.histogram.show_trades([])
        self.trades.records.replace_all([])
