"""Round trips and metrics on hand-computed cases."""

from __future__ import annotations

from decimal import Decimal

import numpy as np
import pandas as pd
import pytest

from engine.backtest.metrics import compute_metrics, drawdown_curve
from engine.backtest.trades import round_trips
from engine.models import Fill, Side

D = Decimal


def f(n, side, qty, px, fee="0", sym="A"):
    return Fill(f"f{n}", f"o{n}", "b", sym, side, D(qty), D(px), n, commission=D(fee))


def test_fifo_round_trips_with_partial_exits_flips_and_fees():
    fills = [
        f(1, Side.BUY, 10, 100, fee="1.0"),
        f(2, Side.BUY, 10, 110, fee="1.0"),
        f(3, Side.SELL, 15, 120, fee="1.5"),   # closes lot 1 (10) and 5 of lot 2
        f(4, Side.SELL, 10, 100, fee="1.0"),   # closes 5 of lot 2, opens a 5 short
        f(5, Side.BUY, 5, 90, fee="0.5"),      # covers the short
    ]
    trips = round_trips(fills)
    assert [(t.direction, t.quantity, t.entry_price, t.exit_price) for t in trips] == [
        (1, 10, 100, 120), (1, 5, 110, 120), (1, 5, 110, 100), (-1, 5, 100, 90)]
    assert [t.gross_pnl for t in trips] == [200, 50, -50, 50]
    # Fees: 0.1/unit on entries, 0.1/unit on every exit fill here.
    assert [t.fees for t in trips] == [D("2.0"), D("1.0"), D("1.0"), D("1.0")]
    assert sum(t.fees for t in trips) == sum(x.fee for x in fills)
    assert trips[3].return_pct == pytest.approx(10.0)


def test_metrics_on_a_known_curve():
    idx = pd.date_range("2024-01-01", periods=6, freq="D", tz="UTC")
    equity = pd.Series([100.0, 110.0, 99.0, 104.5, 121.0, 121.0], index=idx)
    trips = round_trips([f(1, Side.BUY, 1, 100), f(2, Side.SELL, 1, 110),
                         f(3, Side.BUY, 1, 100), f(4, Side.SELL, 1, 95)])
    m = compute_metrics(equity, trips, exposure=np.array([0, 1, 1, 0, 1, 0]),
                        traded_notional=405.0, periods_per_year=252)
    assert m.total_return_pct == pytest.approx(21.0)
    assert m.max_drawdown_pct == pytest.approx(10.0)  # 110 -> 99
    assert m.max_dd_duration == str(pd.Timedelta(days=3))  # day 1 peak, back above on day 4
    # Day 1 counts too, from the initial equity (here its own close: a 0% day).
    daily = pd.concat([equity.iloc[:1], equity]).pct_change().dropna()
    assert m.sharpe == pytest.approx(daily.mean() / daily.std() * np.sqrt(252))
    assert m.trades == 2 and m.win_rate_pct == 50.0
    assert m.profit_factor == pytest.approx(2.0) and m.expectancy == pytest.approx(2.5)
    assert m.exposure_pct == pytest.approx(50.0)
    assert m.turnover == pytest.approx(405.0 / equity.mean())
    assert drawdown_curve(equity).min() == pytest.approx(-10.0)
    assert m.annual_return_pct == pytest.approx((1.21 ** (365.25 / 5) - 1) * 100)
    assert m.calmar == pytest.approx(m.annual_return_pct / 10.0)


def test_a_run_shorter_than_a_day_has_no_annual_return():
    # +50% in two hours compounds past a float's range: no overflow, no absurd figure.
    idx = pd.date_range("2024-01-01 09:00", periods=121, freq="min", tz="UTC")
    equity = pd.Series(np.linspace(100.0, 150.0, 121), index=idx)
    m = compute_metrics(equity, [])
    assert m.total_return_pct == pytest.approx(50.0)
    assert np.isnan(m.annual_return_pct) and np.isnan(m.calmar)
    # Two days at +50%: a huge but finite CAGR, computed rather than raised.
    idx = pd.date_range("2024-01-01", periods=3, freq="D", tz="UTC")
    m = compute_metrics(pd.Series([100.0, 120.0, 150.0], index=idx), [])
    assert m.annual_return_pct == pytest.approx((1.5 ** (365.25 / 2) - 1) * 100, rel=1e-9)


def test_metrics_refuse_an_empty_run():
    with pytest.raises(ValueError, match="no bars"):
        compute_metrics(pd.Series(dtype=float), [])
