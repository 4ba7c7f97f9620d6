"""The backtest panel and its parts (settings, worker thread, results, search, heatmap)."""

from widgets.backtest.panel import BacktestPanel

__all__ = ["BacktestPanel"]
