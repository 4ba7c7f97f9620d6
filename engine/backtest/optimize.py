"""Parameter search: grid or random, ranked by any metric, on processes or a Dask cluster.

The search space comes from the strategy's declared ``Param`` ranges, narrowed
by the user per parameter (``parse_dimension``)::

    fast=5:20:5        5, 10, 15, 20          (low:high:step, both ends included)
    fast=5:20          every int from 5 to 20 (a float range: 5 even points on a grid,
                                               uniform draws for random search)
    slow=20,30,50      exactly these values
    mode               the declared range or choices (Param.grid())

Every value is checked against the declaration (type, range, choices): a value
outside it is a ``ParamError``, not a silently skipped point.

Constraints: the built-in strategies do not refuse a fast period above the slow
one, they just trade nonsense, so such points are *skipped* before they run. A
strategy may declare ``constraints = ("fast < slow",)``; without a declaration
the well-known pairs in ``ORDERED_PAIRS`` apply when the strategy has both
names. Callers add more (``"fast <= 3 * ..."`` is not supported: a constraint is
``name OP name`` or ``name OP number`` with OP one of < <= > >= != ==).

Execution: ``workers=1`` runs in the calling thread; otherwise a local
``ProcessPoolExecutor`` (forkserver on POSIX, so it is safe to start from a GUI
process with threads) gets the bars once per worker; ``cluster=ADDRESS`` (or a
``distributed.Client``) runs on a Dask cluster, the bars scattered once to every
worker. At most two jobs per worker are in flight, so cancelling (``cancel``: a
``threading.Event`` or a callable, checked between jobs and every 0.1 s) drops
the queued jobs at once; jobs already running finish on their own and are
ignored. ``progress(done, total, best)`` is called in the calling thread after
every job, with the best ``Trial`` so far (None until one succeeds).

Results: ``OptimizationResult.trials`` holds one row per evaluated point (the
parameters, every metric, ``error``), in planned order, so the outcome does not
depend on which worker finished first; ``ranked()`` sorts it by the metric
(NaN last). Lower is better for the metrics in ``LOWER_IS_BETTER``.
"""

from __future__ import annotations

import difflib
import itertools
import math
import multiprocessing
import operator
import os
import re
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, fields
from typing import Any

import numpy as np
import pandas as pd

from engine.backtest.data_source import DataSet
from engine.backtest.metrics import Metrics
from engine.backtest.payload import Payload, evaluate, make_payload
from engine.backtest.run_data import RunData
from engine.backtest.runner import BacktestCancelled, BacktestConfig
from engine.errors import UserError
from engine.strategy.base import Strategy
from engine.strategy.params import Param, ParamError
from engine.strategy.registry import get_strategy, strategy_names

MAX_GRID_POINTS = 100_000
LOWER_IS_BETTER = frozenset({"max_drawdown_pct", "volatility_pct", "var_95_pct", "es_95_pct",
                             "fees", "turnover"})
RANKABLE = tuple(f.name for f in fields(Metrics) if f.type in ("float", "int"))
# Parameter pairs that only make sense in this order, when a strategy has both.
ORDERED_PAIRS = (("fast", "slow"), ("ema_short_period", "ema_long_period"),
                 ("oversold", "overbought"), ("rsi_oversold", "rsi_overbought"))
POLL_S = 0.1
CONNECT_TIMEOUT_S = 10.0  # to reach a Dask scheduler
IN_FLIGHT_PER_WORKER = 2

Progress = Callable[[int, int, "Trial | None"], None]
Cancel = threading.Event | Callable[[], bool] | None


def did_you_mean(word: str, options: Iterable[str]) -> str:
    """`` (did you mean 'x'?)`` for the closest option, or ''."""
    close = difflib.get_close_matches(word, list(options), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def strategy_class(name: str) -> type[Strategy]:
    """``get_strategy`` with a suggestion for a misspelt built-in name."""
    names = strategy_names()
    if ":" not in name and name not in names:
        raise ParamError(f"unknown strategy {name!r}{did_you_mean(name, names)}; built-in "
                         f"strategies: {', '.join(names)}")
    return get_strategy(name)


def check_param_names(cls: type[Strategy], names: Iterable[str]) -> None:
    """A ``ParamError`` with a suggestion for the first name ``cls`` does not declare."""
    for name in names:
        if name not in cls.params:
            known = ", ".join(sorted(cls.params)) or "none"
            raise ParamError(f"strategy {cls.name!r} has no parameter {name!r}"
                             f"{did_you_mean(name, cls.params)}; parameters: {known}")


# ---- the search space ---------------------------------------------------------------------


@dataclass(frozen=True)
class Dimension:
    """The values one parameter takes: an explicit list, or a range (with optional step)."""

    name: str
    kind: type
    values: tuple[Any, ...] | None = None
    low: float | None = None
    high: float | None = None
    step: float | None = None
    coarse: tuple[Any, ...] | None = None  # grid of a declared range (random draws use it all)

    def grid(self, points: int = 5) -> list[Any]:
        """Every value for grid search (a float range without step: ``points`` even points)."""
        if self.values is not None:
            return list(self.values)
        if self.coarse is not None:
            return list(self.coarse)
        assert self.low is not None and self.high is not None
        if self.kind is int:
            return list(range(int(self.low), int(self.high) + 1, int(self.step or 1)))
        if self.step:
            count = int(math.floor((self.high - self.low) / self.step + 1e-9)) + 1
            return [round(self.low + i * self.step, 12) for i in range(count)]
        if points <= 1 or self.low == self.high:
            return [self.low]
        return [self.low + i * (self.high - self.low) / (points - 1) for i in range(points)]

    def sample(self, rng: np.random.Generator) -> Any:
        """One random value: from the list or the step grid, else uniform over the range."""
        if self.values is not None or self.step:
            options = self.grid()
            return options[int(rng.integers(len(options)))]
        assert self.low is not None and self.high is not None
        if self.kind is int:
            return int(rng.integers(int(self.low), int(self.high) + 1))
        return float(rng.uniform(self.low, self.high))


_RANGE = re.compile(r"^\s*([^:]+):([^:]+)(?::([^:]+))?\s*$")


def parse_dimension(param: Param, spec: Any = None, *, owner: str = "") -> Dimension:
    """A ``Dimension`` of ``param`` from a spec (see the module docstring)."""
    name, kind = param.name, param.kind
    if spec is None or (isinstance(spec, str) and not spec.strip()):
        if param.choices is not None or kind is bool or param.low is None or param.high is None:
            return Dimension(name, kind, values=tuple(param.grid()))
        # A declared range can be huge (2..2000): the grid spreads a few points over it
        # like Param.grid does; random draws cover all of it.
        return Dimension(name, kind, low=param.low, high=param.high, step=param.step,
                         coarse=tuple(param.grid()))
    if isinstance(spec, str) and (match := _RANGE.match(spec)) and kind not in (bool, str):
        low = param.parse(match.group(1).strip(), owner=owner)
        high = param.parse(match.group(2).strip(), owner=owner)
        if low > high:
            raise ParamError(f"range {spec!r} of parameter {name!r}: {low} is above {high}")
        step = None
        if match.group(3) is not None:
            try:
                step = kind(float(match.group(3))) if kind is int else float(match.group(3))
            except ValueError:
                raise ParamError(f"step {match.group(3)!r} of parameter {name!r} is not a "
                                 f"number") from None
            if step <= 0 or (kind is int and float(match.group(3)) != int(step)):
                raise ParamError(f"step {match.group(3)!r} of parameter {name!r} must be a "
                                 f"positive {kind.__name__}")
        return Dimension(name, kind, low=low, high=high, step=step)
    items = spec.split(",") if isinstance(spec, str) else (
        list(spec) if isinstance(spec, Sequence) else [spec])
    values = tuple(dict.fromkeys(param.parse(v.strip() if isinstance(v, str) else v, owner=owner)
                                 for v in items))
    if not values:
        raise ParamError(f"parameter {name!r} needs at least one value")
    return Dimension(name, kind, values=values)


def build_space(cls: type[Strategy], space: Mapping[str, Any]) -> dict[str, Dimension]:
    """Dimensions for ``space`` ({name: spec}), names and values checked against ``cls``."""
    if not space:
        raise ParamError(f"name the parameters to search, e.g. fast=5:20:5 slow=20,30,50; "
                         f"strategy {cls.name!r} declares: {', '.join(cls.params) or 'none'}")
    check_param_names(cls, space)
    out = {}
    for name, spec in space.items():
        out[name] = spec if isinstance(spec, Dimension) else parse_dimension(
            cls.params[name], spec, owner=cls.name)
    return out


def parse_space_args(items: Sequence[str]) -> dict[str, str | None]:
    """``["fast=5:20:5", "slow=20,30", "reverse"]`` -> {name: spec or None}."""
    out: dict[str, str | None] = {}
    for item in items:
        name, sep, spec = item.partition("=")
        name = name.strip()
        if not name:
            raise UserError(f"search dimension {item!r}: write NAME=SPEC, e.g. fast=5:20:5")
        if name in out:
            raise UserError(f"parameter {name!r} is given twice")
        out[name] = spec.strip() if sep else None
    return out


# ---- constraints -------------------------------------------------------------------------------

_OPS: dict[str, Callable[[Any, Any], bool]] = {
    "<=": operator.le, ">=": operator.ge, "!=": operator.ne, "==": operator.eq,
    "<": operator.lt, ">": operator.gt,
}
_CONSTRAINT = re.compile(r"^\s*([A-Za-z_]\w*)\s*(<=|>=|!=|==|<|>)\s*(\S+)\s*$")


@dataclass(frozen=True)
class Constraint:
    """``left OP right``: right is a parameter name or a number."""

    left: str
    op: str
    right: str | float

    def holds(self, params: Mapping[str, Any]) -> bool:
        right = params[self.right] if isinstance(self.right, str) else self.right
        return bool(_OPS[self.op](params[self.left], right))

    def __str__(self) -> str:
        return f"{self.left} {self.op} {self.right}"


def parse_constraint(text: str | Constraint, cls: type[Strategy]) -> Constraint:
    if isinstance(text, Constraint):
        return text
    match = _CONSTRAINT.match(text)
    if not match:
        raise UserError(f"constraint {text!r}: write NAME OP NAME or NAME OP NUMBER with OP "
                        f"one of < <= > >= != ==, e.g. 'fast < slow'")
    left, op, right_text = match.groups()
    right: str | float
    try:
        right = float(right_text)
    except ValueError:
        right = right_text
    check_param_names(cls, [left] + ([right] if isinstance(right, str) else []))
    return Constraint(left, op, right)


def default_constraints(cls: type[Strategy]) -> list[Constraint]:
    """The strategy's declared ``constraints``, else the ``ORDERED_PAIRS`` it has."""
    declared = getattr(cls, "constraints", None)
    if declared is not None:
        return [parse_constraint(c, cls) for c in declared]
    return [Constraint(a, "<", b) for a, b in ORDERED_PAIRS if a in cls.params and b in cls.params]


# ---- planning -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Plan:
    """The points to evaluate (full parameter sets, in order) and how many were skipped."""

    points: list[dict[str, Any]]
    skipped: int
    names: tuple[str, ...]  # the searched parameters


def plan_search(cls: type[Strategy], dims: Mapping[str, Dimension], *,
                fixed: Mapping[str, Any] | None = None,
                constraints: Sequence[Constraint] = (), method: str = "grid",
                n_iter: int = 50, seed: int | None = None) -> Plan:
    """Grid (every combination) or random (``n_iter`` distinct draws) points, constraints
    applied: grid points that break one are skipped, random draws are drawn again."""
    fixed = dict(fixed or {})
    both = sorted(set(fixed) & set(dims))
    if both:
        raise UserError(f"parameter {both[0]!r} is both fixed (--param) and searched")
    base = cls.validate_params(fixed)
    names = tuple(dims)

    def admissible(values: Sequence[Any]) -> dict[str, Any] | None:
        point = {**base, **dict(zip(names, values, strict=True))}
        return point if all(c.holds(point) for c in constraints) else None

    if method == "grid":
        grids = [dims[n].grid() for n in names]
        total = math.prod(len(g) for g in grids)
        if total > MAX_GRID_POINTS:
            raise UserError(f"the grid has {total:,} points (more than {MAX_GRID_POINTS:,}); "
                            f"use coarser steps or random search (--random N)")
        points, skipped = [], 0
        for combo in itertools.product(*grids):
            point = admissible(combo)
            if point is None:
                skipped += 1
            else:
                points.append(point)
        return Plan(points, skipped, names)
    if method != "random":
        raise UserError(f"search method {method!r}: use 'grid' or 'random'")
    if n_iter < 1:
        raise UserError(f"random search needs at least 1 point, got {n_iter}")
    rng = np.random.default_rng(seed)
    seen: set[tuple[Any, ...]] = set()
    points, skipped = [], 0
    for _ in range(n_iter * 50):  # a space smaller than n_iter ends the loop early
        if len(points) == n_iter:
            break
        combo = tuple(dims[n].sample(rng) for n in names)
        if combo in seen:
            continue
        seen.add(combo)
        point = admissible(combo)
        if point is None:
            skipped += 1
        else:
            points.append(point)
    return Plan(points, skipped, names)


# ---- evaluation ----------------------------------------------------------------------------------


_worker_payload: Payload | None = None


def _init_worker(payload: Payload) -> None:
    global _worker_payload
    _worker_payload = payload
    # Ctrl-C belongs to the parent, which cancels the search and reports.
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _evaluate_in_worker(params: Mapping[str, Any], lo: int, hi: int | None) -> dict[str, Any]:
    assert _worker_payload is not None, "worker not initialised"
    return evaluate(_worker_payload, params, lo, hi)


def _pool_context() -> Any:
    """fork when it is safe and fastest (Linux, this process has one thread: the CLI);
    forkserver from a process with threads (the GUI); spawn where nothing else exists."""
    methods = multiprocessing.get_all_start_methods()
    if sys.platform.startswith("linux") and threading.active_count() == 1:
        return multiprocessing.get_context("fork")
    if sys.platform == "win32" or "forkserver" not in methods:
        return multiprocessing.get_context("spawn")
    ctx = multiprocessing.get_context("forkserver")
    # The server imports the engine once; every worker forks from it ready to run.
    ctx.set_forkserver_preload([__name__, "engine.strategies"])
    return ctx


def as_cancel(cancel: Cancel) -> Callable[[], bool]:
    """``cancel`` (an Event, a callable or None) as a callable."""
    if cancel is None:
        return lambda: False
    if isinstance(cancel, threading.Event):
        return cancel.is_set
    return cancel


class Evaluator:
    """Runs jobs (params, bar slice) inline, on a process pool or on a Dask cluster.

    A context manager: the pool or the cluster connection lives until ``close``,
    so a walk-forward reuses one for all its windows.
    """

    def __init__(self, payload: Payload, *, workers: int | None = None,
                 cluster: Any = None, jobs: int | None = None) -> None:
        self.payload = payload
        self.kind = "inline"
        self.capacity = 1
        self._pool: Any = None
        self._client: Any = None
        self._owns_client = False
        self._scattered: Any = None
        self._cancelled = False
        if workers is not None and workers < 1:
            raise UserError(f"--workers must be at least 1, got {workers}")
        if cluster is not None:
            self._connect(cluster)
            return
        n = workers if workers is not None else (os.cpu_count() or 1)
        if jobs is not None:
            n = min(n, jobs)
        if n > 1:
            from concurrent.futures import ProcessPoolExecutor

            self._pool = ProcessPoolExecutor(n, mp_context=_pool_context(),
                                             initializer=_init_worker, initargs=(payload,))
            self.kind, self.capacity = f"{n} processes", n

    def _connect(self, cluster: Any) -> None:
        try:
            from distributed import Client
        except ImportError:
            raise UserError("--cluster needs Dask: pip install 'trading-terminal[cluster]'") from None
        if isinstance(cluster, Client):
            self._client = cluster
        else:
            try:
                self._client = Client(str(cluster), timeout=CONNECT_TIMEOUT_S,
                                      set_as_default=False)
            except (OSError, TimeoutError) as exc:
                raise UserError(f"cannot connect to the Dask scheduler at {cluster}: {exc}") \
                    from None
            self._owns_client = True
        workers = self._client.scheduler_info().get("workers", {})
        threads = sum(int(w.get("nthreads", 1)) for w in workers.values()) or 1
        self._scattered = self._client.scatter(self.payload, broadcast=True, hash=False)
        self.kind, self.capacity = f"Dask cluster {self._client.scheduler.address}", threads

    def close(self) -> None:
        if self._pool is not None:
            # After a cancel, queued jobs are dropped and a job still running ends on its
            # own without holding up the caller; otherwise the workers are reaped now.
            self._pool.shutdown(wait=not self._cancelled, cancel_futures=True)
            self._pool = None
        if self._client is not None and self._owns_client:
            self._client.close()
        self._client = None

    def __enter__(self) -> Evaluator:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---- running jobs ------------------------------------------------------------------------
    def run(self, jobs: Sequence[tuple[dict[str, Any], int, int | None]],
            on_result: Callable[[int, dict[str, Any]], None],
            cancel: Callable[[], bool]) -> bool:
        """Run every job, calling ``on_result(job index, outcome)``; True if cancelled."""
        if self._pool is None and self._client is None:
            for i, (params, lo, hi) in enumerate(jobs):
                if cancel():
                    return True
                try:
                    outcome = evaluate(self.payload, params, lo, hi, cancel=cancel)
                except BacktestCancelled:
                    return True
                on_result(i, outcome)
            return False
        return self._run_concurrently(jobs, on_result, cancel)

    def _submit(self, job: tuple[dict[str, Any], int, int | None]) -> Any:
        params, lo, hi = job
        if self._client is not None:
            return self._client.submit(evaluate, self._scattered, params, lo, hi, pure=False)
        return self._pool.submit(_evaluate_in_worker, params, lo, hi)

    def _wait(self, pending: set[Any]) -> tuple[set[Any], set[Any]]:
        if self._client is not None:
            # distributed.wait() needs a default client, which this one is not (it must
            # not capture other dask work in the process): poll the futures instead.
            deadline = time.monotonic() + POLL_S
            while True:
                done = {f for f in pending if f.done()}
                if done or time.monotonic() >= deadline:
                    return done, pending - done
                time.sleep(0.01)
        from concurrent.futures import FIRST_COMPLETED
        from concurrent.futures import wait as cf_wait

        return cf_wait(pending, timeout=POLL_S, return_when=FIRST_COMPLETED)

    def _cancel(self, pending: set[Any]) -> None:
        if self._client is not None:
            self._client.cancel(list(pending))
        else:
            for f in pending:
                f.cancel()

    def _run_concurrently(self, jobs: Sequence[tuple[dict[str, Any], int, int | None]],
                          on_result: Callable[[int, dict[str, Any]], None],
                          cancel: Callable[[], bool]) -> bool:
        queue = iter(enumerate(jobs))
        index: dict[Any, int] = {}
        limit = self.capacity * IN_FLIGHT_PER_WORKER

        def refill() -> None:
            while len(index) < limit and (item := next(queue, None)) is not None:
                index[self._submit(item[1])] = item[0]

        refill()
        while index:
            if cancel():
                self._cancel(set(index))
                self._cancelled = True
                return True
            done, _ = self._wait(set(index))
            for future in done:
                i = index.pop(future)
                try:
                    outcome = future.result()
                except Exception as exc:  # the worker died: that point has no result
                    outcome = {"error": f"worker failed: {type(exc).__name__}: {exc}"}
                on_result(i, outcome)
            refill()
        return cancel()  # cancelled while the last job was finishing counts too


# ---- results --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Trial:
    """One evaluated point: its parameters, the ranking metric's value and all metrics."""

    index: int
    params: dict[str, Any]
    value: float
    metrics: dict[str, Any] | None
    error: str = ""


@dataclass(frozen=True)
class OptimizationResult:
    """Every evaluated point (``trials``) and how the search went."""

    strategy: str
    metric: str
    maximize: bool
    method: str
    names: tuple[str, ...]  # the searched parameters
    trials: pd.DataFrame  # params..., every metric, "error"; in planned order
    planned: int  # points that passed the constraints
    skipped: int  # points that broke a constraint
    cancelled: bool
    elapsed_s: float
    backend: str

    @property
    def done(self) -> int:
        return len(self.trials)

    @property
    def failed(self) -> int:
        return int((self.trials["error"] != "").sum()) if len(self.trials) else 0

    def ranked(self, metric: str | None = None, maximize: bool | None = None) -> pd.DataFrame:
        """Successful trials, best first by ``metric`` (default: the search's), NaN last."""
        metric = check_metric(metric or self.metric)
        maximize = self.maximize if maximize is None and metric == self.metric else (
            maximize if maximize is not None else metric not in LOWER_IS_BETTER)
        ok = self.trials[self.trials["error"] == ""]
        return ok.sort_values(metric, ascending=not maximize, na_position="last", kind="stable")

    @property
    def best(self) -> Trial | None:
        ranked = self.ranked()
        if ranked.empty or pd.isna(ranked[self.metric].iloc[0]):
            return None
        row = ranked.iloc[0]
        metric_names = [f.name for f in fields(Metrics)]
        return Trial(int(ranked.index[0]), {n: _plain(row[n]) for n in self.param_columns},
                     float(row[self.metric]), {n: _plain(row[n]) for n in metric_names})

    @property
    def param_columns(self) -> list[str]:
        metric_names = {f.name for f in fields(Metrics)}
        return [c for c in self.trials.columns if c not in metric_names and c != "error"]


def _plain(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


def check_metric(metric: str) -> str:
    if metric not in RANKABLE:
        raise UserError(f"cannot rank by {metric!r}{did_you_mean(metric, RANKABLE)}; "
                        f"metrics: {', '.join(RANKABLE)}")
    return metric


def _better(value: float, than: float | None, maximize: bool) -> bool:
    if math.isnan(value):
        return False
    return than is None or (value > than if maximize else value < than)


def search(evaluator: Evaluator, plan: Plan, *, strategy: str, metric: str, maximize: bool,
           method: str, lo: int = 0, hi: int | None = None, progress: Progress | None = None,
           cancel: Cancel = None) -> OptimizationResult:
    """Evaluate ``plan`` on bars ``lo:hi`` with ``evaluator`` (see ``optimize``)."""
    started = time.perf_counter()
    is_cancelled = as_cancel(cancel)
    outcomes: dict[int, dict[str, Any]] = {}
    best: list[Trial] = []
    total = len(plan.points)

    def on_result(i: int, outcome: dict[str, Any]) -> None:
        outcomes[i] = outcome
        m = outcome.get("metrics")
        if m is not None:
            value = float(m[metric])
            if _better(value, best[0].value if best else None, maximize):
                best[:] = [Trial(i, plan.points[i], value, m)]
        if progress is not None:
            progress(len(outcomes), total, best[0] if best else None)

    jobs = [(p, lo, hi) for p in plan.points]
    cancelled = evaluator.run(jobs, on_result, is_cancelled) if jobs else False
    rows = []
    for i in sorted(outcomes):
        outcome = outcomes[i]
        row: dict[str, Any] = dict(plan.points[i])
        row.update(outcome.get("metrics") or {})
        row["error"] = outcome.get("error", "")
        rows.append(row)
    names = list(plan.points[0]) if plan.points else list(plan.names)
    columns = [*names, *(f.name for f in fields(Metrics)), "error"]
    trials = pd.DataFrame(rows, index=pd.Index(sorted(outcomes), name="trial"), columns=columns)
    return OptimizationResult(
        strategy=strategy, metric=metric, maximize=maximize, method=method, names=plan.names,
        trials=trials, planned=total, skipped=plan.skipped, cancelled=cancelled,
        elapsed_s=time.perf_counter() - started, backend=evaluator.kind)


def prepare_search(strategy_name: str, space: Mapping[str, Any], metric: str, *,
                   method: str = "grid", n_iter: int = 50, seed: int | None = None,
                   fixed: Mapping[str, Any] | None = None,
                   constraints: Sequence[str | Constraint] | None = None,
                   maximize: bool | None = None) -> tuple[Plan, bool]:
    """Everything checked and planned before a job runs: (the plan, maximize?)."""
    cls = strategy_class(strategy_name)
    check_metric(metric)
    rules = ([parse_constraint(c, cls) for c in constraints] if constraints is not None
             else default_constraints(cls))
    plan = plan_search(cls, build_space(cls, space), fixed=fixed, constraints=rules,
                       method=method, n_iter=n_iter, seed=seed)
    if not plan.points:
        raise UserError(f"no parameter set to try: all {plan.skipped} broke a constraint "
                        f"({', '.join(map(str, rules))})")
    return plan, (metric not in LOWER_IS_BETTER if maximize is None else maximize)


def optimize(
    strategy_name: str,
    data: RunData | DataSet | pd.DataFrame,
    space: Mapping[str, Any],
    metric: str = "sharpe",
    *,
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
) -> OptimizationResult:
    """Search ``space`` ({param: spec}) for the best ``metric``; see the module docstring.

    ``data``: one symbol's bars (``DataSet``, or a DataFrame with ``config``) or
    several symbols' (``RunData``: a perpetual and its spot, a basket), with
    ``funding`` rates for perpetuals. ``config`` supplies cash, commission,
    slippage and timeframe (its params are ignored); ``fixed`` pins parameters
    that are not searched; ``constraints`` replace the strategy's default ones.
    Safe to call from a worker thread: ``progress`` and ``cancel`` are plain
    callables, nothing touches a GUI.
    """
    plan, maximize = prepare_search(strategy_name, space, metric, method=method, n_iter=n_iter,
                                    seed=seed, fixed=fixed, constraints=constraints,
                                    maximize=maximize)
    payload = make_payload(strategy_name, data, config, funding)
    with Evaluator(payload, workers=workers, cluster=cluster, jobs=len(plan.points)) as ev:
        return search(ev, plan, strategy=strategy_name, metric=metric, maximize=maximize,
                      method=method, progress=progress, cancel=cancel)
