"""hybrid's flatten-before-the-close rule assumes one-minute bars."""

from __future__ import annotations

import pandas as pd
import pytest

from engine.backtest.data_source import resolve_data
from engine.backtest.runner import BacktestConfig, run_backtest


@pytest.mark.parametrize("timeframe", ["5m", "15m"])
def test_hybrid_is_flat_overnight_on_intraday_bars(tmp_path, timeframe):
    """flatten_minutes=5 (default) closes the position before the session ends on 1m bars,
    but on 5m/15m bars trades are held overnight and exit at the next day's open (10 of
    27 trades on 5m, 2013-01). _session_rules uses bar_end = bar.ts_ns + 60 s whatever
    the timeframe, so the last bar before the close never triggers the flatten."""
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
