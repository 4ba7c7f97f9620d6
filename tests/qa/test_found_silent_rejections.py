"""Orders the paper venue rejects vanish from the run's report."""

from __future__ import annotations

from engine.backtest.runner import BacktestConfig, run_backtest
from engine.data import sample
from engine.models import OrderStatus


def test_venue_rejections_are_counted_or_warned_about():
    """sma_cross (default size: max_position_pct = 100% of equity in a backtest) on AAPL
    2010-2013: an entry sized on the signal bar's close needs more cash at the next open
    and the paper venue rejects it ("insufficient cash"). The order is REJECTED in
    result.orders, but result.rejections is {} and result.warnings is [] (only risk-check
    rejections are counted), so the CLI/GUI show nothing: a trade silently missing."""
    aapl = sample.load_daily("AAPL").loc["2010-01-01":]
    result = run_backtest(BacktestConfig("sma_cross", ("AAPL",), timeframe="1d"), aapl)
    rejected = [o for o in result.orders if o.status is OrderStatus.REJECTED]
    assert rejected  # precondition: the venue did reject
    reported = sum(result.rejections.values()) + sum(
        "reject" in w for w in result.warnings)
    assert reported >= len(rejected), (result.rejections, result.warnings,
                                       [o.reason for o in rejected])


def test_default_sma_cross_sizing_does_not_get_entries_rejected_on_krx():
    """sma_cross defaults on bundled 005930 1m, 2013-01-02..08: 7 of its entries are
    rejected (insufficient_cash): size_by_fraction sizes 100% of equity at the close,
    ignoring KRX fees/tax and the move to the next open. The default strategy should
    be able to place its own entries."""
    krx = sample.synthetic_krx("005930", start="2013-01-02", end="2013-01-08")
    result = run_backtest(BacktestConfig("sma_cross", ("005930",), timeframe="1m"), krx)
    assert result.rejections == {}, result.rejections
