"""Backtest date bounds: naive times are UTC, aware ones are taken as given."""

from __future__ import annotations

import numpy as np
import pandas as pd

from engine.backtest.runner import BacktestConfig, _frames


def test_start_and_end_accept_naive_and_zone_aware_times():
    idx = pd.date_range("2024-01-02 00:00", periods=10, freq="1h", tz="UTC")
    df = pd.DataFrame({"close": np.arange(10.0)}, index=idx)
    for start, end in (("2024-01-02 03:00", "2024-01-02 05:00"),
                       (pd.Timestamp("2024-01-02 12:00", tz="Asia/Seoul"),
                        pd.Timestamp("2024-01-02 14:00", tz="Asia/Seoul"))):
        out = _frames(BacktestConfig("sma_cross", ("X",), start=start, end=end), df)["X"]
        assert list(out["close"]) == [3.0, 4.0, 5.0]
