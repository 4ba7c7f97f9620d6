"""A search's windows over several symbols: every bar in exactly one window, and each
window warms up only on what came before it."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.backtest.data_source import HISTORY_BARS
from engine.backtest.payload import Payload
from engine.backtest.runner import BacktestConfig

T0 = pd.Timestamp("2024-01-01", tz="UTC")


def frame(minutes: list[int]) -> pd.DataFrame:
    idx = pd.DatetimeIndex([T0 + pd.Timedelta(minutes=m) for m in sorted(set(minutes))],
                           name="time")
    px = np.arange(len(idx), dtype=float) + 100
    return pd.DataFrame({"open": px, "high": px, "low": px, "close": px, "volume": 1.0},
                        index=idx)


grids = st.lists(st.integers(0, 400), min_size=1, max_size=120)


@settings(max_examples=60, deadline=None)
@given(a=grids, b=grids, cuts=st.lists(st.integers(0, 300), max_size=6),
       history=st.integers(0, 3))
def test_windows_partition_every_symbols_bars_and_warm_up_on_the_past(a, b, cuts, history):
    frames = {"A": frame(a), "B": frame(b)}
    old = {"A": frame([-5, -3, -1][:history]).iloc[:history]} if history else {}
    payload = Payload(BacktestConfig("sma_cross", ("A", "B")), frames, history=old)
    n = len(payload.times)
    assert payload.times.is_monotonic_increasing and payload.times.is_unique
    assert n == len(frames["A"].index.union(frames["B"].index))
    bounds = sorted({0, n, *(c for c in cuts if c < n)})
    for symbol, whole in frames.items():
        pieces = [payload.window(lo, hi)[symbol] for lo, hi in itertools.pairwise(bounds)]
        pd.testing.assert_frame_equal(pd.concat(pieces), whole)  # each bar once, in order
    for lo in bounds[:-1]:
        start = payload.times[lo]
        warm = payload.before(lo) or {}
        for symbol, whole in frames.items():
            expected = pd.concat([old.get(symbol), whole[whole.index < start]]).tail(HISTORY_BARS)
            if expected.empty:
                assert symbol not in warm
            else:
                pd.testing.assert_frame_equal(warm[symbol], expected)
                assert warm[symbol].index[-1] < start


def test_one_symbol_counts_its_own_bars():
    bars = frame(list(range(0, 100, 2)))
    payload = Payload(BacktestConfig("sma_cross", ("A",)), {"A": bars})
    pd.testing.assert_frame_equal(payload.window(10, 20)["A"], bars.iloc[10:20])
    pd.testing.assert_frame_equal(payload.before(10)["A"], bars.iloc[:10])
    assert payload.before(0) is None
    assert payload.window(60)["A"].empty  # past the end: nothing, not the last bar
