"""Backtest runs in a real SQLite file: one transaction, round trip, unfinished runs."""

from __future__ import annotations

import math
from dataclasses import replace
from decimal import Decimal

import pandas as pd
import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import StatementError

from engine.backtest.runner import BacktestConfig, run_backtest
from engine.backtest.store import (
    delete_run,
    list_runs,
    load_run,
    save_run,
    save_unfinished_run,
)
from engine.data.sample import load_daily
from engine.errors import UserError
from engine.storage import Database
from engine.storage.schema import backtest_runs, backtest_trades


@pytest.fixture(scope="module")
def result():
    frame = load_daily("MSFT").loc["2011-01-01":"2012-12-31"]
    out = run_backtest(BacktestConfig("sma_cross", ("MSFT",), {"fast": 5, "slow": 20,
                                                               "size": 1000},
                                      timeframe="1d", commission=0.001), frame)
    assert len(out.trades) > 10
    return out


@pytest.fixture
def db(tmp_path):
    with Database(tmp_path / "runs.sqlite3") as database:
        yield database


def counts(db):
    with db.connect() as conn:
        return (conn.execute(select(func.count()).select_from(backtest_runs)).scalar(),
                conn.execute(select(func.count()).select_from(backtest_trades)).scalar())


def test_a_completed_run_round_trips(db, result):
    run_id = save_run(db, result, origin="bundled sample")
    stored = load_run(db, run_id)
    s = stored.summary
    assert (s.status, s.strategy, s.symbol, s.timeframe) == ("complete", "sma_cross", "MSFT", "1d")
    assert s.params == dict(result.config.params)
    # The range is of bar open times (the equity curve is stamped at bar closes).
    assert s.start == result.equity.index[0] - pd.Timedelta(days=1)
    assert s.end == result.equity.index[-1] - pd.Timedelta(days=1)
    expected = result.metrics.as_dict()
    for key, value in s.metrics.items():
        if isinstance(value, float) and math.isnan(value):
            assert math.isnan(expected[key]), key
        else:
            assert value == expected[key], key
    assert stored.trades == result.trades  # exact decimals, same order
    assert stored.config["commission"] == 0.001 and stored.config["cash"] == result.config.cash
    assert stored.equity_summary["final"] == float(result.equity.iloc[-1])
    assert stored.equity_summary["points"] == len(result.equity)
    assert stored.equity.iloc[-1] == result.equity.iloc[-1]
    assert stored.equity.max() == result.equity.max()
    assert stored.origin == "bundled sample"
    assert counts(db) == (1, len(result.trades))


def test_non_finite_metrics_survive(db, result):
    metrics = replace(result.metrics, profit_factor=float("inf"), sortino=float("nan"))
    run_id = save_run(db, replace(result, metrics=metrics))
    back = load_run(db, run_id).summary.metrics
    assert back["profit_factor"] == float("inf") and math.isnan(back["sortino"])


def test_a_run_is_written_whole_or_not_at_all(db, result):
    broken = replace(result.trades[-1], quantity=Decimal("NaN"))  # the last trade cannot be stored
    with pytest.raises(StatementError, match="non-finite"):
        save_run(db, replace(result, trades=[*result.trades[:-1], broken]))
    assert counts(db) == (0, 0)


def test_unfinished_runs_are_never_complete(db, result):
    cancelled = save_unfinished_run(db, result.config, "cancelled after 20,000 of 90,000 bars",
                                    cancelled=True)
    failed = save_unfinished_run(db, result.config, "ZeroDivisionError: boom")
    done = save_run(db, result)
    runs = {r.id: r for r in list_runs(db)}
    assert runs[cancelled].status == "cancelled" and runs[cancelled].metrics is None
    assert runs[cancelled].error.startswith("cancelled after")
    assert runs[failed].status == "failed" and "boom" in runs[failed].error
    assert [r.id for r in list_runs(db, status="complete")] == [done]
    assert load_run(db, cancelled).trades == []
    assert [r.id for r in list_runs(db)] == [done, failed, cancelled]  # newest first


def test_delete_takes_the_trades_too(db, result):
    run_id = save_run(db, result)
    assert delete_run(db, run_id) and not delete_run(db, run_id)
    assert counts(db) == (0, 0)
    with pytest.raises(UserError, match=f"no backtest run {run_id}"):
        load_run(db, run_id)
