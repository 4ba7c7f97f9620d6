"""The terminal's backtest dock: ``BacktestPanel(ctx, parent=None, chart=None)``.

The panel lives in the ``widgets.backtest`` package (settings form, worker
thread, results, optimisation and walk-forward, heatmap); this module is its
public name.
"""

from widgets.backtest.panel import BacktestPanel, RunOutcome

__all__ = ["BacktestPanel", "RunOutcome"]
