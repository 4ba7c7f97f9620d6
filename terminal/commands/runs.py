"""``trading-terminal runs``: the backtests kept in the database, and one of them in full.

    trading-terminal runs                          # newest 20: id, time, strategy, data, result
    trading-terminal runs --strategy sma_cross --symbol AAPL --status complete --limit 50
    trading-terminal runs show 12 [--trades t.csv] [--json]
    trading-terminal runs delete 12

The same runs the terminal's backtest panel lists (``backtest`` saves each run
unless ``--no-save``); a failed or cancelled run shows its status and why.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from engine.backtest.report import format_metric, write_trades_csv
from engine.backtest.store import RunSummary, delete_run, json_safe, list_runs, load_run
from engine.errors import UserError
from engine.storage import Database

SHOWN = ("total_return_pct", "sharpe", "max_drawdown_pct", "trades")


def _row(run: RunSummary) -> dict[str, Any]:
    return {"id": run.id, "created": str(run.created), "strategy": run.strategy,
            "symbol": run.symbol, "timeframe": run.timeframe, "params": run.params,
            "start": None if run.start is None else str(run.start),
            "end": None if run.end is None else str(run.end), "status": run.status,
            "metrics": run.metrics, "error": run.error}


def _list(args: argparse.Namespace) -> int:
    if args.limit < 1:
        raise UserError(f"--limit must be at least 1, got {args.limit}")
    with Database(args.db) as db:
        runs = list_runs(db, strategy=args.strategy, symbol=args.symbol, status=args.status,
                         limit=args.limit)
    if args.json:
        print(json.dumps(json_safe([_row(r) for r in runs]), indent=2))
        return 0
    if not runs:
        print("no backtest runs stored" + (" that match" if args.strategy or args.symbol
                                            or args.status else ""))
        return 0
    for run in runs:
        if run.metrics is not None:
            result = "  ".join("{}: {}".format(*format_metric(k, run.metrics.get(k)))
                               for k in SHOWN)
        else:
            result = f"{run.status}: {run.error}" if run.error else run.status
        print(f"{run.id:>5}  {run.created:%Y-%m-%d %H:%M}  {run.strategy} on {run.symbol} "
              f"{run.timeframe}  {result}")
    return 0


def _show(args: argparse.Namespace) -> int:
    with Database(args.db) as db:
        run = load_run(db, args.id)
    if args.trades:
        write_trades_csv(args.trades, run.trades)
    if args.json:
        print(json.dumps(json_safe({**_row(run.summary), "config": run.config,
                                    "origin": run.origin, "warnings": run.warnings,
                                    "trades": len(run.trades)}), indent=2))
        return 0
    s = run.summary
    print(f"run {s.id}: {s.strategy} on {s.symbol} {s.timeframe}, {s.status}, saved {s.created}")
    print(f"  data: {run.origin or 'unknown'}; {s.start} .. {s.end}")
    print("  params: " + " ".join(f"{k}={v}" for k, v in s.params.items()))
    for key, value in (s.metrics or {}).items():
        label, text = format_metric(key, value)
        print(f"  {label:<24} {text}")
    for message in run.warnings:
        print(f"  warning: {message}")
    if s.error:
        print(f"  {s.status}: {s.error}")
    return 0


def _delete(args: argparse.Namespace) -> int:
    with Database(args.db) as db:
        if not delete_run(db, args.id):
            raise UserError(f"no backtest run {args.id} in {db}")
    print(f"deleted run {args.id}")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    runs = sub.add_parser("runs", help="backtest runs kept in the database",
                          description="List stored backtest runs, or show or delete one.")
    runs.add_argument("--db", metavar="URL", help="database (default: the terminal's)")
    runs.add_argument("--strategy", help="only this strategy's runs")
    runs.add_argument("--symbol", help="only runs on this symbol (several: AAPL,MSFT)")
    runs.add_argument("--status", choices=("complete", "failed", "cancelled", "running"))
    runs.add_argument("--limit", type=int, default=20, help="newest N (default 20)")
    runs.add_argument("--json", action="store_true", help="print as JSON")
    runs.set_defaults(func=_list)
    actions = runs.add_subparsers(dest="action", metavar="ACTION")
    show = actions.add_parser("show", help="one run's settings, metrics and warnings")
    show.add_argument("id", type=int)
    show.add_argument("--trades", metavar="CSV", help="write its round trips as CSV")
    show.add_argument("--json", action="store_true", help="print as JSON")
    show.add_argument("--db", metavar="URL", default=argparse.SUPPRESS, help="database")
    show.set_defaults(func=_show)
    delete = actions.add_parser("delete", help="remove one run and its trades")
    delete.add_argument("id", type=int)
    delete.add_argument("--db", metavar="URL", default=argparse.SUPPRESS, help="database")
    delete.set_defaults(func=_delete)
