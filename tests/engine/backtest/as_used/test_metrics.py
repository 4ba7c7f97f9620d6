"""Backtest metrics count the first day's return."""

from __future__ import annotations

import math

import pandas as pd

from engine.backtest.data_source import resolve_data
from engine.backtest.metrics import compute_metrics
from engine.backtest.runner import BacktestConfig, run_backtest


def test_sharpe_counts_the_first_days_return():
    """Equity 100 -> 90 on day 1, then +1 a day: total -8%, so Sharpe is negative (day 1's
    move from the initial equity used to be no return at all)."""
    idx = pd.to_datetime(["2013-01-02 14:31", "2013-01-02 21:00", "2013-01-03 21:00",
                          "2013-01-04 21:00"], utc=True)
    equity = pd.Series([100.0, 90.0, 91.0, 92.0], index=idx)
    m = compute_metrics(equity, [])
    assert m.total_return_pct < 0
    assert m.sharpe < 0, m.sharpe


def test_losing_intraday_backtest_does_not_report_a_positive_sharpe(tmp_path):
    """The same through a real run: trend_following on bundled AAPL 1m, 2013-01-02..08,
    loses 0.016%, its worst day the first (it reported Sharpe +3.16)."""
    data = resolve_data("AAPL", start="2013-01-02", end="2013-01-08", timeframe="1m",
                        db=str(tmp_path / "none.sqlite3"))
    result = run_backtest(BacktestConfig("trend_following", ("AAPL",), timeframe="1m"),
                          data.frame)
    daily = result.equity.groupby(result.equity.index.normalize()).last()
    first_day = daily.iloc[0] / result.metrics.initial_equity - 1
    assert first_day < 0  # the precondition of this reproduction
    assert result.metrics.total_return_pct < 0
    assert result.metrics.sharpe < 0, result.metrics.sharpe


def test_a_flat_curve_loses_nothing_rather_than_minus_nothing():
    """A walk-forward window spent in cash printed "-0.00%" as its drawdown and VaR."""
    idx = pd.date_range("2024-01-01 21:00", periods=5, freq="D", tz="UTC")
    m = compute_metrics(pd.Series(1e6, index=idx), [])
    for value in (m.max_drawdown_pct, m.var_95_pct, m.es_95_pct):
        assert value == 0.0 and math.copysign(1.0, value) == 1.0
        assert f"{value:.2f}" == "0.00"
