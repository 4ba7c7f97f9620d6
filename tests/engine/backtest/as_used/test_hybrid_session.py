"""hybrid's flatten before the close, on bars longer than a minute."""

from __future__ import annotations

import pandas as pd
import pytest

from engine.backtest.data_source import resolve_data
from engine.backtest.runner import BacktestConfig, run_backtest


@pytest.mark.parametrize("timeframe", ["5m", "15m"])
def test_hybrid_is_flat_overnight_on_intraday_bars(tmp_path, timeframe):
    """No trade is held overnight on 5m/15m bars (the rule measured bars as one minute, so
    10 of 27 trades on 5m bars exited at the next day's open)."""
    data = resolve_data("AAPL", start="2013-01-02", end="2013-01-31", timeframe=timeframe,
                        db=str(tmp_path / "none.sqlite3"))
    result = run_backtest(BacktestConfig("hybrid", ("AAPL",), {"buy_threshold": 1.0},
                                         timeframe=timeframe), data.frame)
    assert result.trades  # precondition

    def day(ns: int) -> object:
        return pd.Timestamp(ns, unit="ns", tz="UTC").tz_convert("America/New_York").date()

    overnight = [(pd.Timestamp(t.entry_ns, tz="UTC"), pd.Timestamp(t.exit_ns, tz="UTC"))
                 for t in result.trades if day(t.entry_ns) != day(t.exit_ns)]
    assert not overnight, overnight[:3]
