"""Warm-up bars: the strategy's indicators are ready on the run's first bar, no orders."""

from __future__ import annotations

import numpy as np
import pandas as pd

from engine.backtest.runner import BacktestConfig, run_backtest

SYMBOL = "BTC/USDT"


def prices() -> pd.DataFrame:
    """Falls for 40 bars, then rises: SMA(3) crosses above SMA(10) at bar 42."""
    close = np.r_[np.linspace(200.0, 100.0, 40), np.linspace(101.0, 160.0, 30)]
    index = pd.date_range("2024-01-01", periods=len(close), freq="1D", tz="UTC", name="time")
    return pd.DataFrame({"open": close, "high": close, "low": close, "close": close,
                         "volume": 1.0}, index=index)


def run(data: pd.DataFrame, warmup: pd.DataFrame | None):
    config = BacktestConfig("sma_cross", (SYMBOL,), {"fast": 3, "slow": 10, "size": 1},
                            timeframe="1d", cash=10_000)
    return run_backtest(config, data, warmup=warmup)


def test_warmed_up_indicators_trade_the_first_cross_of_the_window():
    frame = prices()
    test = frame.iloc[38:]  # the cross is 4 bars into this window
    cold, warm = run(test, None), run(test, frame.iloc[:38])
    full = run(frame, None)
    # Cold, SMA(10) needs 10 bars of the window: the cross is missed, nothing trades.
    assert cold.fills == []
    # Warmed on the 38 bars before, the window trades the cross exactly as the
    # uninterrupted run does: same bar, same price.
    [entry] = warm.fills
    assert [(f.ts_ns, f.price, f.side) for f in full.fills] == [
        (entry.ts_ns, entry.price, entry.side)]
    assert entry.ts_ns >= test.index[0].value


def test_warm_up_bars_never_trade_and_later_bars_are_ignored():
    frame = prices()
    test = frame.iloc[:45]
    # Warm-up bars at or after the run's start are not "before" it: ignored.
    result = run(test, frame.iloc[40:])
    assert [f.ts_ns for f in result.fills] == [f.ts_ns for f in run(test, None).fills]
    # Warm-up bars that cross never produce an order of their own.
    result = run(frame.iloc[60:], frame.iloc[:60])
    assert all(f.ts_ns >= frame.index[60].value for f in result.fills)
    assert not result.orders
