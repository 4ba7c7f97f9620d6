"""``trading-terminal data import|export|list``: OHLCV files in and out of the database.

    trading-terminal data import samsung_1m.csv --symbol 005930 --timeframe 1m --tz Asia/Seoul
    trading-terminal data import btc_trades.csv --symbol BTC/USDT
    trading-terminal data export out.parquet --symbol 005930 --timeframe 1m --from 2024-01-02
    trading-terminal data list

The database is the user's (``--db`` takes a SQLAlchemy URL or a SQLite file path).
A file that breaks a rule is refused with its line numbers; nothing is imported.
A file of trades (time, price, size, side) stores its trades and the bars they
make (1m unless --timeframe): a backtest over those bars replays the trades.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from engine.data.io import check_timezone, export_bars, import_bars, parse_timeframe
from engine.data.trades_io import import_trades, is_trades_file
from engine.errors import UserError
from engine.storage import Database, bar_symbols, trade_symbols


def _open(args: argparse.Namespace) -> Database:
    return Database(args.db)


def _when(ts: pd.Timestamp, tz: str | None) -> str:
    local = ts.tz_convert(tz or "UTC")
    return local.strftime("%Y-%m-%d %H:%M:%S ") + (tz or "UTC")


def _calendar(db: Database, symbol: str) -> str:
    """The sessions bars of ``symbol`` are built on: its stored instrument's, else the
    backtest's default instrument's (what a run over these bars will assume)."""
    from engine.backtest.data_source import stored_instrument
    from engine.backtest.runner import default_instrument

    return (stored_instrument(db, symbol) or default_instrument(symbol)).calendar


def _import_trades(args: argparse.Namespace, tz: str | None) -> int:
    tf = parse_timeframe(args.timeframe or "1m")
    with _open(args) as db:
        s = import_trades(db, args.file, args.symbol, calendar=_calendar(db, args.symbol),
                          timeframe=tf, tz=tz, source=args.source)
    print(f"imported {s.trades:,} trades of {s.symbol} from {s.path} ({s.new:,} new, "
          f"{s.replaced:,} replaced): {_when(s.first, tz)} .. {_when(s.last, tz)}, and "
          f"{s.bars:,} {s.timeframe} bars built from them ({s.bars_replaced:,} replaced) "
          f"into {db}")
    return 0


def _import(args: argparse.Namespace) -> int:
    tz = check_timezone(args.tz)
    if not Path(args.file).is_file():
        raise UserError(f"{args.file}: no such file")
    if is_trades_file(args.file):
        return _import_trades(args, tz)
    if args.timeframe is None:
        raise UserError(f"{args.file}: give --timeframe for a file of bars (1m, 5m, 1h, 1d, "
                        "...); only a file of trades makes its own")
    tf = parse_timeframe(args.timeframe)
    with _open(args) as db:
        s = import_bars(db, args.file, args.symbol, tf, tz=tz, source=args.source)
    print(f"imported {s.rows:,} {s.timeframe} bars of {s.symbol} from {s.path} "
          f"({s.new:,} new, {s.replaced:,} replaced): "
          f"{_when(s.first, tz)} .. {_when(s.last, tz)} into {db}")
    return 0


def _export(args: argparse.Namespace) -> int:
    tz = check_timezone(args.tz)
    tf = parse_timeframe(args.timeframe)
    with _open(args) as db:
        s = export_bars(db, args.symbol, tf, args.file, start=args.start, end=args.end, tz=tz)
    print(f"exported {s.rows:,} {tf} bars of {args.symbol} to {s.path}: "
          f"{_when(s.first, tz)} .. {_when(s.last, tz)}")
    return 0


def _list(args: argparse.Namespace) -> int:
    tz = check_timezone(args.tz)
    with _open(args) as db:
        series = bar_symbols(db)
        ticks = trade_symbols(db)
    if not series and not ticks:
        print(f"no bars stored in {db}; add some with `trading-terminal data import`")
        return 0
    if series:
        _table([("symbol", "timeframe", "first", "last", "bars")] +
               [(s.symbol, s.timeframe, _when(s.first, tz), _when(s.last, tz), f"{s.count:,}")
                for s in series])
    if ticks:
        if series:
            print()
        _table([("symbol", "first trade", "last trade", "trades")] +
               [(s.symbol, _when(s.first, tz), _when(s.last, tz), f"{s.count:,}")
                for s in ticks])
    return 0


def _table(rows: Sequence[tuple[str, ...]]) -> None:
    """Columns padded to their widest cell; the last (a count) right-aligned."""
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for r in rows:
        print("  ".join(cell.rjust(w) if i == len(r) - 1 else cell.ljust(w)
                        for i, (cell, w) in enumerate(zip(r, widths, strict=True))).rstrip())


def register(sub: argparse._SubParsersAction) -> None:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--db", metavar="URL",
                        help="database: a SQLAlchemy URL (postgresql+psycopg://...) or a SQLite "
                             "file (default: the terminal's own database)")
    def series(timeframe_help: str, required: bool) -> argparse.ArgumentParser:
        parent = argparse.ArgumentParser(add_help=False)
        parent.add_argument("--symbol", required=True,
                            help="instrument symbol, e.g. 005930 or BTC/USDT")
        parent.add_argument("--timeframe", required=required, help=timeframe_help)
        parent.add_argument("--tz", metavar="ZONE",
                            help="IANA timezone, e.g. Asia/Seoul, America/New_York, UTC")
        return parent

    parser = sub.add_parser("data", help="import, export and list stored OHLCV bars and trades")
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)

    imp = actions.add_parser(
        "import", parents=[common, series("bar length: 1m, 5m, 15m, 1h, 1d, ... (required "
                                          "for bars; for trades, the bars to build, "
                                          "default 1m)", required=False)],
        help="import bars or trades from a CSV or Parquet file",
        description="Validate the whole file, then store its bars in one transaction "
                    "(bars at the same times are replaced). Times without a UTC offset "
                    "need --tz. A file of trades (time, price, size or qty, optional side) "
                    "stores its trades and the bars built from them; a backtest over "
                    "those bars replays the trades.")
    imp.add_argument("file", help="a .csv or .parquet file of bars or of trades")
    imp.add_argument("--source", default="import", help="label stored with the bars")
    imp.set_defaults(func=_import)

    exp = actions.add_parser(
        "export", parents=[common, series("bar length: 1m, 5m, 15m, 1h, 1d, ...", True)],
        help="export stored bars to a CSV or Parquet file",
        description="Write stored bars to FILE (.csv or .parquet); times are written "
                    "in --tz (default UTC) with their offset.")
    exp.add_argument("file", help="destination .csv or .parquet file (replaced if it exists)")
    exp.add_argument("--from", dest="start", metavar="TIME",
                     help="first bar open time, inclusive (read in --tz, default UTC)")
    exp.add_argument("--to", dest="end", metavar="TIME", help="last bar open time, inclusive")
    exp.set_defaults(func=_export)

    lst = actions.add_parser("list", parents=[common],
                             help="list stored symbols and timeframes, and stored trades")
    lst.add_argument("--tz", metavar="ZONE", help="show times in this timezone (default UTC)")
    lst.set_defaults(func=_list)
