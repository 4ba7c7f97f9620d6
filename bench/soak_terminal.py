"""Soak test: what a user meets after running the terminal for a long time (offscreen).

1. GUI soak. The real window (``terminal.composition.build_window``, as
   ``terminal/app.py`` builds it) on a qasync loop, the replay at ``[replay] speed =
   "max"`` from the first bundled day, with seed 004's ``hybrid`` and ``sma_cross``
   running on every replayed symbol. The window's own session runs ``hybrid`` on the
   first symbol, not started; this script swaps ``composition.build_session`` for one
   whose ``SessionOptions`` name both strategies on all symbols and start them (the
   rest of the window is built unchanged). Every ``--interval`` seconds it samples
   RSS, gc counts (and ``len(gc.get_objects())`` every few samples), event-loop lag
   (lateness of a 50 ms asyncio timer), orders/fills, the rows of the open-orders,
   fills and log panels and the bars in the chart; then prints the samples, the
   growth per minute, and the engine/widget containers that grew the most.
2. End checks: every fill published on the bus is in the journal exactly once; the
   ledger's positions and cash equal those rebuilt from the journal's fills; the
   warnings and errors logged (grouped); no strategy in the ``error`` state.
3. Restart: a new session on the same home and journal: positions and cash as
   before, no fill applied twice, the replay going on from where it stopped.
4. Headless: ``trading-terminal paper --strategy hybrid --speed max --json
   --journal J --sessions 100`` (all the bundled days) twice on one journal, then once
   on a fresh journal; the summaries compared and the journal checked.

    python bench/soak_terminal.py [--minutes 6] [--interval 5] [--skip-headless]
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import gc
import json
import logging
import os
import statistics
import subprocess
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

ROOT = Path(__file__).resolve().parents[1]
STRATEGIES = ("hybrid", "sma_cross")
PAGE = os.sysconf("SC_PAGE_SIZE")


# ---- small probes ---------------------------------------------------------------------
def rss_mb() -> float:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * PAGE / 2**20


class WarningCapture(logging.Handler):
    """Every WARNING+ record, grouped by logger, message template and exception type."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.groups: collections.Counter[tuple[str, str, str]] = collections.Counter()
        self.first: dict[tuple[str, str, str], str] = {}

    def emit(self, record: logging.LogRecord) -> None:
        exc = record.exc_info[0].__name__ if record.exc_info and record.exc_info[0] else ""
        key = (f"{record.levelname} {record.name}", str(record.msg)[:120], exc)
        self.groups[key] += 1
        if key not in self.first:
            text = record.getMessage()
            if record.exc_info:
                text += "\n" + logging.Formatter().formatException(record.exc_info)
            self.first[key] = text[-1500:]

    def report(self, title: str) -> None:
        total = sum(self.groups.values())
        print(f"\n{title}: {total} warning/error records in {len(self.groups)} groups")
        for key, n in self.groups.most_common():
            print(f"  {n:6d} x {key[0]}: {key[1]!r}{' [' + key[2] + ']' if key[2] else ''}")
            print("           first: " + self.first[key].replace("\n", "\n           "))


_CONTAINERS = (list, dict, set, collections.deque, frozenset)
_OUR_MODULES = ("engine", "widgets", "terminal", "brokers")


def container_sizes(roots: dict[str, Any], max_depth: int = 5,
                    max_nodes: int = 50_000) -> dict[str, int]:
    """len() of every list/dict/set/deque reachable through our objects' attributes.

    Walks ``vars()`` of engine/widgets/terminal/brokers objects (and their dict
    values / list items that are such objects) so a container that only grows shows
    up by its attribute path, e.g. ``session.engine.oms._orders``.
    """
    out: dict[str, int] = {}
    seen: set[int] = set()
    # Breadth first: each container is named by its shortest path from the roots.
    stack = collections.deque((name, obj, 0) for name, obj in roots.items())
    while stack and len(seen) < max_nodes:
        path, obj, depth = stack.popleft()
        if id(obj) in seen:
            continue
        seen.add(id(obj))
        if isinstance(obj, _CONTAINERS):
            out[path] = len(obj)
            if depth >= max_depth:
                continue
            items = list(obj.items())[:50] if isinstance(obj, dict) else \
                [(i, v) for i, v in enumerate(list(obj)[:50])]
            for k, v in items:
                if _ours(v) or (isinstance(v, _CONTAINERS) and isinstance(obj, dict)):
                    stack.append((f"{path}[{str(k)[:30]}]", v, depth + 1))
            continue
        if not _ours(obj) or depth >= max_depth:
            continue
        try:
            attrs = vars(obj)
        except TypeError:
            attrs = {s: getattr(obj, s) for s in getattr(type(obj), "__slots__", ())
                     if hasattr(obj, s)}
        for k, v in attrs.items():
            if _ours(v) or isinstance(v, _CONTAINERS):
                stack.append((f"{path}.{k}", v, depth + 1))
    return out


def _ours(obj: Any) -> bool:
    mod = type(obj).__module__ or ""
    return mod.split(".")[0] in _OUR_MODULES and not isinstance(obj, type)


# ---- settings and session wiring ------------------------------------------------------------
def first_bundled_day() -> str:
    from engine.data.sample import load_daily

    return load_daily("AAPL").index[-20].strftime("%Y-%m-%d")  # demo_universe(days=20)


def write_user_settings(home: Path, start: str) -> None:
    cfg = home / "config"
    cfg.mkdir(parents=True, exist_ok=True)
    (cfg / "settings.toml").write_text(f'[replay]\nspeed = "max"\nstart = "{start}"\n')


def patch_strategies() -> None:
    """The window's session with both strategies on every symbol, started (see module doc)."""
    from engine.session import SessionOptions, TradingSession
    from terminal import composition

    def build_session(settings, args=None):  # type: ignore[no-untyped-def]
        options = SessionOptions(speed=getattr(args, "speed", None), strategies=STRATEGIES,
                                 strategy_symbols=tuple(settings.replay.symbols),
                                 start_strategies=True)
        return TradingSession(settings, options)

    composition.build_session = build_session


# ---- the GUI soak ------------------------------------------------------------------------------
class Soak:
    def __init__(self, window: Any, services: Any, interval: float, minutes: float,
                 idle_after_end: float) -> None:
        self.window, self.services = window, services
        self.session = services.session
        self.interval, self.minutes, self.idle_after_end = interval, minutes, idle_after_end
        self.samples: list[dict[str, Any]] = []
        self.lags: list[float] = []
        self.all_lags: list[float] = []
        self.bus_fills: list[Any] = []
        self.probe_start: dict[str, int] = {}
        self.probe_end: dict[str, int] = {}
        self.data_end_wall: float | None = None
        from engine.models import FillEvent

        self.session.engine.bus.subscribe(FillEvent, lambda e: self.bus_fills.append(e.fill))

    async def lag_monitor(self, stop: asyncio.Event) -> None:
        period = 0.05
        while not stop.is_set():
            t = time.perf_counter()
            await asyncio.sleep(period)
            lag = (time.perf_counter() - t - period) * 1e3
            self.lags.append(lag)
            self.all_lags.append(lag)

    def sample(self, t0: float, k: int) -> dict[str, Any]:
        s, w = self.session, self.window
        lags = sorted(self.lags) or [0.0]
        self.lags = []
        n_objects = None
        if k % 6 == 0:
            t = time.perf_counter()
            n_objects = len(gc.get_objects())
            gc_ms = (time.perf_counter() - t) * 1e3
        else:
            gc_ms = 0.0
        chart = w.panels["chart"] if "chart" in w.panels else w.centralWidget()
        log_panel = w.panels["log"]
        progress = s.feed.progress
        return {
            "t": time.perf_counter() - t0, "rss": rss_mb(), "gc": gc.get_count(),
            "objects": n_objects, "objects_ms": gc_ms,
            "lag_p50": statistics.median(lags), "lag_p99": lags[int(len(lags) * 0.99)],
            "lag_max": lags[-1], "orders": len(s.engine.oms.orders()),
            "open": len(s.engine.oms.open_orders()), "fills": len(self.bus_fills),
            "t_orders": w.panels["orders"].model.rowCount(),
            "t_fills": w.panels["fills"].model.rowCount(),
            "t_pos": w.panels["positions"].model.rowCount(),
            "t_risk": w.panels["risk"].events.rowCount(),
            "log_lines": log_panel.view.blockCount(), "log_deque": len(log_panel.lines),
            "chart_bars": chart.series.n, "chart_fills": len(chart._fills),
            "chart_signals": len(chart._signals),
            "notices": len(w.notifier.sent) if getattr(w, "notifier", None) else 0,
            "sim": progress.ts_ns, "events": progress.events, "done": progress.finished,
        }

    def roots(self) -> dict[str, Any]:
        w = self.window
        roots: dict[str, Any] = {"session": self.session, "bridge": w.ctx.bridge,
                                 "notifier": getattr(w, "notifier", None)}
        roots["chart"] = w.panels["chart"]  # before the backtest panel, which holds it too
        for name, panel in w.panels.items():
            inner = panel.widget() if hasattr(panel, "widget") and callable(panel.widget) \
                and _ours(panel.widget()) else panel
            roots[f"panel.{name}"] = inner
        return {k: v for k, v in roots.items() if v is not None}

    async def run(self) -> None:
        stop = asyncio.Event()
        monitor = asyncio.ensure_future(self.lag_monitor(stop))
        t0 = time.perf_counter()
        end = t0 + self.minutes * 60
        k = 0
        while True:
            await asyncio.sleep(self.interval)
            row = self.sample(t0, k)
            k += 1
            self.samples.append(row)
            _print_row(row, header=k == 1)
            if k == 2:
                self.probe_start = container_sizes(self.roots())
            now = time.perf_counter()
            if row["done"] and self.data_end_wall is None:
                self.data_end_wall = now
                print(f"-- the replay data ended after {now - t0:.0f} s; sampling "
                      f"{self.idle_after_end:.0f} s more of the idle window", flush=True)
            if now >= end or (self.data_end_wall is not None
                              and now - self.data_end_wall >= self.idle_after_end):
                break
        self.probe_end = container_sizes(self.roots())
        stop.set()
        await monitor


def _print_row(r: dict[str, Any], header: bool = False) -> None:
    if header:
        print(f"{'t s':>6} {'RSS MB':>7} {'objects':>9} {'lag p50/p99/max ms':>20} "
              f"{'orders':>7} {'open':>5} {'fills':>6} {'tOrd':>5} {'tFill':>6} {'tPos':>5} "
              f"{'tRisk':>5} {'log':>5} {'bars':>6} {'chFill':>6} {'chSig':>6} {'notif':>5} {'events':>9} "
              f"sim time", flush=True)
    import pandas as pd

    objs = f"{r['objects']:,}" if r["objects"] else "-"
    lag = f"{r['lag_p50']:.0f}/{r['lag_p99']:.0f}/{r['lag_max']:.0f}"
    sim = pd.Timestamp(r["sim"], tz="UTC").strftime("%m-%d %H:%M") if r["sim"] else "-"
    print(f"{r['t']:6.0f} {r['rss']:7.1f} {objs:>9} {lag:>20} {r['orders']:7d} {r['open']:5d} "
          f"{r['fills']:6d} {r['t_orders']:5d} {r['t_fills']:6d} {r['t_pos']:5d} {r['t_risk']:5d} "
          f"{r['log_lines']:5d} {r['chart_bars']:6d} {r['chart_fills']:6d} "
          f"{r['chart_signals']:6d} {r['notices']:5d} {r['events']:9,} {sim}"
          f"{' END' if r['done'] else ''}", flush=True)


def growth_report(samples: list[dict[str, Any]]) -> None:
    """Growth per wall minute over the replay (from the 2nd sample: after warm-up)."""
    import numpy as np

    active = [s for s in samples if not s["done"]] or samples
    if len(active) < 3:
        active = samples
    base = active[1] if len(active) > 2 else active[0]
    last = active[-1]
    minutes = max((last["t"] - base["t"]) / 60, 1e-9)
    print(f"\ngrowth per wall minute while replaying ({base['t']:.0f} s .. {last['t']:.0f} s; "
          f"slope of a least-squares line, and last - first):")
    for key in ("rss", "objects", "orders", "fills", "t_orders", "t_fills", "t_pos", "t_risk",
                "log_lines", "events", "chart_bars", "chart_fills", "chart_signals", "notices",
                "lag_p50", "lag_p99"):
        pts = [(s["t"], s[key]) for s in active if s[key] is not None and s["t"] >= base["t"]]
        if len(pts) < 2:
            continue
        xs, ys = np.array(pts, dtype=float).T
        slope = np.polyfit(xs / 60, ys, 1)[0]
        print(f"  {key:14s} {slope:12,.1f}/min   ({ys[0]:,.1f} -> {ys[-1]:,.1f})")
    idle = [s for s in samples if s["done"]]
    if len(idle) >= 3:
        xs = np.array([s["t"] for s in idle]) / 60
        for key in ("rss", "lag_p99"):
            slope = np.polyfit(xs, np.array([s[key] for s in idle], dtype=float), 1)[0]
            print(f"  idle (data ended) {key}: {slope:,.2f}/min over {len(idle)} samples")
    print(f"  wall minutes measured: {minutes:.1f}")


def container_report(before: dict[str, int], after: dict[str, int], top: int = 25) -> None:
    grew = sorted(((after[k] - before.get(k, 0), k) for k in after if after[k] > before.get(k, 0)),
                  reverse=True)
    print(f"\ncontainers that grew between the 2nd sample and the end (of {len(after)} probed):")
    for delta, key in grew[:top]:
        print(f"  {key:70s} {before.get(key, 0):>9,} -> {after[key]:>9,}  (+{delta:,})")


# ---- end checks ---------------------------------------------------------------------------------
def journal_fills(url: str) -> tuple[list[Any], int, list[tuple[str, str, int]]]:
    """The journal's fills (engine's own reader), raw row count and duplicated fill ids."""
    from sqlalchemy import text

    from engine.execution.sql_journal import SqlJournal
    from engine.storage import Database

    db = Database(url)
    try:
        fills = SqlJournal(db).load_fills()
        with db.engine.connect() as conn:
            rows = conn.execute(text("SELECT count(*) FROM fills")).scalar_one()
            dups = conn.execute(text(
                "SELECT broker, fill_id, count(*) FROM fills GROUP BY broker, fill_id "
                "HAVING count(*) > 1")).all()
    finally:
        db.close()
    return fills, int(rows), [tuple(d) for d in dups]


def journal_state(url: str, key: str) -> Any:
    from engine.execution.sql_journal import SqlJournal
    from engine.storage import Database

    db = Database(url)
    try:
        return SqlJournal(db).load_state(key)
    finally:
        db.close()


def rebuilt_ledger(url: str, instruments: Any) -> Any:
    """A fresh Ledger fed the journal's accounts, transfers and fills, in journal order."""
    from engine.portfolio.ledger import Ledger

    ledger = Ledger()
    for broker, saved in (journal_state(url, "ledger.accounts") or {}).items():
        ledger.open_account(broker, saved["currency"], Decimal(saved["opening"]))
    for broker, amount in (journal_state(url, "ledger.transfers") or {}).items():
        ledger.transfer(broker, Decimal(amount))
    for fill in journal_fills(url)[0]:
        ledger.apply_fill(fill, instruments.get(fill.symbol))
    return ledger


def book_of(ledger: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for broker in ledger.brokers():
        out[f"cash {broker}"] = ledger.cash(broker)
    for p in ledger.positions():
        if p.quantity != 0:
            out[f"pos {p.broker} {p.symbol}"] = (p.quantity, p.avg_price)
    return out


def compare(title: str, a: dict[str, Any], b: dict[str, Any]) -> bool:
    diffs = [(k, a.get(k), b.get(k)) for k in sorted(set(a) | set(b)) if a.get(k) != b.get(k)]
    print(f"  {title}: {'EQUAL' if not diffs else f'{len(diffs)} DIFFERENCES'} "
          f"({len(a)} entries)")
    for k, x, y in diffs[:20]:
        print(f"    {k}: {x} != {y}")
    return not diffs


def signed_qty(fills: list[Any]) -> dict[str, Decimal]:
    out: dict[str, Decimal] = collections.defaultdict(Decimal)
    for f in fills:
        out[f"{f.broker} {f.symbol}"] += (f.quantity if f.side.value == "BUY" else -f.quantity) \
            - f.fee_in_kind
    return {k: v for k, v in out.items() if v != 0}


def end_checks(soak: Soak, url: str, before_stop: dict[str, Any], states: dict[str, str],
               failures: dict[str, int]) -> None:
    print("\nend checks:")
    fills, rows, dups = journal_fills(url)
    seen = collections.Counter((f.broker, f.fill_id) for f in soak.bus_fills)
    journaled = collections.Counter((f.broker, f.fill_id) for f in fills)
    missing = [k for k in seen if journaled[k] == 0]
    twice_bus = [k for k, n in seen.items() if n > 1]
    extra = [k for k in journaled if k not in seen]
    print(f"  fills published on the bus: {sum(seen.values())} ({len(seen)} distinct); "
          f"journal rows: {rows}; missing from the journal: {len(missing)}; journaled more "
          f"than once: {len(dups)}; published twice: {len(twice_bus)}; in the journal but "
          f"never published: {len(extra)}")
    for k in (missing + [d[:2] for d in dups] + twice_bus + extra)[:10]:
        print(f"    e.g. {k}")
    rebuilt = book_of(rebuilt_ledger(url, soak.session.engine.instruments))
    compare("ledger (before stop) vs ledger rebuilt from the journal's fills", before_stop,
            rebuilt)
    qty = {k[4:]: v[0] for k, v in before_stop.items() if k.startswith("pos ")}
    compare("ledger quantities vs signed sum of the journal's fills", qty, signed_qty(fills))
    bad = {k: v for k, v in states.items() if v == "error"}
    print(f"  strategy states: {states}; in error: {bad or 'none'}; exceptions counted by "
          f"the runner: {failures or 'none'}")


# ---- restart -----------------------------------------------------------------------------------
async def restart_check(settings: Any, url: str, before: dict[str, Any], stopped_at: int,
                        seconds: float, n: int) -> tuple[int, dict[str, Any]]:
    """Build the session again, compare its books, replay ``seconds`` more; return the new stop."""
    import pandas as pd

    from engine.models import FillEvent, Tick
    from terminal import composition

    print(f"\nrestart {n} on the same home and journal:")
    saved = journal_state(url, "replay.position_ns")
    rows_before = journal_fills(url)[1]
    t = time.perf_counter()
    session = composition.build_session(settings, None)
    print(f"  session rebuilt in {time.perf_counter() - t:.2f} s from a journal of {rows_before} "
          f"fills")
    print(f"  replay stopped at {pd.Timestamp(stopped_at, tz='UTC')}, saved "
          f"{pd.Timestamp(saved, tz='UTC') if isinstance(saved, int) else saved}; new "
          f"replay starts at {pd.Timestamp(session.replay_start_ns, tz='UTC')} (data ends "
          f"{pd.Timestamp(max(int(d.bars.index[-1].value) for d in session.market.values()), tz='UTC')})")
    compare("positions and cash after restart vs before stop", before, book_of(session.engine.ledger))
    print(f"  journal fill rows: {rows_before} before, {journal_fills(url)[1]} after restore")
    first_tick: list[int] = []
    fills: list[Any] = []
    session.engine.bus.subscribe(Tick, lambda t: first_tick.append(t.ts_ns) if not first_tick else None)
    session.engine.bus.subscribe(FillEvent, lambda e: fills.append(e.fill))

    await session.start()
    await asyncio.sleep(seconds)
    await session.stop()
    states = {s.strategy_id: session.runner.state(s.strategy_id) for s in session.runner.strategies()}
    after = book_of(session.engine.ledger)
    instruments = session.engine.instruments
    session.close()
    if first_tick:
        gap = (first_tick[0] - stopped_at) / 60e9
        print(f"  first replayed trade after restart: {pd.Timestamp(first_tick[0], tz='UTC')} "
              f"({gap:+.1f} simulated minutes from where it stopped)"
              f"{'  <-- WENT BACK IN TIME' if gap < 0 else ''}")
    all_fills, rows, dups = journal_fills(url)
    print(f"  {seconds:.0f} s more replay: {len(fills)} new fills; journal rows {rows} "
          f"(= {rows_before} + {rows - rows_before}); duplicated fill ids: {len(dups)}; "
          f"strategies {states}")
    old = [f for f in fills if f.ts_ns <= stopped_at]
    if old:
        print(f"  {len(old)} new fills are timed at or before the old stop point")
    compare("ledger after the resumed run vs rebuilt from the journal", after,
            book_of(rebuilt_ledger(url, instruments)))
    return session.clock.now_ns(), after


# ---- headless ----------------------------------------------------------------------------------
def headless(home: Path) -> None:
    env = {**os.environ, "TRADING_TERMINAL_HOME": str(home)}
    journal = home / "paper-journal.sqlite3"
    summaries = []
    exe = str(Path(sys.executable).with_name("trading-terminal"))
    print(f"\nheadless: trading-terminal paper --strategy hybrid --speed max --json "
          f"--journal {journal} --sessions 100 (twice)")
    # Run 3 on a fresh journal (and home) repeats run 1: the same data, so the same result.
    for run in (1, 2, 3):
        t = time.perf_counter()
        if run == 3:
            journal = home / "paper-journal-fresh.sqlite3"
        out = subprocess.run([exe, "paper", "--strategy", "hybrid", "--speed", "max", "--json",
                              "--journal", str(journal), "--sessions", "100"],
                             env=env, capture_output=True, text=True, timeout=1800)
        wall = time.perf_counter() - t
        warn = [ln for ln in out.stderr.splitlines()
                if " WARNING " in ln or " ERROR " in ln or "Traceback" in ln]
        print(f"  run {run}: exit {out.returncode} in {wall:.1f} s; {len(warn)} warning/error "
              f"lines on stderr")
        for ln in collections.Counter(_template(ln) for ln in warn).most_common(8):
            print(f"    {ln[1]:5d} x {ln[0][:160]}")
        if out.returncode != 0:
            print(out.stderr[-3000:])
            return
        s = json.loads(out.stdout)
        summaries.append(s)
        print(f"    replay {s['replay']['from']} .. {s['replay']['to']} ({s['replay']['events']:,} "
              f"events); orders {s['orders']}; fills {s['fills']}; strategies {s['strategies']}")
        print(f"    accounts {json.dumps(s['accounts'])}")
        print(f"    positions {s['positions']}; rejections {s['rejections']}")
    a, b, c = summaries
    for key in ("replay", "orders", "fills", "rejections", "accounts", "positions", "strategies"):
        print(f"  {key:11s} run 1 vs run 2 (same journal): {'same' if a[key] == b[key] else 'DIFFERENT'}"
              f"; run 1 vs run 3 (fresh journal, should be equal): "
              f"{'same' if a[key] == c[key] else 'DIFFERENT'}")
    fills, rows, dups = journal_fills(f"sqlite:///{home / 'paper-journal.sqlite3'}")
    print(f"  journal after both runs: {rows} fill rows (run 1 saw {a['fills']}, run 2 saw "
          f"{b['fills']}); duplicated fill ids: {len(dups)}")
    q = signed_qty(fills)
    final = {f"{p['broker']} {p['symbol']}": Decimal(p["quantity"]) for p in b["positions"]}
    compare("run 2's final positions vs signed sum of all journaled fills", final, q)


def _template(line: str) -> str:
    parts = line.split(" ", 2)
    return parts[2] if len(parts) == 3 else line


# ---- main -----------------------------------------------------------------------------------
def gui_soak(args: argparse.Namespace, home: Path) -> None:
    os.environ["TRADING_TERMINAL_HOME"] = str(home)
    start = args.start or first_bundled_day()
    write_user_settings(home, start)
    logging.basicConfig(level=logging.INFO, filename=str(home / "soak.log"),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    capture = WarningCapture()
    logging.getLogger().addHandler(capture)
    patch_strategies()

    import qasync
    from PySide6.QtWidgets import QApplication

    from engine.settings import database_url, load_settings
    from terminal.composition import build_window
    from widgets.theme import apply_theme

    app = QApplication.instance() or QApplication([])
    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)
    apply_theme(app, "dark")
    t = time.perf_counter()
    window, services = build_window(argparse.Namespace(config=None, speed=None, screenshot=None))
    window.show()
    settings = load_settings(None)
    url = database_url(settings)
    session = services.session
    print(f"window built in {time.perf_counter() - t:.1f} s; replay {session.symbols} from "
          f"{start} at {settings.replay.speed}; strategies "
          f"{[s.strategy_id for s in session.runner.strategies()]}; RSS {rss_mb():.0f} MB")
    # One run_until_complete for everything, as terminal/app.py runs: qasync's
    # run_until_complete processes pending Qt events once more after the loop stops,
    # outside any running loop, which would step the replay where no order can be placed.
    loop.run_until_complete(_gui_phases(args, window, services, settings, url, capture))
    window.close()


async def _gui_phases(args: argparse.Namespace, window: Any, services: Any, settings: Any,
                      url: str, capture: WarningCapture) -> None:
    session = services.session
    await services.start()
    soak = Soak(window, services, args.interval, args.minutes, args.idle)
    await soak.run()
    growth_report(soak.samples)
    container_report(soak.probe_start, soak.probe_end)
    lags = sorted(soak.all_lags)
    print(f"\nevent-loop lag over the whole soak ({len(lags)} timer wake-ups of 50 ms): p50 "
          f"{statistics.median(lags):.1f} ms, p99 {lags[int(len(lags) * 0.99)]:.1f} ms, "
          f"p99.9 {lags[int(len(lags) * 0.999)]:.1f} ms, max {lags[-1]:.1f} ms")
    before = book_of(session.engine.ledger)
    states = {s.strategy_id: session.runner.state(s.strategy_id)
              for s in session.runner.strategies()}
    failures = dict(session.runner.failure_counts)
    await services.stop()
    stopped_at = session.clock.now_ns()
    capture.report("warnings and errors logged during the GUI soak")
    end_checks(soak, url, before, states, failures)
    capture.groups.clear()
    capture.first.clear()
    # Twice: the GUI run may have played the data to its end (then the replay starts
    # over); the first restart stops mid-data, so the second shows a resume in the middle.
    for n in (1, 2):
        stopped_at, before = await restart_check(settings, url, before, stopped_at,
                                                 args.restart_seconds, n)
        capture.report(f"warnings and errors logged during restart {n}")
        capture.groups.clear()
        capture.first.clear()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--minutes", type=float, default=6.0, help="GUI soak length (wall)")
    ap.add_argument("--interval", type=float, default=5.0, help="seconds between samples")
    ap.add_argument("--idle", type=float, default=30.0,
                    help="seconds to keep sampling after the replay data ends")
    ap.add_argument("--start", help="first replayed day (default: the first bundled day)")
    ap.add_argument("--restart-seconds", type=float, default=5.0,
                    help="how long the resumed session replays")
    ap.add_argument("--home", help="TRADING_TERMINAL_HOME to use (default: a fresh one)")
    ap.add_argument("--skip-gui", action="store_true")
    ap.add_argument("--skip-headless", action="store_true")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="tt-soak-") as scratch:
        home = Path(args.home or scratch)
        if not args.skip_gui:
            gui_soak(args, home / "gui")
        if not args.skip_headless:
            headless(home / "headless")


if __name__ == "__main__":
    main()
