"""OMS benchmarks: journaled fill throughput, order round trip, kill switch latency.

    python bench/bench_oms.py [--fills 50000]

1. OMS + ledger throughput with the SQLite journal (WAL) on a real file:
   fills applied and journaled per second, one commit per fill and with group
   commit (bursts of 100, as a websocket batch delivers them). Target >= 20,000/s.
2. Order round trip through the paper venue: strategy-style intent -> risk ->
   OMS -> venue -> fill -> journal -> FillEvent; median and p99. Target p99 < 2 ms.
3. Kill switch with 200 open paper orders on 20 symbols: time from the call
   until every cancel request has been handed to the venue. Target <= 50 ms.
"""

from __future__ import annotations

import argparse
import logging
import statistics
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # bench.* when run as a script

from engine.bus import EventBus
from engine.clock import SimulatedClock
from engine.execution.broker import OrderUpdate
from engine.execution.oms import ClientOrderIds, OrderManager
from engine.execution.sql_journal import SqlJournal
from engine.instruments import InstrumentRegistry
from engine.models import Fill, OrderStatus, OrderType, Side, krx_stock
from engine.portfolio import Ledger
from engine.storage import Database

D = Decimal


def oms_throughput(n: int, batch: int, folder: Path) -> float:
    db = Database(f"sqlite:///{folder / f'oms-{batch}.sqlite3'}")
    bus, clock = EventBus(), SimulatedClock(10**18)
    inst = krx_stock("005930")
    ledger = Ledger()
    ledger.open_account("paper", "KRW", D(10) ** 15)
    oms = OrderManager(bus, clock, SqlJournal(db), ledger, InstrumentRegistry([inst]),
                       ids=ClientOrderIds(session="b"), subscribe=False)
    # Orders big enough that each takes many fills; created before the clock starts.
    orders = [oms.create(broker="paper", symbol=inst.symbol,
                         side=Side.BUY if i % 2 == 0 else Side.SELL, order_type=OrderType.LIMIT,
                         quantity=D(1000), price=D(70_000)) for i in range(n // 1000 + 1)]
    for o in orders:
        oms.on_update(OrderUpdate("paper", o.client_order_id, OrderStatus.ACCEPTED, 1))
    fills = [Fill(f"f{i}", orders[i // 1000].client_order_id, "paper", inst.symbol,
                  orders[i // 1000].side, D(1), D(70_000 + (i % 50) * 100), 10**18 + i,
                  commission=D(10)) for i in range(n)]
    start = time.perf_counter()
    if batch <= 1:
        for f in fills:
            oms.on_fill(f)
    else:
        for i in range(0, n, batch):
            oms.apply_reports(fills[i:i + batch])
    elapsed = time.perf_counter() - start
    assert len(SqlJournal(db).load_fills()) == n
    db.close()
    return n / elapsed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--fills", type=int, default=50_000)
    args = parser.parse_args()
    logging.disable(logging.CRITICAL)  # the kill switch logs CRITICAL on every press
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        one = oms_throughput(min(args.fills, 20_000), 1, folder)
        grouped = oms_throughput(args.fills, 100, folder)
    print("OMS + ledger + SQLite journal (WAL, synchronous=NORMAL), real file:")
    print(f"  one commit per fill:          {one:>10,.0f} fills/s")
    print(f"  group commit, bursts of 100:  {grouped:>10,.0f} fills/s  (target >= 20,000)")
    from bench.bench_paper_latency import kill_switch, round_trip

    times = sorted(round_trip(2_000))
    kills = [kill_switch() for _ in range(3)]
    p99 = times[int(len(times) * 0.99)]
    sent = max(k.sent for k in kills)
    print("paper venue + engine + SQLite journal (see bench/bench_paper_latency.py):")
    print(f"  order round trip (n={len(times):,}):  median {statistics.median(times) * 1e3:.3f} ms,"
          f" p99 {p99 * 1e3:.3f} ms  (target p99 < 2 ms)")
    print(f"  kill switch, 200 orders on 20 symbols: all cancels sent {sent * 1e3:.2f} ms "
          f"(worst of 3; target <= 50 ms), all confirmed "
          f"{max(k.confirmed for k in kills) * 1e3:.2f} ms")

if __name__ == "__main__":
    main()
