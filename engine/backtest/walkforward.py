"""Walk-forward analysis: choose parameters on a train window, trade the next test window.

Windows are cut by bar count (``train=500, test=100``; with several symbols, a
count of distinct bar times) or by calendar period
(``train="2Y", test="6M"``; units D, W, M, Y). Rolling windows keep the train
length and slide by one test length; anchored windows all start at the first
bar and grow. The test windows follow each other without overlap and cover the
data from the end of the first train window on (the last may be shorter).

Each window's parameters come from ``optimize``'s search run *only on the train
bars* (the evaluator is handed the train slice, never more), so nothing in a
test window can influence the choice made for it. The chosen parameters then
trade the test window, starting with the equity the previous test window ended
with; the test equity curves, one after the other, are the out-of-sample
curve, and its metrics come from ``compute_metrics`` like any backtest's.

Two simplifications, both deliberate and visible in the result:

* every test window starts flat, its strategy warmed up on the bars before it
  (indicators ready, no orders from them), as each train trial is on the bars
  before its window: a position still open at the end of a window is carried
  into the next window's cash at its marked value, without a closing fee;
* a window where no trial has a finite metric (e.g. no trades, so no Sharpe)
  takes the first trial that ran; one where every trial failed stays in cash.
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, TypeAlias

import numpy as np
import pandas as pd

from engine.backtest.data_source import DataSet
from engine.backtest.metrics import Metrics, compute_metrics, drawdown_curve
from engine.backtest.optimize import (
    Cancel,
    Constraint,
    Evaluator,
    OptimizationResult,
    Progress,
    Trial,
    as_cancel,
    prepare_search,
    search,
)
from engine.backtest.payload import Payload, make_payload, run_window
from engine.backtest.run_data import RunData
from engine.backtest.runner import (
    BacktestCancelled,
    BacktestConfig,
    BacktestResult,
    default_instrument,
)
from engine.backtest.trades import RoundTrip
from engine.errors import UserError
from engine.models import Timeframe

_PERIOD = re.compile(r"^\s*(\d+)\s*([dwmy])\s*$", re.IGNORECASE)
_UNITS = {"d": "days", "w": "weeks", "m": "months", "y": "years"}

Span: TypeAlias = int | pd.DateOffset


def parse_span(value: int | str, what: str = "window") -> Span:
    """A bar count (``500``, ``"500"``) or a calendar period (``"90D"``, ``"6M"``, ``"2Y"``)."""
    if isinstance(value, int | np.integer) and not isinstance(value, bool):
        count = int(value)
    elif isinstance(value, str) and value.strip().isdigit():
        count = int(value)
    elif isinstance(value, str) and (m := _PERIOD.match(value)):
        if int(m.group(1)) < 1:
            raise UserError(f"--{what} {value!r} must be at least one period")
        return pd.DateOffset(**{_UNITS[m.group(2).lower()]: int(m.group(1))})
    else:
        raise UserError(f"--{what} {value!r}: give a number of bars (e.g. 500) or a period "
                        f"with a unit D, W, M or Y (e.g. 90D, 6M, 2Y)")
    if count < 1:
        raise UserError(f"--{what} must be at least 1 bar, got {count}")
    return count


@dataclass(frozen=True)
class Window:
    """Bar positions (half-open) of one train window and the test window after it."""

    index: int
    train_lo: int
    train_hi: int
    test_lo: int
    test_hi: int


def make_windows(times: pd.DatetimeIndex, train: int | str, test: int | str, *,
                 anchored: bool = False, min_train_bars: int = 2) -> list[Window]:
    """The train/test windows over ``times`` (see the module docstring)."""
    train_span, test_span = parse_span(train, "train"), parse_span(test, "test")
    if isinstance(train_span, int) != isinstance(test_span, int):
        raise UserError("--train and --test must both be bar counts or both be periods")
    n = len(times)
    if isinstance(train_span, int):
        assert isinstance(test_span, int)
        starts = range(train_span, n, test_span)
        bounds = [(0 if anchored else s - train_span, s, min(s + test_span, n)) for s in starts]
    else:
        bounds = _calendar_bounds(times, train_span, test_span, anchored)
    windows = [Window(k, lo, mid, mid, hi) for k, (lo, mid, hi) in enumerate(bounds)
               if hi > mid and mid - lo >= min_train_bars]
    if not windows:
        raise UserError(f"{n} bars are too few for a train window of {train} and a test "
                        f"window of {test}")
    return [replace(w, index=k) for k, w in enumerate(windows)]


def _calendar_bounds(times: pd.DatetimeIndex, train: pd.DateOffset, test: pd.DateOffset,
                     anchored: bool) -> list[tuple[int, int, int]]:
    first, last = times[0], times[-1]
    out: list[tuple[int, int, int]] = []
    k = 0
    while True:
        # Offsets from the first bar (not added up window by window): months do not drift.
        test_start = first + train + test * k if k else first + train
        if test_start > last:
            return out
        test_end = test_start + test
        train_start = first if anchored else test_start - train
        lo, mid, hi = (int(times.searchsorted(t, "left"))
                       for t in (train_start, test_start, test_end))
        out.append((lo, mid, hi))
        k += 1


@dataclass(frozen=True)
class WindowResult:
    """One window: where it lies, what the train search chose and how the test went."""

    window: Window
    train_start: pd.Timestamp
    train_end: pd.Timestamp
    test_start: pd.Timestamp
    test_end: pd.Timestamp
    params: dict[str, Any] | None  # None: every trial failed, the window stayed in cash
    train_value: float  # the chosen point's metric on the train window
    search: OptimizationResult
    test: BacktestResult | None
    note: str = ""


@dataclass(frozen=True)
class WalkForwardResult:
    """The windows, the stitched out-of-sample equity and its metrics."""

    strategy: str
    metric: str
    maximize: bool
    anchored: bool
    windows: list[WindowResult]
    equity: pd.Series
    drawdown: pd.Series
    trades: list[RoundTrip]
    metrics: Metrics
    cancelled: bool
    elapsed_s: float

    def table(self) -> pd.DataFrame:
        """One row per window: dates, chosen parameters, train metric, test results."""
        rows = []
        for w in self.windows:
            tm = w.test.metrics if w.test is not None else None
            rows.append({
                "window": w.window.index, "train_start": w.train_start,
                "train_end": w.train_end, "test_start": w.test_start, "test_end": w.test_end,
                "train_bars": w.window.train_hi - w.window.train_lo,
                "test_bars": w.window.test_hi - w.window.test_lo,
                **{k: v for k, v in (w.params or {}).items() if k in w.search.names},
                f"train_{self.metric}": w.train_value,
                f"test_{self.metric}": getattr(tm, self.metric) if tm else float("nan"),
                "test_return_pct": tm.total_return_pct if tm else 0.0,
                "test_max_drawdown_pct": tm.max_drawdown_pct if tm else 0.0,
                "test_trades": tm.trades if tm else 0, "note": w.note,
            })
        return pd.DataFrame(rows).set_index("window") if rows else pd.DataFrame()


def _choose(result: OptimizationResult) -> tuple[dict[str, Any] | None, float, str]:
    best: Trial | None = result.best
    if best is not None:
        return best.params, best.value, ""
    ok = result.trials[result.trials["error"] == ""]
    if ok.empty:
        first = result.trials["error"].iloc[0] if len(result.trials) else "no trials ran"
        return None, float("nan"), f"every trial failed ({first}); stayed in cash"
    row = ok.iloc[0]
    params = {k: row[k].item() if isinstance(row[k], np.generic) else row[k]
              for k in result.param_columns}
    return params, float("nan"), f"no trial had a finite {result.metric}; took the first"


def _flat(times: pd.DatetimeIndex, cash: float, bar_ns: int) -> pd.Series:
    """Equity of a window spent in cash, stamped at bar closes like a run's curve."""
    index = pd.to_datetime(times.as_unit("ns").asi8 + bar_ns, utc=True)
    return pd.Series(cash, index=index, name="equity", dtype=float)


def walk_forward(
    strategy_name: str,
    data: RunData | DataSet | pd.DataFrame,
    space: Mapping[str, Any],
    metric: str = "sharpe",
    *,
    train: int | str,
    test: int | str,
    anchored: bool = False,
    method: str = "grid",
    n_iter: int = 50,
    seed: int | None = None,
    workers: int | None = None,
    cluster: Any = None,
    progress: Progress | None = None,
    cancel: Cancel = None,
    config: BacktestConfig | None = None,
    fixed: Mapping[str, Any] | None = None,
    constraints: Sequence[str | Constraint] | None = None,
    maximize: bool | None = None,
    funding: Mapping[str, pd.Series] | None = None,
) -> WalkForwardResult:
    """Walk-forward ``strategy_name`` over ``data``; arguments as for ``optimize``.

    ``progress(done, total, best)`` counts every train trial and every test run
    of every window; ``best`` is the current window's best trial so far.
    Cancelling returns the windows finished so far (``cancelled=True``); before
    the first one finishes it raises ``BacktestCancelled``.
    """
    started = time.perf_counter()
    plan, maximize = prepare_search(strategy_name, space, metric, method=method, n_iter=n_iter,
                                    seed=seed, fixed=fixed, constraints=constraints,
                                    maximize=maximize)
    payload = make_payload(strategy_name, data, config, funding)
    times, base = payload.times, payload.config
    windows = make_windows(times, train, test, anchored=anchored)
    is_cancelled = as_cancel(cancel)
    total = len(windows) * (len(plan.points) + 1)
    bar_ns = Timeframe.parse(base.timeframe).ns
    results: list[WindowResult] = []
    cancelled = False
    cash = base.cash
    with Evaluator(payload, workers=workers, cluster=cluster, jobs=len(plan.points)) as ev:
        for w in windows:
            offset = len(results) * (len(plan.points) + 1)

            def window_progress(done: int, _total: int, best: Trial | None,
                                offset: int = offset) -> None:
                if progress is not None:
                    progress(offset + done, total, best)

            found = search(ev, plan, strategy=strategy_name, metric=metric, maximize=maximize,
                           method=method, lo=w.train_lo, hi=w.train_hi,
                           progress=window_progress, cancel=is_cancelled)
            if found.cancelled:
                cancelled = True
                break
            params, value, note = _choose(found)
            run = None
            if params is not None:
                try:
                    run = run_window(payload, params, w.test_lo, w.test_hi, cash=cash,
                                     cancel=is_cancelled)
                except BacktestCancelled:
                    cancelled = True
                    break
                cash = float(run.equity.iloc[-1])
            results.append(WindowResult(
                window=w, train_start=times[w.train_lo],
                train_end=times[w.train_hi - 1], test_start=times[w.test_lo],
                test_end=times[w.test_hi - 1], params=params, train_value=value,
                search=found, test=run, note=note))
            if progress is not None:
                progress(offset + len(plan.points) + 1, total, found.best)
            if is_cancelled():
                cancelled = True
                break
    if not results:
        raise BacktestCancelled("walk-forward cancelled before the first window finished")
    return _stitch(strategy_name, metric, maximize, anchored, results, payload, base, bar_ns,
                   cancelled, time.perf_counter() - started)


def _stitch(strategy: str, metric: str, maximize: bool, anchored: bool,
            results: list[WindowResult], payload: Payload, base: BacktestConfig, bar_ns: int,
            cancelled: bool, elapsed: float) -> WalkForwardResult:
    parts, trades = [], []
    exposure_bars = traded = fees = 0.0
    cash = base.cash
    for r in results:
        w = r.window
        if r.test is None:
            parts.append(_flat(payload.span(w.test_lo, w.test_hi), cash, bar_ns))
            continue
        m = r.test.metrics
        parts.append(r.test.equity)
        trades.extend(r.test.trades)
        exposure_bars += (0.0 if math.isnan(m.exposure_pct) else m.exposure_pct) / 100 * m.bars
        traded += m.turnover * float(r.test.equity.mean()) if math.isfinite(m.turnover) else 0.0
        fees += m.fees
        cash = float(r.test.equity.iloc[-1])
    equity = pd.concat(parts)
    insts = [payload.instruments.get(s) or default_instrument(s) for s in base.symbols]
    periods = 365 if all(i.calendar == "24/7" for i in insts) else 252
    metrics = compute_metrics(equity, trades, traded_notional=traded, fees=fees,
                              periods_per_year=periods)
    metrics = replace(metrics, exposure_pct=exposure_bars / len(equity) * 100)
    return WalkForwardResult(strategy=strategy, metric=metric, maximize=maximize,
                             anchored=anchored, windows=results, equity=equity,
                             drawdown=drawdown_curve(equity), trades=trades, metrics=metrics,
                             cancelled=cancelled, elapsed_s=elapsed)
