"""Walk-forward: windows by bars and by calendar, no look-ahead, a stitched out-of-sample curve."""

from __future__ import annotations

import math
import threading

import numpy as np
import pandas as pd
import pytest

from engine.backtest.data_source import DataSet
from engine.backtest.payload import make_payload, run_window
from engine.backtest.run_data import RunData
from engine.backtest.runner import BacktestCancelled, BacktestConfig
from engine.backtest.walkforward import make_windows, walk_forward
from engine.errors import UserError

SYMBOL = "BTC/USDT"
CONFIG = BacktestConfig("sma_cross", (SYMBOL,), timeframe="1d", commission=0.0)
SPACE = {"fast": "3,5,8", "slow": "10,20,30"}


def random_walk(n=300, seed=11, start="2021-01-01"):
    rng = np.random.default_rng(seed)
    close = 100 * np.exp(np.cumsum(rng.normal(0.0005, 0.02, n)))
    open_ = np.r_[100.0, close[:-1]]
    index = pd.date_range(start, periods=n, freq="1D", tz="UTC", name="time")
    return pd.DataFrame({"open": open_, "high": np.maximum(open_, close) * 1.005,
                         "low": np.minimum(open_, close) * 0.995, "close": close,
                         "volume": 1_000.0}, index=index)


def run(frame, **kwargs):
    kwargs.setdefault("train", 100)
    kwargs.setdefault("test", 50)
    return walk_forward("sma_cross", frame, SPACE, "total_return_pct", config=CONFIG,
                        workers=1, **kwargs)


def test_windows_by_bar_count_rolling_and_anchored():
    times = pd.date_range("2024-01-01", periods=320, freq="1D", tz="UTC")
    rolling = [(w.train_lo, w.train_hi, w.test_lo, w.test_hi)
               for w in make_windows(times, 100, 50)]
    assert rolling == [(0, 100, 100, 150), (50, 150, 150, 200), (100, 200, 200, 250),
                       (150, 250, 250, 300), (200, 300, 300, 320)]
    anchored = make_windows(times, "100", "50", anchored=True)
    assert [w.train_lo for w in anchored] == [0] * 5
    assert [w.train_hi for w in anchored] == [100, 150, 200, 250, 300]


def test_windows_by_calendar_period():
    times = pd.date_range("2020-01-01", "2020-12-31", freq="1D", tz="UTC")
    windows = make_windows(times, "3M", "1M")
    starts = [times[w.test_lo].strftime("%m-%d") for w in windows]
    assert starts == ["04-01", "05-01", "06-01", "07-01", "08-01", "09-01", "10-01", "11-01",
                      "12-01"]
    first = windows[0]
    assert times[first.train_lo] == times[0] and first.train_hi == first.test_lo
    assert times[first.test_hi - 1].strftime("%m-%d") == "04-30"
    assert times[windows[-1].test_hi - 1].strftime("%m-%d") == "12-31"
    assert times[windows[3].train_lo].strftime("%m-%d") == "04-01"  # rolling: 3 months back


@pytest.mark.parametrize("train, test, words", [
    (100, "1M", "both be bar counts or both be periods"),
    ("6Q", "1M", "unit D, W, M or Y"),
    (0, 10, "at least 1 bar"),
    (1000, 50, "too few"),
])
def test_window_mistakes_are_user_errors(train, test, words):
    times = pd.date_range("2024-01-01", periods=300, freq="1D", tz="UTC")
    with pytest.raises(UserError, match=words):
        make_windows(times, train, test)


def test_each_window_is_chosen_on_its_train_bars_only():
    frame = random_walk()
    base = run(frame)
    assert len(base.windows) == 4
    for w in base.windows:
        # The search saw exactly the train bars: every trial ran on train_hi - train_lo bars.
        assert set(w.search.trials["bars"]) == {w.window.train_hi - w.window.train_lo}
        assert w.window.train_hi <= w.window.test_lo

    for k in (1, 2):
        cut = base.windows[k].window.test_lo
        other = frame.copy()
        # From window k's first test bar on, a different market entirely.
        other.iloc[cut:] = random_walk(len(frame), seed=99).iloc[cut:].to_numpy()
        changed = run(other)
        for j in range(k + 1):
            before, after = base.windows[j], changed.windows[j]
            assert before.params == after.params
            pd.testing.assert_frame_equal(before.search.trials, after.search.trials)
        assert changed.windows[k].test.metrics != base.windows[k].test.metrics


def test_the_out_of_sample_curve_is_the_test_runs_one_after_another():
    result = run(random_walk(), anchored=True)
    tests = [w.test for w in result.windows]
    assert len(result.equity) == sum(len(t.equity) for t in tests)
    assert result.equity.index.is_monotonic_increasing and result.equity.index.is_unique
    assert result.equity.iloc[0] == CONFIG.cash
    for prev, nxt in zip(tests, tests[1:], strict=False):
        assert nxt.metrics.initial_equity == prev.metrics.final_equity  # cash carried over
    growth = math.prod(1 + t.metrics.total_return_pct / 100 for t in tests)
    assert result.metrics.total_return_pct == pytest.approx((growth - 1) * 100, rel=1e-9)
    assert result.metrics.trades == sum(t.metrics.trades for t in tests) == len(result.trades)
    table = result.table()
    assert list(table.index) == [0, 1, 2, 3]
    assert {"fast", "slow", "train_total_return_pct", "test_total_return_pct"} <= set(table)
    assert (table["fast"] < table["slow"]).all()
    assert table["test_start"].iloc[1] > table["test_end"].iloc[0]


def test_progress_counts_every_trial_and_test_run_and_cancel_keeps_finished_windows():
    calls = []
    stop = threading.Event()

    def progress(done, total, best):
        calls.append((done, total))
        if done >= 10:  # 9 trials + the test run of the first window
            stop.set()

    result = run(random_walk(), progress=progress, cancel=stop)
    assert result.cancelled and len(result.windows) == 1
    assert calls[-1] == (10, 4 * 10)
    assert len(result.equity) == 50



def test_one_process_pool_serves_every_window_with_the_same_choices():
    frame = random_walk()
    inline = run(frame)
    pooled = walk_forward("sma_cross", frame, SPACE, "total_return_pct", config=CONFIG,
                          train=100, test=50, workers=2)
    assert {w.search.backend for w in pooled.windows} == {"2 processes"}
    assert [w.params for w in pooled.windows] == [w.params for w in inline.windows]
    pd.testing.assert_series_equal(pooled.equity, inline.equity)


def test_cancelled_before_the_first_window_finishes_raises():
    with pytest.raises(BacktestCancelled, match="before the first window"):
        run(random_walk(), cancel=lambda: True)


def test_a_basket_member_listed_later_sits_out_the_windows_before_it():
    """Two symbols, the second trading only from bar 150: the early windows trade the
    first alone (they used to fail: "no bars for ETH/USDT"), later ones trade both."""
    early = random_walk(300, seed=11)
    late = random_walk(300, seed=12).iloc[150:]
    data = RunData.of([DataSet(SYMBOL, "1d", early, "test"),
                       DataSet("ETH/USDT", "1d", late, "test")])
    result = walk_forward("sma_cross", data, SPACE, "total_return_pct",
                          config=BacktestConfig("sma_cross", data.symbols, timeframe="1d",
                                                commission=0.0, params={}),
                          fixed={"size": 1}, train=100, test=50, workers=1)
    assert [w.note for w in result.windows] == [""] * 4
    traded = [{t.symbol for t in w.test.trades} for w in result.windows]
    assert traded[0] == {SYMBOL}  # bars 100-149: ETH has none yet
    assert traded[-1] == {SYMBOL, "ETH/USDT"}
    # A strategy that needs every leg at once says which one a window lacks.
    carry = RunData.of([DataSet("BTC/USDT:USDT", "1d", early, "test"),
                        DataSet("BTC/USDT", "1d", late, "test")])
    payload = make_payload("funding_arbitrage", carry, None)
    with pytest.raises(UserError, match=r"no bars of BTC/USDT in 2021-01-01 00:00:00\+00:00 "):
        run_window(payload, {}, 0, 100)
    assert run_window(payload, {}, 150, 200).bars == 100  # both legs: 50 bars each
