"""``trading-terminal paper``: a headless paper session on the replay feed.

    trading-terminal paper --strategy hybrid --speed max --json
    trading-terminal paper --strategy sma_cross --symbol AAPL --param fast=5 --param slow=20 \\
        --from 2013-02-25 --until 2013-02-27T21:00

The same session as the window's (settings, journal in the user's database,
risk limits, paper venue, replay of the stored or bundled bars), without Qt.
It prints a summary: orders by state, fills, rejections by reason, PnL per
account and the final positions; ``--json`` prints it as JSON.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import tempfile
from pathlib import Path
from typing import Any

from engine.errors import UserError
from engine.settings import load_settings
from engine.storage import Database


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
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
    p.add_argument("--speed", default="max", help="1x, 10x, 60x or max (default: max)")
    p.add_argument("--from", dest="start", metavar="DATE", help="first replayed day (UTC)")
    p.add_argument("--until", metavar="TIME", help="stop the replay at this time (UTC)")
    p.add_argument("--sessions", type=int, default=3,
                   help="without --from: replay the last N days of the data (default 3)")
    p.add_argument("--broker", default="paper",
                   help="broker to trade (only the paper venue replays data; default paper)")
    p.add_argument("--db", metavar="URL", help="SQLAlchemy URL or SQLite file (default: settings)")
    p.add_argument("--journal", metavar="URL",
                   help="keep this run's orders and fills in this database (default: a "
                        "throw-away one, so runs never mix with the window's paper account)")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    p.set_defaults(func=run)


def _params(items: list[str]) -> dict[str, str]:
    out = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise UserError(f"--param {item!r}: write NAME=VALUE, e.g. fast=10")
        out[name.strip()] = value.strip()
    return out


def run(args: argparse.Namespace) -> int:
    from engine.session import SessionOptions, TradingSession, speed_choice
    from engine.strategy.registry import get_strategy

    if args.broker != "paper":
        raise UserError(f"--broker {args.broker!r}: a headless session against a live venue "
                        "needs its adapter configured under [brokers]; only 'paper' is "
                        "available in this build")
    if args.sessions < 1:
        raise UserError(f"--sessions {args.sessions}: must be at least 1")
    params = _params(args.param)
    for name in args.strategy:
        cls = get_strategy(name)  # unknown names: a UserError listing the known ones
        if params:
            cls.validate_params({k: v for k, v in params.items()})
    settings = load_settings(args.config)
    options = SessionOptions(
        symbols=tuple(args.symbol), speed=speed_choice(args.speed), start=args.start,
        until=args.until, replay_sessions=args.sessions, strategies=tuple(args.strategy),
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


def _print(s: dict[str, Any]) -> None:
    print(f"replayed {', '.join(s['symbols'])}: {s['replay']['from']} .. {s['replay']['to']} "
          f"({s['replay']['events']:,} events)")
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
