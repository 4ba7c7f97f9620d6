"""Diff-depth updates from a (fake) Binance through the ccxt adapter into the engine's book.

    python bench/bench_ccxt_book.py [--rates 2000 5000 10000 20000] [--seconds 2]

The fake venue runs in its own process (so its CPU is not the adapter's) and
serves TLS websockets on loopback exactly as in the tests; the adapter runs the
real ccxt client (REST snapshot + diff stream, update-id sequence checks) and
publishes ``OrderBook`` records on the engine's bus, where ``MarketState`` (the
engine's book) takes them. For each update id the venue writes the moment it
handed the update to its socket into shared memory (CLOCK_MONOTONIC, shared by
both processes); the engine side reads, when a book is published, which update
ids it covers. Added latency = engine book updated - venue made it, for every
update (a book that covers several updates, because ccxt coalesced them between
two awaits, counts each of them with its own age).

Targets: >= 5,000 updates/s with p99 < 5 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import os
import random
import statistics
import sys
import time
from array import array
from multiprocessing.shared_memory import SharedMemory
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

SLOTS = 2_000_000
SYMBOL_ID, SYMBOL = "BTCUSDT", "BTC/USDT"


def venue_process(pki, shm_name: str, conn) -> None:  # noqa: ANN001 - multiprocessing plumbing
    from tests.brokers.ccxt.fake_binance import SPOT, FakeBinanceServer

    shm = SharedMemory(name=shm_name)
    sent = shm.buf.cast("q")

    async def main() -> None:
        async with FakeBinanceServer(pki=pki) as fake:
            venue = fake.venue
            venue.set_book(SPOT, SYMBOL_ID, [(f"{59_990 - i}.00", "1") for i in range(50)],
                           [(f"{60_010 + i}.00", "1") for i in range(50)])
            conn.send(fake.port)
            loop = asyncio.get_running_loop()
            while True:
                command = await loop.run_in_executor(None, conn.recv)
                if command is None:
                    return
                n, rate = command
                book = venue.books[(SPOT, SYMBOL_ID)]
                rng = random.Random(7)
                first = book.update_id + 1
                start = time.monotonic_ns()
                done = 0
                while done < n:
                    due = min(n, int((time.monotonic_ns() - start) * rate / 1e9) + 1)
                    while done < due:
                        bid = rng.random() < 0.5
                        tick = rng.randrange(20)
                        level = f"{59_990 - tick if bid else 60_010 + tick}.00"
                        size = f"{rng.randrange(1, 50) / 10:.8f}"
                        sent[(book.update_id + 1) % SLOTS] = time.monotonic_ns()
                        venue.set_level(SPOT, SYMBOL_ID, "BUY" if bid else "SELL", level, size)
                        done += 1
                    await asyncio.sleep(0.0005)
                conn.send((first, book.update_id))

    try:
        asyncio.run(main())
    finally:
        sent.release()
        shm.close()


async def measure(port: int, sent, conn, rates: list[int], seconds: float,
                  compression: bool = False) -> list[dict]:
    from brokers.ccxt import create_broker
    from engine.clock import LiveClock
    from engine.execution.journal import MemoryJournal
    from engine.models import OrderBook
    from engine.trading import TradingEngine
    from tests.brokers.ccxt.fake_binance.network import session_factory

    engine = TradingEngine(clock=LiveClock(), journal=MemoryJournal())
    broker = create_broker(name="binance", bus=engine.bus, clock=engine.clock,
                           settings={"symbols": [SYMBOL], "book_stale_s": 0, "rate_limit": False,
                                     "backfill_bars": 0, "ws_compression": compression},
                           session_factory=session_factory(port))
    broker.close_grace_ms = 0
    engine.add_broker(broker)
    await engine.connect_all()
    state = {"last": 0, "lat": [], "own": [], "books": 0, "t_last": 0}
    data = broker.market_data
    received = array("q", bytes(8 * SLOTS))
    tap = broker.exchange.tt_tap

    def timed_tap(url: str, message: object) -> None:
        # the message is decoded; ccxt has not applied it yet
        if isinstance(message, dict) and message.get("e") == "depthUpdate":
            received[message["u"] % SLOTS] = time.monotonic_ns()
        tap(url, message)

    broker.exchange.tt_tap = timed_tap

    def on_book(book: OrderBook) -> None:
        now = time.monotonic_ns()
        nonce = data.book_nonce.get(book.symbol, 0)
        last = state["last"]
        if last:
            for uid in range(last + 1, nonce + 1):
                state["lat"].append(now - sent[uid % SLOTS])
                state["own"].append(now - received[uid % SLOTS])
        state["last"] = nonce
        state["books"] += 1
        state["t_last"] = now

    engine.bus.subscribe(OrderBook, on_book)  # after MarketState: the engine's book is updated
    await broker.subscribe_order_book([SYMBOL], depth=20)
    while not state["last"]:
        await asyncio.sleep(0.01)
    results = []
    loop = asyncio.get_running_loop()
    for rate in rates:
        n = int(rate * seconds)
        state["lat"], state["own"], state["books"] = [], [], 0
        cpu = time.process_time()
        started = time.monotonic_ns()
        conn.send((n, rate))
        first, last = await loop.run_in_executor(None, conn.recv)
        deadline = time.monotonic() + 5
        while state["last"] < last and time.monotonic() < deadline:
            await asyncio.sleep(0.005)
        cpu = time.process_time() - cpu
        lat = sorted(x / 1e6 for x in state["lat"])
        own = sorted(x / 1e6 for x in state["own"])
        elapsed = (state["t_last"] - started) / 1e9
        results.append({
            "rate": rate, "updates": len(lat), "expected": last - first + 1,
            "per_s": len(lat) / elapsed if elapsed > 0 else float("nan"),
            "p50": statistics.median(lat) if lat else float("nan"),
            "p99": lat[int(len(lat) * 0.99) - 1] if lat else float("nan"),
            "max": lat[-1] if lat else float("nan"), "books": state["books"],
            "cpu_us": cpu / len(lat) * 1e6 if lat else float("nan"),
            "own50": statistics.median(own) if own else float("nan"),
            "own99": own[int(len(own) * 0.99) - 1] if own else float("nan"),
            "gaps": data.quality.get("book_gap", 0)})
        await asyncio.sleep(0.2)
    await engine.disconnect_all()
    assert engine.market.quote(SYMBOL).bid == engine.market.quote(SYMBOL).bid  # the book is live
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rates", type=int, nargs="+", default=[2_000, 5_000, 10_000, 20_000])
    parser.add_argument("--seconds", type=float, default=2.0)
    parser.add_argument("--compression", action="store_true",
                        help="let ccxt offer permessage-deflate (off by default in the adapter)")
    args = parser.parse_args()
    import logging

    logging.getLogger("engine.settings.secrets").setLevel(logging.ERROR)  # no keys: by design
    from tests.brokers.ccxt.fake_binance.certs import test_pki

    pki = test_pki()
    shm = SharedMemory(create=True, size=SLOTS * 8)
    sent = shm.buf.cast("q")
    parent, child = mp.Pipe()
    proc = mp.get_context("spawn").Process(target=venue_process, args=(pki, shm.name, child),
                                           daemon=True)
    proc.start()
    try:
        port = parent.recv()
        results = asyncio.run(measure(port, sent, parent, args.rates, args.seconds,
                                      args.compression))
    finally:
        parent.send(None)
        proc.join(5)
        sent.release()
        shm.close()
        shm.unlink()
    print("diff-depth updates: fake Binance (own process, TLS websocket"
          + (", permessage-deflate" if args.compression else "") + ") -> ccxt -> adapter "
          "-> engine book")
    print("end to end: the venue makes the update -> engine book updated;")
    print("adapter:    the adapter's process has the decoded message -> engine book updated")
    print(f"{'offered/s':>10} {'delivered':>10} {'updates/s':>10} {'books':>7} "
          f"{'e2e p50':>8} {'e2e p99':>8} {'e2e max':>8} {'adp p50':>8} {'adp p99':>8} "
          f"{'CPU us/upd':>10}   (ms)")
    for r in results:
        print(f"{r['rate']:>10,} {r['updates']:>10,} {r['per_s']:>10,.0f} {r['books']:>7,} "
              f"{r['p50']:>8.3f} {r['p99']:>8.3f} {r['max']:>8.3f} {r['own50']:>8.3f} "
              f"{r['own99']:>8.3f} {r['cpu_us']:>10.1f}"
              + (f"  ({r['expected'] - r['updates']} not delivered)"
                 if r['updates'] != r['expected'] else "")
              + (f"  {r['gaps']} resyncs" if r['gaps'] else ""))
    ok = [r for r in results if r["rate"] >= 5_000 and r["per_s"] >= 5_000 * 0.95
          and r["p99"] < 5.0]
    own = [r for r in results if r["rate"] >= 5_000 and r["per_s"] >= 5_000 * 0.95
           and r["own99"] < 5.0]
    print("target (>= 5,000/s with p99 < 5 ms): end to end", "met" if ok else "NOT met",
          "| adapter only", "met" if own else "NOT met")
    print(f"(machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}; latency "
          "percentiles need idle cores: venue and adapter are two busy processes)")


if __name__ == "__main__":
    main()
