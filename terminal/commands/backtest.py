"""``trading-terminal strategies|backtest|optimize|walkforward``: backtests from the shell.

    trading-terminal strategies [--json]
    trading-terminal backtest --strategy sma_cross --data AAPL --from 2010-01-01 \\
        --param fast=10 slow=30 --report out.html --trades trades.csv
    trading-terminal optimize --strategy sma_cross --data AAPL --grid fast=5:20:5 slow=20,30,50 \\
        --metric sharpe --workers 4
    trading-terminal optimize ... --grid fast=2:50 slow=10:200 --random 100 --seed 7
    trading-terminal walkforward --strategy sma_cross --data AAPL --grid fast=5:20:5 \\
        slow=20,40,60 --train 2Y --test 6M
    trading-terminal optimize --strategy funding_arbitrage --data BTC/USDT:USDT=perp.csv \
        BTC/USDT=spot.csv --funding BTC/USDT:USDT=funding.csv --grid entry_rate=0.0001:0.001

``--data`` is a .csv/.parquet file of bars or of trades (time, price, size: the run
replays every trade), a symbol stored in the database, or a bundled sample symbol
(AAPL, MSFT, IBM, GOOG daily; 005930 synthetic minutes).
Mistakes (unknown strategy or parameter, a value outside its declared range,
no bars in the range) print one line and exit with status 2. Ctrl-C stops a
run: a backtest is recorded as cancelled, a search prints what it finished;
both exit with status 130.
"""

from __future__ import annotations

import argparse
import json
import math
import signal
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, nullcontext
from typing import Any

import pandas as pd

from engine.backtest.data_source import DataSet, is_file_spec, resolve_data
from engine.backtest.optimize import (
    OptimizationResult,
    Trial,
    check_param_names,
    default_constraints,
    optimize,
    parse_constraint,
    parse_space_args,
    strategy_class,
)
from engine.backtest.report import (
    format_metric,
    html_report,
    html_table,
    render_html,
    write_html_report,
    write_trades_csv,
)
from engine.backtest.run_data import RunData, read_funding
from engine.backtest.runner import (
    BacktestCancelled,
    BacktestConfig,
    BacktestResult,
    default_instrument,
    run_backtest,
    session_gaps,
)
from engine.backtest.store import json_safe, save_run, save_unfinished_run
from engine.backtest.walkforward import WalkForwardResult, walk_forward
from engine.errors import UserError
from engine.models import Timeframe
from engine.storage import Database
from engine.strategy.registry import get_strategy, strategy_names
from terminal.commands._args import assignments

INTERRUPTED = 130
# The metrics a search table shows next to the ranking metric.
SEARCH_COLUMNS = ("total_return_pct", "sharpe", "max_drawdown_pct", "trades")


# ---- small helpers ----------------------------------------------------------------------------


def _warn(message: str) -> None:
    print(f"warning: {message}", file=sys.stderr)


def _info(args: argparse.Namespace, message: str) -> None:
    if not args.quiet:
        print(message, file=sys.stderr)


def _print_json(doc: Any) -> None:
    print(json.dumps(json_safe(doc), indent=2, default=str, allow_nan=False))


def _flat(groups: Sequence[Sequence[str]] | None) -> list[str]:
    return [item for group in groups or () for item in group]


@contextmanager
def _ctrl_c() -> Iterator[threading.Event]:
    """An Event set by Ctrl-C (instead of KeyboardInterrupt) while the block runs."""
    stop = threading.Event()
    if threading.current_thread() is not threading.main_thread():
        yield stop
        return
    previous = signal.signal(signal.SIGINT, lambda *_: stop.set())
    try:
        yield stop
    finally:
        signal.signal(signal.SIGINT, previous)


def _progress(args: argparse.Namespace, metric: str) -> Callable[[int, int, Trial | None], None]:
    """A one-line progress display on a terminal; nothing when stderr is not one."""
    if args.quiet or not sys.stderr.isatty():
        return lambda done, total, best: None

    def show(done: int, total: int, best: Trial | None) -> None:
        lead = "" if best is None else f"  best {metric} {best.value:.4g}"
        print(f"\r{done}/{total}{lead}\x1b[K", end="" if done < total else "\n",
              file=sys.stderr, flush=True)

    return show


# ---- shared setup -----------------------------------------------------------------------------


def _load_one(args: argparse.Namespace, spec: str, symbol: str | None,
              db: Database | None) -> DataSet:
    data = resolve_data(spec, start=args.start, end=args.end, timeframe=args.timeframe,
                        symbol=symbol, tz=args.tz, db=db if db is not None else args.db)
    _info(args, f"data: {data.bars:,} {data.timeframe} bars of {data.symbol}, "
                f"{data.first:%Y-%m-%d %H:%M} .. {data.last:%Y-%m-%d %H:%M} UTC, "
                f"from {data.origin}")
    return data


def _load_all(args: argparse.Namespace, db: Database | None) -> RunData:
    """Every --data of a run or search, one symbol each, on one timeframe."""
    if args.symbol is not None and len(args.data) > 1:
        raise UserError("--symbol names the instrument of a single data file; with several, "
                        "name each as SYMBOL=FILE (e.g. BTC/USDT:USDT=perp.csv)")
    sets = []
    for spec in args.data:
        symbol, sep, path = spec.partition("=")
        if sep and is_file_spec(path):  # SYMBOL=FILE
            sets.append(_load_one(args, path, symbol, db))
        else:
            sets.append(_load_one(args, spec, args.symbol, db))
    return RunData.of(sets)


def _check_settings(args: argparse.Namespace) -> None:
    """Cash, slippage and commission, checked before any data is loaded (and so that a
    search does not fail point by point)."""
    if args.cash is not None and not (math.isfinite(args.cash) and args.cash > 0):
        raise UserError(f"--cash must be a number above 0, got {args.cash}")
    if args.slippage_bps is not None and not (math.isfinite(args.slippage_bps)
                                              and args.slippage_bps >= 0):
        raise UserError(f"--slippage-bps must be a number >= 0, got {args.slippage_bps}")
    if args.commission is not None and not 0 <= args.commission < 1:
        raise UserError(f"--commission must be a fraction in [0, 1), got {args.commission}")


def _config(args: argparse.Namespace, symbols: tuple[str, ...], timeframe: str,
            params: dict[str, Any]) -> BacktestConfig:
    kwargs: dict[str, Any] = {"commission": args.commission,
                              "slippage_bps": args.slippage_bps or 0.0}
    if args.cash is not None:
        kwargs["cash"] = args.cash
    return BacktestConfig(args.strategy, symbols, params, timeframe=timeframe, **kwargs)


def _gap_warnings(data: RunData) -> None:
    """A search's session gaps, said once (each of its runs would repeat them)."""
    for symbol, frame in data.frames.items():
        inst = data.instruments.get(symbol) or default_instrument(symbol)
        for message in session_gaps(frame, symbol, inst.calendar,
                                    Timeframe.parse(data.timeframe)):
            _warn(message)


def _metric_lines(metrics: dict[str, Any]) -> list[str]:
    pairs = [format_metric(k, v) for k, v in metrics.items()]
    width = max(len(label) for label, _ in pairs)
    return [f"  {label:<{width}}  {text}" for label, text in pairs]


def _database(args: argparse.Namespace, needed: bool) -> Any:
    return Database(args.db) if needed else nullcontext(None)


# ---- strategies ---------------------------------------------------------------------------------


def _range(p: dict[str, Any]) -> str:
    if p["choices"] is not None:
        return "one of " + ", ".join(map(str, p["choices"]))
    if p["low"] is None and p["high"] is None:
        return ""
    return f"[{p['low']}, {p['high']}]"


def _strategies(args: argparse.Namespace) -> int:
    items: list[dict[str, Any]] = []
    for name in strategy_names():
        cls = get_strategy(name)
        items.append({"name": name, "description": cls.description, "timeframe": cls.timeframe,
                      "params": [p.describe() for p in cls.params.values()],
                      "constraints": [str(c) for c in default_constraints(cls)]})
    if args.json:
        _print_json(items)
        return 0
    for item in items:
        print(f"{item['name']}: {item['description']}")
        rows = [(p["name"], p["type"], repr(p["default"]), _range(p), p["help"])
                for p in item["params"]]
        widths = [max(len(r[i]) for r in rows) for i in range(4)] if rows else []
        for r in rows:
            line = "  ".join(c.ljust(w) for c, w in zip(r[:4], widths, strict=True))
            print(f"  {line}  {r[4]}".rstrip())
        if item["constraints"]:
            print(f"  (searched with {', '.join(item['constraints'])})")
    return 0


# ---- backtest ------------------------------------------------------------------------------------


def _params(args: argparse.Namespace) -> dict[str, Any]:
    cls = strategy_class(args.strategy)
    given = assignments(_flat(args.param))
    check_param_names(cls, given)
    return cls.validate_params(given)


def _backtest(args: argparse.Namespace) -> int:
    params = _params(args)
    _check_settings(args)
    # Ctrl-C from here on cancels the run (once the bars are loaded) instead of killing it.
    with _database(args, args.save) as db, _ctrl_c() as stop:
        data = _load_all(args, db)
        funding = _funding(args)
        config = _config(args, data.symbols, data.timeframe, params)
        try:
            result = _run(db, config, data, funding, stop)
        except BacktestCancelled as exc:
            print(f"cancelled: {exc}", file=sys.stderr)
            return INTERRUPTED
        run_id = save_run(db, result, origin=data.origin) if db is not None else None
    _report_warnings(result)
    _outputs(args, result, data)
    if args.json:
        _print_json({
            "strategy": config.strategy, "symbol": data.label, "timeframe": data.timeframe,
            "data": data.origin, "params": result.config.params, "bars": result.bars,
            "warmup_bars": result.warmup_bars,
            "metrics": result.metrics.as_dict(), "warnings": result.warnings,
            "rejections": result.rejections, "venue_rejections": result.venue_rejections,
            "funding": str(sum(p.amount for p in result.funding)) if funding else None,
            "ticks": sum(len(t) for t in data.ticks.values()) if data.ticks else None,
            "run_id": run_id,
            "elapsed_s": round(result.elapsed_s, 4),
        })
        return 0
    print(f"{config.strategy} on {data.label} {data.timeframe}: "
          + " ".join(f"{k}={v}" for k, v in result.config.params.items()))
    print("\n".join(_metric_lines(result.metrics.as_dict())))
    if run_id is not None:
        print(f"saved as run {run_id} in {db}")
    return 0


def _funding(args: argparse.Namespace) -> dict[str, pd.Series]:
    """--funding PERP=FILE ...: each perpetual's rates."""
    out = {}
    for item in _flat(args.funding):
        symbol, sep, path = item.partition("=")
        if not sep or not symbol or not path:
            raise UserError(f"--funding {item!r}: give PERPETUAL=FILE, e.g. "
                            "BTC/USDT:USDT=funding.csv")
        out[symbol] = read_funding(path)
    return out


def _run(db: Database | None, config: BacktestConfig, data: RunData,
         funding: dict[str, pd.Series], stop: threading.Event) -> BacktestResult:
    """One backtest; a cancelled or failed run is recorded as such, never as complete."""
    try:
        return run_backtest(config, data.frames, instruments=data.instruments,
                            cancel=stop.is_set, warmup=data.history or None,
                            funding=funding or None, ticks=data.ticks or None)
    except UserError:
        raise
    except BacktestCancelled as exc:
        if db is not None:
            save_unfinished_run(db, config, str(exc), cancelled=True)
        raise
    except Exception as exc:
        if db is not None:
            save_unfinished_run(db, config, f"{type(exc).__name__}: {exc}")
        raise


def _report_warnings(result: BacktestResult) -> None:
    for message in result.warnings:
        _warn(message)
    if result.rejections:
        counts = ", ".join(f"{k}: {v}" for k, v in sorted(result.rejections.items()))
        _warn(f"{sum(result.rejections.values())} order(s) rejected by risk checks ({counts})")


def _outputs(args: argparse.Namespace, result: BacktestResult, data: RunData) -> None:
    if args.trades:
        rows = write_trades_csv(args.trades, result.trades)
        _info(args, f"wrote {rows} trades to {args.trades}")
    if args.report:
        write_html_report(args.report, html_report(result, origin=data.origin))
        _info(args, f"wrote the report to {args.report}")


# ---- optimize and walk-forward ----------------------------------------------------------------------


def _search_args(args: argparse.Namespace) -> dict[str, Any]:
    _check_settings(args)
    cls = strategy_class(args.strategy)
    fixed = assignments(_flat(args.param))
    check_param_names(cls, fixed)
    space = parse_space_args(_flat(args.grid))
    rules = [] if args.no_default_constraints else default_constraints(cls)
    rules += [parse_constraint(c, cls) for c in args.constraint or ()]
    if args.random is not None and args.random < 1:
        raise UserError(f"--random must be at least 1, got {args.random}")
    return {"space": space, "fixed": fixed, "constraints": rules,
            "method": "random" if args.random is not None else "grid",
            "n_iter": args.random or 0, "seed": args.seed, "workers": args.workers,
            "cluster": args.cluster, "maximize": False if args.minimize else None}


def _search_table(result: OptimizationResult, top: int) -> pd.DataFrame:
    columns = [*result.names, result.metric,
               *(c for c in SEARCH_COLUMNS if c != result.metric)]
    table = result.ranked()[columns].head(top)
    return table


def _describe_search(result: OptimizationResult) -> str:
    skipped = f", {result.skipped} skipped by constraints" if result.skipped else ""
    failed = f", {result.failed} failed" if result.failed else ""
    return (f"{result.method} search of {result.strategy}: {result.done} of {result.planned} "
            f"points{skipped}{failed}, on {result.backend}, {result.elapsed_s:.1f} s")


def _optimize(args: argparse.Namespace) -> int:
    search = _search_args(args)
    data = _load_all(args, None)
    funding = _funding(args)
    config = _config(args, data.symbols, data.timeframe, {})
    _gap_warnings(data)
    with _ctrl_c() as stop:
        result = optimize(args.strategy, data, search.pop("space"), args.metric, config=config,
                          progress=_progress(args, args.metric), cancel=stop,
                          funding=funding or None, **search)
    if result.failed:
        first = result.trials.loc[result.trials["error"] != "", "error"].iloc[0]
        _warn(f"{result.failed} of {result.done} points failed; the first: {first}")
    if args.results:
        result.ranked().to_csv(args.results)
        _info(args, f"wrote {result.done} points to {args.results}")
    best = result.best
    if args.json:
        _print_json({
            "strategy": args.strategy, "symbol": data.label, "timeframe": data.timeframe,
            "data": data.origin, "metric": result.metric, "maximize": result.maximize,
            "method": result.method, "planned": result.planned, "skipped": result.skipped,
            "done": result.done, "failed": result.failed, "cancelled": result.cancelled,
            "backend": result.backend, "elapsed_s": round(result.elapsed_s, 3),
            "best": None if best is None else {"params": best.params, "value": best.value},
            "trials": result.ranked().reset_index().to_dict(orient="records"),
        })
    else:
        print(_describe_search(result))
        table = _search_table(result, args.top)
        if not table.empty:
            with pd.option_context("display.width", 160, "display.max_columns", 20):
                print(table.to_string())
        if best is not None:
            print("best: " + " ".join(f"{k}={best.params[k]}" for k in result.names)
                  + f" ({result.metric} {best.value:.4g})")
        elif result.done:
            print(f"no point has a finite {result.metric}")
    if result.cancelled:
        print("cancelled: the table holds the points that finished", file=sys.stderr)
        return INTERRUPTED
    return 0 if best is not None or result.failed < result.done else 1


def _walkforward(args: argparse.Namespace) -> int:
    search = _search_args(args)
    data = _load_all(args, None)
    funding = _funding(args)
    config = _config(args, data.symbols, data.timeframe, {})
    _gap_warnings(data)
    with _ctrl_c() as stop:
        try:
            result = walk_forward(args.strategy, data, search.pop("space"), args.metric,
                                  train=args.train, test=args.test, anchored=args.anchored,
                                  config=config, progress=_progress(args, args.metric),
                                  cancel=stop, funding=funding or None, **search)
        except BacktestCancelled as exc:
            print(f"cancelled: {exc}", file=sys.stderr)
            return INTERRUPTED
    table = result.table()
    if args.trades:
        rows = write_trades_csv(args.trades, result.trades)
        _info(args, f"wrote {rows} out-of-sample trades to {args.trades}")
    if args.report:
        write_html_report(args.report, _walkforward_page(result, data, table))
        _info(args, f"wrote the report to {args.report}")
    if args.json:
        _print_json({
            "strategy": args.strategy, "symbol": data.label, "timeframe": data.timeframe,
            "data": data.origin, "metric": result.metric, "anchored": result.anchored,
            "train": args.train, "test": args.test, "cancelled": result.cancelled,
            "elapsed_s": round(result.elapsed_s, 3),
            "windows": table.reset_index().to_dict(orient="records"),
            "metrics": result.metrics.as_dict(),
        })
    else:
        kind = "anchored" if result.anchored else "rolling"
        print(f"walk-forward of {args.strategy} on {data.label} {data.timeframe}: "
              f"{len(result.windows)} {kind} windows (train {args.train}, test {args.test}), "
              f"params by {result.metric}, {result.elapsed_s:.1f} s")
        with pd.option_context("display.width", 200, "display.max_columns", 30):
            print(_window_text(table).to_string())
        print("out of sample:")
        print("\n".join(_metric_lines(result.metrics.as_dict())))
    if result.cancelled:
        print("cancelled: the results hold the windows that finished", file=sys.stderr)
        return INTERRUPTED
    return 0


def _window_text(table: pd.DataFrame) -> pd.DataFrame:
    out = table.drop(columns=["train_start", "note"]).copy()
    for col in ("train_end", "test_start", "test_end"):
        out[col] = out[col].dt.strftime("%Y-%m-%d")
    notes = table["note"][table["note"] != ""]
    for i, note in notes.items():
        _warn(f"window {i}: {note}")
    return out


def _walkforward_page(result: WalkForwardResult, data: RunData, table: pd.DataFrame) -> str:
    shown = table.drop(columns=["note"]).copy()
    for col in ("train_start", "train_end", "test_start", "test_end"):
        shown[col] = shown[col].dt.strftime("%Y-%m-%d")
    shown = shown.map(lambda v: f"{v:.4g}" if isinstance(v, float) else v)
    block = html_table(shown.reset_index().astype(str).to_numpy().tolist(),
                   ["window", *shown.columns])
    kind = "anchored" if result.anchored else "rolling"
    return render_html(
        title=f"Walk-forward: {result.strategy}", metrics=result.metrics.as_dict(),
        equity=result.equity, drawdown=result.drawdown, trades=result.trades,
        subtitle=[f"{data.label} {data.timeframe}, {len(result.windows)} {kind} windows, "
                  f"parameters chosen by {result.metric} on each train window; the curve "
                  f"is the test windows one after another",
                  f"data: {data.origin}"],
        sections=[("Windows", block)])


# ---- the parser -----------------------------------------------------------------------------------


def _run_options() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(add_help=False)
    p.add_argument("--strategy", required=True, metavar="NAME",
                   help="a built-in strategy (see `trading-terminal strategies`) or module:Class")
    p.add_argument("--data", required=True, nargs="+", metavar="FILE_OR_SYMBOL",
                   help="a .csv/.parquet file of bars or of trades (replayed tick by tick; "
                        "SYMBOL=FILE names its instrument), a symbol in "
                        "the database, or a bundled sample symbol (AAPL, MSFT, IBM, GOOG, "
                        "005930); several for a strategy that trades several symbols")
    p.add_argument("--symbol", help="the instrument of a data file (default: the file name)")
    p.add_argument("--timeframe", help="bar length: 1m, 5m, 1h, 1d, ... (default: the data's)")
    p.add_argument("--tz", metavar="ZONE", help="zone of times without an offset (default UTC)")
    p.add_argument("--from", dest="start", metavar="TIME", help="first bar open time, inclusive")
    p.add_argument("--to", dest="end", metavar="TIME",
                   help="last bar open time, inclusive (a date alone: the whole day)")
    p.add_argument("--param", nargs="+", action="append", metavar="NAME=VALUE",
                   help="strategy parameters (fixed ones, for a search)")
    p.add_argument("--commission", type=float, metavar="FRACTION",
                   help="per side, e.g. 0.0005 (default: the instrument's fee schedule)")
    p.add_argument("--cash", type=float, help="starting cash (default 100,000,000)")
    p.add_argument("--slippage-bps", type=float, metavar="BPS", help="slippage per fill")
    p.add_argument("--db", metavar="URL",
                   help="database: a SQLAlchemy URL or a SQLite file (default: the terminal's)")
    p.add_argument("--funding", nargs="+", action="append", metavar="PERP=FILE",
                   help="a perpetual's funding rates: a CSV of time,rate (e.g. "
                        "BTC/USDT:USDT=funding.csv); settled at those times")
    p.add_argument("--json", action="store_true", help="print the results as JSON")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress or notes on stderr")
    return p


def _search_options() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(add_help=False)
    p.add_argument("--grid", "--space", nargs="+", action="append", required=True,
                   metavar="NAME=SPEC",
                   help="search space: low:high[:step], a,b,c, or a name alone for its declared "
                        "range; e.g. --grid fast=5:20:5 slow=20,30,50")
    p.add_argument("--random", type=int, metavar="N",
                   help="draw N random points from the space instead of the whole grid")
    p.add_argument("--seed", type=int, help="random seed (the same seed draws the same points)")
    p.add_argument("--metric", default="sharpe",
                   help="rank by this metric (any numeric one; default sharpe)")
    p.add_argument("--minimize", action="store_true",
                   help="lower is better (automatic for drawdown, volatility, VaR, fees)")
    p.add_argument("--constraint", action="append", metavar="EXPR",
                   help="skip points breaking it, e.g. 'fast < slow' (repeatable)")
    p.add_argument("--no-default-constraints", action="store_true",
                   help="do not apply the strategy's own constraints (e.g. fast < slow)")
    p.add_argument("--workers", type=int, metavar="N",
                   help="local worker processes (default: one per CPU; 1 = no pool)")
    p.add_argument("--cluster", metavar="ADDRESS",
                   help="run on a Dask cluster instead, e.g. tcp://10.0.0.5:8786 "
                        "(pip install 'trading-terminal[cluster]')")
    return p


def register(sub: argparse._SubParsersAction) -> None:
    lst = sub.add_parser("strategies", help="list the built-in strategies and their parameters")
    lst.add_argument("--json", action="store_true", help="print as JSON")
    lst.set_defaults(func=_strategies)

    run, space = _run_options(), _search_options()
    bt = sub.add_parser("backtest", parents=[run], help="backtest a strategy on stored or "
                        "bundled bars", description="Run one backtest and print its metrics.")
    bt.add_argument("--report", metavar="HTML", help="write a self-contained HTML report")
    bt.add_argument("--trades", metavar="CSV", help="write the round-trip trades as CSV")
    bt.add_argument("--save", action=argparse.BooleanOptionalAction, default=True,
                    help="keep the run in the database's backtest history (default: yes)")
    bt.set_defaults(func=_backtest)

    opt = sub.add_parser("optimize", parents=[run, space], help="search strategy parameters",
                         description="Grid or random search, ranked by a metric.")
    opt.add_argument("--top", type=int, default=10, help="rows to print (default 10)")
    opt.add_argument("--results", metavar="CSV", help="write every point, ranked, as CSV")
    opt.set_defaults(func=_optimize)

    wf = sub.add_parser("walkforward", parents=[run, space],
                        help="walk-forward: optimise on train windows, trade the test windows",
                        description="Rolling (or anchored) train/test windows; the parameters "
                                    "of each test window are chosen on its train window only.")
    wf.add_argument("--train", required=True, help="train window: bars (500) or period (2Y)")
    wf.add_argument("--test", required=True, help="test window: bars (100) or period (6M)")
    wf.add_argument("--anchored", action="store_true",
                    help="train windows all start at the first bar and grow")
    wf.add_argument("--report", metavar="HTML", help="write a self-contained HTML report")
    wf.add_argument("--trades", metavar="CSV", help="write the out-of-sample trades as CSV")
    wf.set_defaults(func=_walkforward)
