"""``trading-terminal paper``: a headless session, on the replay feed or a configured venue.

    trading-terminal paper --strategy hybrid --speed max --json
    trading-terminal paper --strategy sma_cross --symbol AAPL --param fast=5 --param slow=20 \\
        --from 2013-02-25 --until 2013-02-27T21:00
    trading-terminal paper --broker binance-testnet --symbol BTC/USDT --strategy sma_cross \\
        --until 30m

Without --broker (or with --broker paper): the same session as the window's
(settings, risk limits, paper venue, replay of the stored or bundled bars),
without Qt. With --broker NAME (binance, binance-testnet, kiwoom: see
`trading-terminal venues`): the venue's live market on the wall clock, real
orders at that venue (its testnet or demo unless live = true is set for it),
until --until (a duration such as 30s, 5m, 2h, or a UTC time) or Ctrl+C; the
session's open orders are then cancelled (unless --keep-orders).

Orders and fills go to a throw-away journal unless --journal names a database.
It prints a summary: orders by state, fills, rejections by reason, PnL per
account and the final positions; ``--json`` prints it as JSON.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from engine.errors import UserError
from engine.settings import load_settings
from engine.storage import Database
from terminal.commands._args import assignments


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("paper", help="run a headless paper session on the replay feed",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--strategy", action="append", default=[], metavar="NAME",
                   help="strategy to run (repeatable; `trading-terminal strategies` lists them)")
    p.add_argument("--symbol", action="append", default=[], metavar="SYM",
                   help="symbol to replay (repeatable; default: [replay] symbols)")
    p.add_argument("--strategy-symbol", action="append", default=[], metavar="SYM",
                   help="symbol the strategies trade (default: the first replayed one)")
    p.add_argument("--param", action="append", default=[], metavar="NAME=VALUE",
                   help="strategy parameter (repeatable)")
    p.add_argument("--speed", help="replay: 1x, 10x, 60x or max (default: max)")
    p.add_argument("--from", dest="start", metavar="DATE", help="replay: first replayed day (UTC)")
    p.add_argument("--until", metavar="TIME",
                   help="replay: stop at this time (UTC); a venue: stop after this long "
                        "(30s, 5m, 2h) or at this UTC time (default: Ctrl+C)")
    p.add_argument("--sessions", type=int,
                   help="replay without --from: the last N days of the data (default 3)")
    p.add_argument("--broker", default="paper",
                   help="paper (the replay, default) or a configured venue such as binance or "
                        "binance-testnet (`trading-terminal venues` lists them)")
    p.add_argument("--keep-orders", action="store_true",
                   help="a venue: leave this session's open orders resting when it ends "
                        "(default: cancel them)")
    p.add_argument("--connect-timeout", type=float, default=30.0, metavar="SECONDS",
                   help="a venue: give up connecting after this long (default 30)")
    p.add_argument("--db", metavar="URL", help="SQLAlchemy URL or SQLite file (default: settings)")
    p.add_argument("--journal", metavar="URL",
                   help="keep this run's orders and fills in this database (default: a "
                        "throw-away one, so runs never mix with the window's paper account)")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    p.set_defaults(func=run)


def _checked_params(args: argparse.Namespace) -> dict[str, str]:
    from engine.strategy.registry import get_strategy

    params = assignments(args.param)
    for name in args.strategy:
        cls = get_strategy(name)  # unknown names: a UserError listing the known ones
        if params:
            cls.validate_params(params)
    return params


def run(args: argparse.Namespace) -> int:
    from engine.session import SessionOptions, TradingSession, speed_choice

    if args.broker != "paper":
        return _run_venue(args)
    if args.keep_orders:
        raise UserError("--keep-orders: only with --broker NAME (a venue); the replayed paper "
                        "venue never keeps orders between runs")
    sessions = 3 if args.sessions is None else args.sessions
    if sessions < 1:
        raise UserError(f"--sessions {args.sessions}: must be at least 1")
    params = _checked_params(args)
    settings = load_settings(args.config)
    options = SessionOptions(
        symbols=tuple(args.symbol), speed=speed_choice(args.speed or "max"), start=args.start,
        until=args.until, replay_sessions=sessions, strategies=tuple(args.strategy),
        params=params, strategy_symbols=tuple(args.strategy_symbol))
    database = Database(args.db) if args.db else None
    with tempfile.TemporaryDirectory(prefix="tt-paper-") as scratch:
        journal = Database(args.journal or Path(scratch) / "journal.sqlite3")
        session = TradingSession(settings, options, database=database, journal_database=journal,
                                 resume_replay=bool(args.journal))
        try:
            summary = asyncio.run(_run(session))
        finally:
            session.close()
    return _report(args, summary)


def _report(args: argparse.Namespace, summary: dict[str, Any]) -> int:
    if args.json:
        print(json.dumps(summary, indent=2, default=str))
    else:
        _print(summary)
    return 0


async def _run(session: Any) -> dict[str, Any]:
    loop = asyncio.get_running_loop()
    try:  # Ctrl+C ends the replay and still prints what happened
        loop.add_signal_handler(signal.SIGINT, session.feed.stop)
    except (NotImplementedError, RuntimeError):
        pass
    return await session.run_to_end()


# ---- a configured venue ---------------------------------------------------------------
def _run_venue(args: argparse.Namespace) -> int:
    from engine.live_session import LiveOptions, LiveSession, parse_until
    from engine.settings import install_redaction

    replay_only = [flag for flag, value in (("--speed", args.speed), ("--from", args.start),
                                            ("--sessions", args.sessions), ("--db", args.db))
                   if value is not None]
    if replay_only:
        raise UserError(f"{', '.join(replay_only)}: only for the replayed paper venue; "
                        f"--broker {args.broker} trades that venue's market as it happens")
    if args.connect_timeout <= 0:
        raise UserError(f"--connect-timeout {args.connect_timeout:g}: must be more than 0")
    params = _checked_params(args)
    if not args.symbol and not args.strategy_symbol:
        raise UserError(f"--symbol: name the {args.broker} symbol to trade or watch, "
                        "e.g. --symbol BTC/USDT")
    if args.until:
        parse_until(args.until, time.time_ns())
    install_redaction()  # keys are read from here on: never in a log line
    settings = load_settings(args.config)
    options = LiveOptions(
        symbols=tuple(args.symbol), strategies=tuple(args.strategy), params=params,
        strategy_symbols=tuple(args.strategy_symbol), until=args.until,
        keep_orders=args.keep_orders, connect_timeout_s=args.connect_timeout)
    with tempfile.TemporaryDirectory(prefix="tt-venue-") as scratch:
        journal = Database(args.journal or Path(scratch) / "journal.sqlite3")
        try:
            session = LiveSession(settings, args.broker, options, journal_database=journal)
        except BaseException:
            journal.close()
            raise
        try:
            if session.broker.live:
                print(f"LIVE: {args.broker} trades REAL MONEY (live = true in "
                      f"[brokers.{session.section}])", file=sys.stderr)
            summary = asyncio.run(_run_live(session))
        finally:
            session.close()
    return _report(args, summary)


async def _run_live(session: Any) -> dict[str, Any]:
    loop = asyncio.get_running_loop()

    def stop(why: str) -> None:
        print(f"{why}: stopping; cancelling this session's open orders "
              "(Ctrl+C again quits at once)", file=sys.stderr)
        session.request_stop(why)
        loop.remove_signal_handler(signal.SIGINT)  # a second Ctrl+C: KeyboardInterrupt

    try:
        loop.add_signal_handler(signal.SIGINT, stop, "Ctrl+C")
        loop.add_signal_handler(signal.SIGTERM, stop, "SIGTERM")
    except (NotImplementedError, RuntimeError):  # Windows' default loop: Ctrl+C still ends it
        pass
    try:
        return await session.run()
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            try:
                loop.remove_signal_handler(sig)
            except (NotImplementedError, RuntimeError):
                pass


def _print(s: dict[str, Any]) -> None:
    venue = s.get("venue")
    if venue:
        md = venue["market_data"]
        print(f"{venue['broker']} ({venue['mode']}) {', '.join(s['symbols'])}: "
              f"{s['replay']['from']} .. {s['replay']['to']} ({md['ticks']:,} trades, "
              f"{md['bars']:,} bars, {md['books']:,} book updates); ended by "
              f"{venue['stopped_by']}")
    else:
        print(f"replayed {', '.join(s['symbols'])}: {s['replay']['from']} .. "
              f"{s['replay']['to']} ({s['replay']['events']:,} events)")
    for sid, state in s["strategies"].items():
        print(f"strategy {sid}: {state}")
    orders = s["orders"]
    states = ", ".join(f"{k} {v}" for k, v in orders.items() if k != "total") or "none"
    print(f"orders: {orders['total']} ({states}); fills: {s['fills']}")
    if s["rejections"]:
        print("rejections: " + ", ".join(f"{k} {v}" for k, v in s["rejections"].items()))
    for broker, acct in s["accounts"].items():
        print(f"account {broker}: cash {acct['cash']} {acct['currency']}, equity "
              f"{acct['equity']}, realized {acct['realized_pnl']}, fees {acct['fees']}")
    for p in s["positions"]:
        print(f"position {p['broker']} {p['symbol']}: {p['quantity']} @ {p['avg_price']}")
    if s["kill_switch"]["latched"]:
        print("KILL SWITCH LATCHED")
    if venue and venue["left_open"]:
        why = "--keep-orders" if venue["kept_orders"] else "cancel not confirmed"
        print(f"LEFT OPEN at {venue['broker']} ({why}): {', '.join(venue['left_open'])}")
