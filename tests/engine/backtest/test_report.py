"""The trades CSV and the self-contained HTML report of a real backtest."""

from __future__ import annotations

import re
from decimal import Decimal

import numpy as np
import pandas as pd
import pytest

from engine.backtest.report import (
    histogram_svg,
    html_report,
    thin_curve,
    write_html_report,
    write_trades_csv,
)
from engine.backtest.runner import BacktestConfig, run_backtest
from engine.data.sample import load_daily
from engine.errors import UserError


@pytest.fixture(scope="module")
def result():
    frame = load_daily("AAPL").loc["2010-01-01":"2012-12-31"]
    return run_backtest(BacktestConfig("sma_cross", ("AAPL",), {"fast": 5, "slow": 20},
                                       timeframe="1d"), frame)


def test_html_is_self_contained_with_svg_plots_and_metrics(result, tmp_path):
    page = html_report(result, origin="bundled sample")
    path = write_html_report(tmp_path / "report.html", page)
    text = path.read_text(encoding="utf-8")
    assert text.startswith("<!DOCTYPE html>")
    assert text.count("<svg") == 3 and text.count("</svg>") == 3
    assert 'aria-label="Equity"' in text and 'aria-label="Drawdown"' in text
    assert f"Net PnL per trade ({len(result.trades)} trades)" in text
    # Nothing loaded from elsewhere: no scripts, no external references.
    assert "<script" not in text and not re.search(r'(src|href)="(http|//)', text)
    m = result.metrics
    assert f"{m.sharpe:.3f}" in text and f"{m.total_return_pct:,.2f}%" in text
    assert f"{m.max_drawdown_pct:,.2f}%" in text and "Sharpe ratio" in text
    assert "fast" in text and "bundled sample" in text
    # One histogram bar per bin, and their counts add up to the trades.
    counts = [int(c) for c in re.findall(r"<title>[^<]*: (\d+)</title></rect>", text)]
    assert sum(counts) == len(result.trades)


def test_trades_csv_keeps_exact_decimals(result, tmp_path):
    path = tmp_path / "trades.csv"
    assert write_trades_csv(path, result.trades) == len(result.trades) > 0
    back = pd.read_csv(path, dtype=str)
    assert list(back.columns[:3]) == ["symbol", "direction", "quantity"]
    first = result.trades[0]
    assert Decimal(back.loc[0, "net_pnl"]) == first.net_pnl
    assert Decimal(back.loc[0, "entry_price"]) == first.entry_price
    assert pd.Timestamp(back.loc[0, "exit_time"]).value == first.exit_ns
    total = sum(Decimal(v) for v in back["net_pnl"])
    assert total == sum(t.net_pnl for t in result.trades)


def test_writing_into_a_missing_folder_is_a_user_error(result, tmp_path):
    with pytest.raises(UserError, match="does not exist"):
        write_trades_csv(tmp_path / "nope" / "t.csv", result.trades)


def test_thinning_keeps_ends_peaks_and_troughs():
    rng = np.random.default_rng(3)
    s = pd.Series(np.cumsum(rng.standard_normal(50_000)),
                  index=pd.date_range("2020", periods=50_000, freq="1min", tz="UTC"))
    thin = thin_curve(s, 1_000)
    assert len(thin) <= 1_002
    assert thin.index[0] == s.index[0] and thin.index[-1] == s.index[-1]
    assert thin.max() == s.max() and thin.min() == s.min()
    assert thin.index.is_monotonic_increasing


def test_histogram_puts_zero_on_a_bin_edge():
    svg = histogram_svg([-3.0, -1.0, -0.5, 0.5, 2.0, 4.0], title="pnl")
    bins = re.findall(r'fill="(#[0-9a-f]+)"><title>(-?[\d.,]+) \.\. (-?[\d.,]+)', svg)
    for color, lo, hi in bins:
        lo_f, hi_f = float(lo.replace(",", "")), float(hi.replace(",", ""))
        assert lo_f >= 0 or hi_f <= 0  # no bin straddles zero
        assert color == ("#2ca02c" if lo_f >= 0 else "#d62728")
    assert "no closed trades" in histogram_svg([], title="pnl")
