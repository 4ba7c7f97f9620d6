"""Parameter search on a crafted case whose best parameters are known, inline and on processes."""

from __future__ import annotations

import threading

import pandas as pd
import pytest

from engine.backtest.optimize import optimize, parse_dimension, parse_space_args
from engine.backtest.runner import BacktestConfig, run_backtest
from engine.errors import UserError
from engine.strategy import ParamError
from engine.strategy.registry import get_strategy
from tests.engine.backtest.crafted import HIGH, LOW, STRATEGY, SYMBOL, v_then_peak

CONFIG = BacktestConfig(STRATEGY, (SYMBOL,), timeframe="1d", commission=0.0)
# Signal a bar early (fills at the next open), half the equity at the signal bar's close.
BEST_RETURN = 0.5 * (140 / 80 - 1) * 80 / 82 * 100


def search(space, metric="total_return_pct", **kwargs):
    kwargs.setdefault("workers", 1)
    return optimize(STRATEGY, v_then_peak(), space, metric, config=CONFIG, **kwargs)


def test_grid_finds_the_known_best_and_skips_what_breaks_a_constraint():
    result = search({"entry": "5:11", "exit": "8,29,31"})
    # entry < exit is declared by the strategy: exit 8 with entry 8..11 never runs.
    assert (result.planned, result.skipped, result.done, result.failed) == (17, 4, 17, 0)
    best = result.best
    assert (best.params["entry"], best.params["exit"]) == (LOW - 1, HIGH - 1)
    assert best.value == pytest.approx(BEST_RETURN, rel=1e-9)
    ranked = result.ranked()
    assert ranked["total_return_pct"].is_monotonic_decreasing
    assert (ranked.iloc[0]["entry"], ranked.iloc[0]["exit"]) == (LOW - 1, HIGH - 1)
    # The row is the run's own metrics: a direct backtest agrees.
    direct = run_backtest(BacktestConfig(STRATEGY, (SYMBOL,), best.params, timeframe="1d",
                                         commission=0.0), v_then_peak())
    assert pd.Series(direct.metrics.as_dict()).equals(pd.Series(best.metrics))  # NaN == NaN
    # Lower is better for drawdown: the ranking turns round.
    by_dd = result.ranked("max_drawdown_pct")
    assert by_dd["max_drawdown_pct"].is_monotonic_increasing


def test_a_combination_the_strategy_refuses_is_an_error_row_not_a_crash():
    result = search({"entry": "8:10", "exit": "29"}, fixed={"forbidden_entry": 9})
    assert result.failed == 1
    row = result.trials.set_index("entry").loc[9]
    assert row["error"] == "ValueError: entry 9 is forbidden" and pd.isna(row["sharpe"])
    assert result.best.params["entry"] != 9


def test_random_search_is_reproducible_with_a_seed():
    space = {"entry": "0:20", "exit": "15:45", "fraction": "0.1:1.0"}
    first = search(space, method="random", n_iter=8, seed=5)
    again = search(space, method="random", n_iter=8, seed=5)
    other = search(space, method="random", n_iter=8, seed=6)
    pd.testing.assert_frame_equal(first.trials, again.trials)
    assert not first.trials[["entry", "exit"]].equals(other.trials[["entry", "exit"]])
    points = first.trials[["entry", "exit", "fraction"]]
    assert len(points) == 8 and not points.duplicated().any()
    assert points["entry"].between(0, 20).all() and points["exit"].between(15, 45).all()
    assert points["fraction"].between(0.1, 1.0).all()
    assert (points["entry"] < points["exit"]).all()  # broken draws are drawn again


def test_random_search_of_a_small_space_takes_each_point_once():
    result = search({"entry": "9,10", "exit": "29,30"}, method="random", n_iter=50, seed=1)
    assert result.planned == 4
    assert set(map(tuple, result.trials[["entry", "exit"]].to_numpy())) == {
        (9, 29), (9, 30), (10, 29), (10, 30)}


def test_progress_reports_every_job_and_the_best_so_far():
    calls = []
    result = search({"entry": "7:10", "exit": "28:30"},
                    progress=lambda done, total, best: calls.append((done, total, best)))
    assert [c[0] for c in calls] == list(range(1, 13)) and {c[1] for c in calls} == {12}
    values = [c[2].value for c in calls]
    assert values == sorted(values)  # the best so far never gets worse
    assert calls[-1][2].params == result.best.params


def test_cancel_between_jobs_keeps_what_finished():
    stop = threading.Event()

    def progress(done, total, best):
        if done == 3:
            stop.set()

    result = search({"entry": "0:9", "exit": "20:29"}, progress=progress, cancel=stop)
    assert result.cancelled and result.done == 3 and result.planned == 100
    assert result.best is not None


def test_a_process_pool_gives_the_same_table_as_running_inline():
    space = {"entry": "7:11", "exit": "27:31"}
    inline = search(space, workers=1)
    pooled = search(space, workers=2)
    assert pooled.backend == "2 processes"
    pd.testing.assert_frame_equal(inline.trials, pooled.trials)


def test_cancelling_a_process_pool_drops_the_queued_jobs():
    stop = threading.Event()
    result = search({"entry": "0:19", "exit": "20:39"}, workers=2,
                    progress=lambda done, total, best: stop.set(), cancel=stop)
    assert result.cancelled and 1 <= result.done < result.planned == 400


def test_mistakes_are_named_with_a_suggestion():
    with pytest.raises(ParamError, match=r"no parameter 'entyr' \(did you mean 'entry'\?\)"):
        search({"entyr": "1:3"})
    with pytest.raises(ParamError, match=r"outside its range \[0, 100\]"):
        search({"entry": "0:150"})
    with pytest.raises(UserError, match=r"did you mean 'sharpe'"):
        search({"entry": "1:3"}, metric="sharp")
    with pytest.raises(ParamError, match=r"did you mean 'sma_cross'"):
        optimize("sma_cros", v_then_peak(), {"fast": "5"}, config=CONFIG)
    with pytest.raises(UserError, match="both fixed"):
        search({"entry": "1:3"}, fixed={"entry": 2})
    with pytest.raises(UserError, match="use coarser steps or random search"):
        search({"entry": "0:100", "exit": "1:200", "fraction": "0:1:0.0001"})
    with pytest.raises(ParamError, match="name the parameters to search"):
        search({})


def test_dimension_specs():
    sma = get_strategy("sma_cross")
    assert parse_dimension(sma.params["fast"], "5:20:5").grid() == [5, 10, 15, 20]
    assert parse_dimension(sma.params["slow"], "20,30,50").grid() == [20, 30, 50]
    assert parse_dimension(sma.params["size"], "0:1:0.25").grid() == [0, 0.25, 0.5, 0.75, 1.0]
    assert parse_dimension(sma.params["reverse"]).grid() == [False, True]
    assert parse_dimension(sma.params["fast"]).grid() == sma.params["fast"].grid()
    with pytest.raises(ParamError, match="positive int"):
        parse_dimension(sma.params["fast"], "5:20:2.5")
    assert parse_space_args(["fast=5:20:5", "reverse"]) == {"fast": "5:20:5", "reverse": None}


def test_default_constraints_of_the_built_in_pairs():
    bundled = v_then_peak(400)
    result = optimize("sma_cross", bundled, {"fast": "10,20,30", "slow": "20,30"},
                      config=BacktestConfig("sma_cross", (SYMBOL,), timeframe="1d"), workers=1)
    assert (result.planned, result.skipped) == (3, 3)
    assert (result.trials["fast"] < result.trials["slow"]).all()
