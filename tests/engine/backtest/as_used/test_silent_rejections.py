"""Orders the paper venue rejects are in the run's report; sized entries pay their fee."""

from __future__ import annotations

from engine.backtest.runner import BacktestConfig, run_backtest
from engine.data import sample
from engine.models import OrderStatus


def test_venue_rejections_are_counted_or_warned_about():
    """sma_cross sized on all the equity on AAPL daily from 2010: an entry sized on the
    close can need more cash at a higher next open, and the venue rejects it. That is
    counted and warned about (only risk-check rejections used to be)."""
    aapl = sample.load_daily("AAPL").loc["2010-01-01":]
    result = run_backtest(BacktestConfig("sma_cross", ("AAPL",), timeframe="1d"), aapl)
    rejected = [o for o in result.orders if o.status is OrderStatus.REJECTED]
    assert rejected  # precondition: the venue did reject
    reported = sum(result.rejections.values()) + sum(
        "reject" in w for w in result.warnings)
    assert reported >= len(rejected), (result.rejections, result.warnings,
                                       [o.reason for o in rejected])


def test_default_sma_cross_sizing_does_not_get_entries_rejected_on_krx():
    """sma_cross defaults on bundled 005930 1m, 2013-01-02..08: sizing leaves room for the
    commission (7 entries were refused for it)."""
    krx = sample.synthetic_krx("005930", start="2013-01-02", end="2013-01-08")
    result = run_backtest(BacktestConfig("sma_cross", ("005930",), timeframe="1m"), krx)
    assert result.rejections == {}, result.rejections
