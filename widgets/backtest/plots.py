"""Result plots: equity over drawdown on a shared time axis, and the trade PnL histogram."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import pyqtgraph as pg
from PySide6.QtWidgets import QWidget

from engine.backtest.trades import RoundTrip
from widgets.theme import colours


def _seconds(index: pd.DatetimeIndex) -> np.ndarray:
    return index.as_unit("ns").asi8 / 1e9


class EquityPlots(pg.GraphicsLayoutWidget):
    """Equity (top) and drawdown in percent (bottom), x-linked, UTC dates on the axis."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        c = colours()
        self.setBackground(c.background)
        self.equity_plot = self.addPlot(row=0, col=0,
                                        axisItems={"bottom": pg.DateAxisItem(utcOffset=0)})
        self.drawdown_plot = self.addPlot(row=1, col=0,
                                          axisItems={"bottom": pg.DateAxisItem(utcOffset=0)})
        self.ci.layout.setRowStretchFactor(0, 3)
        self.ci.layout.setRowStretchFactor(1, 1)
        self.drawdown_plot.setXLink(self.equity_plot)
        self.equity_plot.getAxis("bottom").setStyle(showValues=False)
        self.equity_plot.setLabel("left", "Equity")
        self.drawdown_plot.setLabel("left", "DD %")
        for plot in (self.equity_plot, self.drawdown_plot):
            plot.showGrid(x=True, y=True, alpha=0.2)
            plot.setMenuEnabled(False)
            plot.hideButtons()
        self.equity_curve = self._curve(self.equity_plot, pg.mkPen(c.accent, width=1.5))
        self.drawdown_curve = self._curve(self.drawdown_plot, pg.mkPen(c.down, width=1))
        self.drawdown_curve.setFillLevel(0.0)
        self.drawdown_curve.setBrush(pg.mkBrush(pg.mkColor(c.down).darker(150)))

    @staticmethod
    def _curve(plot: pg.PlotItem, pen: object) -> pg.PlotDataItem:
        curve = pg.PlotDataItem(pen=pen)
        plot.addItem(curve)
        # A million-bar run: draw what is in view, peak-downsampled.
        curve.setClipToView(True)
        curve.setDownsampling(auto=True, method="peak")
        return curve

    def show_curves(self, equity: pd.Series, drawdown: pd.Series) -> None:
        if equity.empty:
            self.clear_curves()
            return
        self.equity_curve.setData(_seconds(equity.index), equity.to_numpy(float))
        self.drawdown_curve.setData(_seconds(drawdown.index), drawdown.to_numpy(float))
        self.equity_plot.enableAutoRange()
        self.drawdown_plot.enableAutoRange()

    def clear_curves(self) -> None:
        self.equity_curve.setData([], [])
        self.drawdown_curve.setData([], [])


def pnl_bins(pnl: np.ndarray) -> np.ndarray:
    """Bin edges for the histogram: about sqrt(n) bins (5..60), zero on an edge when the
    trades both win and lose, so no bar mixes winners and losers."""
    n = len(pnl)
    count = int(min(60, max(5, round(np.sqrt(n)))))
    lo, hi = float(pnl.min()), float(pnl.max())
    if lo == hi:
        return np.array([lo - 0.5, hi + 0.5])
    width = (hi - lo) / count
    if lo < 0 < hi:
        left = np.arange(0.0, lo - width, -width)[::-1]
        right = np.arange(width, hi + width, width)
        return np.concatenate([left, right])
    return np.linspace(lo, hi, count + 1)


class PnlHistogram(pg.PlotWidget):
    """How many round trips ended with each net PnL: losers red, winners green."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setBackground(colours().background)
        self.setTitle("Trade PnL distribution")
        self.setLabel("bottom", "Net PnL")
        self.setLabel("left", "Trades")
        self.setMenuEnabled(False)
        self.hideButtons()
        self.showGrid(y=True, alpha=0.2)
        self.counts = np.zeros(0, dtype=int)
        self.edges = np.zeros(0)
        self._bars: list[pg.BarGraphItem] = []

    def show_trades(self, trades: Sequence[RoundTrip]) -> None:
        for item in self._bars:
            self.removeItem(item)
        self._bars = []
        pnl = np.array([float(t.net_pnl) for t in trades], dtype=float)
        if not len(pnl):
            self.counts, self.edges = np.zeros(0, dtype=int), np.zeros(0)
            return
        self.counts, self.edges = np.histogram(pnl, bins=pnl_bins(pnl))
        centres = (self.edges[:-1] + self.edges[1:]) / 2
        width = float(np.diff(self.edges).min()) * 0.9
        c = colours()
        for mask, colour in ((centres < 0, c.down), (centres >= 0, c.up)):
            if mask.any():
                bar = pg.BarGraphItem(x=centres[mask], height=self.counts[mask], width=width,
                                      brush=colour, pen=pg.mkPen(colour))
                self.addItem(bar)
                self._bars.append(bar)
        self.enableAutoRange()
