"""Benchmark: the terminal under load (offscreen).

1. Launch: from starting ``trading-terminal`` to the main window shown (target < 2.5 s),
   median of a few launches after a first one that builds the caches.
2. Event-loop lag while the engine publishes 5,000 ticks/s and a 20-level book 50
   times a second into the real window (bridge, chart, ladder, tape, tables):
   p50/p99/max lag of a 10 ms asyncio timer (target p99 < 30 ms), and how often each
   panel updated.
3. Memory: the chart holding 1,000,000 one-minute bars with 10 symbols streaming:
   peak RSS (target < 500 MB).

    python bench/bench_terminal.py [--seconds 10] [--launches 3]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

ROOT = Path(__file__).resolve().parents[1]


def launch_times(n: int, home: str) -> list[float]:
    env = {**os.environ, "TRADING_TERMINAL_HOME": home, "QT_QPA_PLATFORM": "offscreen"}
    times = []
    for _ in range(n + 1):  # the first launch writes the bundled data and calendar cache
        t0 = time.time()
        out = subprocess.run([sys.executable, "-m", "terminal.cli", "--screenshot",
                              os.path.join(home, "shot.png"), "--after", "0.5"],
                             cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
        found = re.search(r"window shown \(epoch ([0-9.]+)\)", out.stderr)
        if not found:
            raise SystemExit(f"the terminal did not report its window:\n{out.stderr[-2000:]}")
        times.append(float(found.group(1)) - t0)
    return times[1:]


def load_and_lag(seconds: float, home: str) -> None:
    os.environ["TRADING_TERMINAL_HOME"] = home
    import qasync
    from PySide6.QtWidgets import QApplication

    from engine.models import BookLevel, OrderBook, Tick
    from terminal.composition import build_window

    app = QApplication.instance() or QApplication([])
    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)
    import argparse as ap
    window, services = build_window(ap.Namespace(config=None, speed=None))
    window.show()
    session = services.session
    loop.run_until_complete(session.engine.connect_all())
    symbols = session.symbols
    clock = session.clock
    chart, book = window.panels["chart"], window.panels["book"]
    counts = {"chart": 0, "ladder": 0, "tape": 0, "orders table": 0}
    chart.on_forming = _counting(chart.on_forming, counts, "chart")
    ladder = book.ladder
    ladder.on_books = _counting(ladder.on_books, counts, "ladder") if hasattr(ladder, "on_books") \
        else ladder.on_books
    lags: list[float] = []

    async def publish() -> int:
        """5,000 ticks/s and 50 books/s on schedule: each wake-up sends what is due."""
        bus = session.engine.bus
        sent = books = 0
        price = {s: float(session.bars(s)["close"].iloc[-1]) for s in symbols}
        start = time.perf_counter()
        while (elapsed := time.perf_counter() - start) < seconds:
            due = int(elapsed * 5_000) - sent
            now = clock.now_ns()
            for i in range(due):
                s = symbols[(sent + i) % len(symbols)]
                bus.publish(Tick(s, now + i * 1000, price[s], 1.0))
            sent += max(due, 0)
            clock.advance_to(now + max(due, 1) * 1000)
            while books < int(elapsed * 50):
                p = price[symbols[0]]
                bus.publish(OrderBook(symbols[0], clock.now_ns(),
                                      tuple(BookLevel(p - 0.01 * (j + 1), 100.0 + j) for j in range(20)),
                                      tuple(BookLevel(p + 0.01 * (j + 1), 100.0 + j) for j in range(20))))
                books += 1
            await asyncio.sleep(0.002)
        return sent

    async def monitor() -> None:
        end = time.perf_counter() + seconds
        while time.perf_counter() < end:
            t = time.perf_counter()
            await asyncio.sleep(0.01)
            lags.append((time.perf_counter() - t - 0.01) * 1e3)

    async def both() -> tuple[int, None]:
        return await asyncio.gather(publish(), monitor())

    t0 = time.perf_counter()
    sent, _ = loop.run_until_complete(both())
    wall = time.perf_counter() - t0
    lags.sort()
    print(f"event loop under {sent / wall:,.0f} ticks/s and 50 20-level books/s for {wall:.1f} s "
          f"(real window, all panels):")
    print(f"  timer lag p50 {statistics.median(lags):.1f} ms, p99 {lags[int(len(lags) * 0.99)]:.1f} ms, "
          f"max {lags[-1]:.1f} ms  (target p99 < 30 ms)")
    print(f"  bridge flushes: {window.ctx.bridge.flushes if hasattr(window.ctx.bridge, 'flushes') else 'n/a'}; "
          f"tape rows {book.tape.model.rowCount() if hasattr(book.tape, 'model') else 'n/a'}; "
          f"ladder best bid {ladder.model.data(ladder.model.index(ladder.levels, 1)) if hasattr(ladder, 'model') and hasattr(ladder, 'levels') else 'n/a'}")

    # Memory: 1M bars in the chart while the ten-symbol stream goes on.
    import numpy as np
    import pandas as pd
    n = 1_000_000
    # Built the way storage hands bars over: one float64 block, no temporaries kept.
    block = np.empty((n, 5))
    rng = np.random.default_rng(1)
    np.cumsum(rng.normal(0, 0.05, n), out=block[:, 3])
    block[:, 3] += 100
    block[:, 0] = block[:, 3]
    np.add(block[:, 3], 0.05, out=block[:, 1])
    np.subtract(block[:, 3], 0.05, out=block[:, 2])
    block[:, 4] = rng.integers(100, 1000, n)
    frame = pd.DataFrame(block, columns=["open", "high", "low", "close", "volume"], copy=False,
                         index=pd.date_range("2010-01-04 14:30", periods=n, freq="1min", tz="UTC"))
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    chart.set_data(frame)
    del frame, block  # the chart keeps its own arrays, as after a load from storage
    extra = [f"SYM{i}" for i in range(10 - len(symbols))]
    symbols.extend(extra)
    for s in extra:
        session.engine.market.set_reference(s, 100.0)
    loop.run_until_complete(_stream(session, symbols, 3.0))
    window.repaint()
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS with 1,000,000 bars charted and 10 symbols streaming: {rss:,.0f} MB "
          f"(target < 500 MB; {before:,.0f} MB before the bars were charted)")
    loop.run_until_complete(services.stop())


async def _stream(session, symbols, seconds: float) -> None:
    from engine.models import Tick
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        now = session.clock.now_ns()
        for i, s in enumerate(symbols):
            session.engine.bus.publish(Tick(s, now + i, 100.0, 1.0))
        await asyncio.sleep(0.01)


def _counting(fn, counts, key):
    def wrapper(*a, **k):
        counts[key] += 1
        return fn(*a, **k)
    return wrapper


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--launches", type=int, default=3)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="tt-bench-") as home:
        times = launch_times(args.launches, home)
        print(f"launch to window shown: median {statistics.median(times):.2f} s over "
              f"{len(times)} launches (min {min(times):.2f}, max {max(times):.2f}; target < 2.5 s)")
        load_and_lag(args.seconds, home)


if __name__ == "__main__":
    main()
