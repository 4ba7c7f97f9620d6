"""Paper venue and replay throughput. Prints figures; run: python bench/bench_paper.py [bars]

* bar matching with no working order (the backtester's common case), direct and via the bus;
* with an untouched resting limit (every bar looks at it);
* with a market order every 20 bars (fills, fees, account, reports on the bus);
* the replay feed at "max" speed (8 trades + 8 books + 8 bar updates + 1 bar per bar).
"""

from __future__ import annotations

import asyncio
import sys
import time
from decimal import Decimal

import numpy as np
import pandas as pd

from brokers.paper import create_broker
from engine.bus import EventBus
from engine.clock import SimulatedClock
from engine.data.replay import ReplayFeed
from engine.models import Bar, Order, OrderStatus, OrderType, Side, crypto_spot, krx_stock

MINUTE = 60 * 1_000_000_000
T0 = int(pd.Timestamp("2024-03-04", tz="UTC").value)


def venue(inst, **settings):
    bus, clock = EventBus(), SimulatedClock(T0)
    v = create_broker(bus=bus, clock=clock, instruments=[inst],
                      initial_cash={inst.currency: 10**12}, **settings)
    asyncio.run(v.connect())
    return v, bus, clock


def bars(symbol: str, n: int) -> list[Bar]:
    rng = np.random.default_rng(0)
    close = 70_000 + np.cumsum(rng.integers(-2, 3, n)) * 100
    return [Bar(symbol, "1m", T0 + i * MINUTE, float(c), float(c + 100), float(c - 100),
                float(c), 1_000.0) for i, c in enumerate(close)]


def rate(label: str, n: int, seconds: float) -> None:
    print(f"{label:<52} {n / seconds:>12,.0f} bars/s  {seconds / n * 1e9:>8,.0f} ns/bar")


def main(n: int) -> None:
    for inst in (krx_stock("005930"), crypto_spot("BTC/USDT")):
        data = bars(inst.symbol, n)
        v, bus, _ = venue(inst, bus_market_data=False)
        start = time.perf_counter()
        for bar in data:
            v.on_bar(bar)
        rate(f"{inst.symbol}: no orders, venue.on_bar", n, time.perf_counter() - start)

        v, bus, _ = venue(inst)
        start = time.perf_counter()
        for bar in data:
            bus.publish(bar)
        rate(f"{inst.symbol}: no orders, via the bus", n, time.perf_counter() - start)

    inst = krx_stock("005930")
    data = bars(inst.symbol, n)
    v, bus, clock = venue(inst, bus_market_data=False)
    v.on_bar(data[0])
    v.submit(Order("rest", "paper", inst.symbol, Side.BUY, OrderType.LIMIT, Decimal(1),
                   Decimal(1_000), status=OrderStatus.SUBMITTED))
    start = time.perf_counter()
    for bar in data:
        clock.advance_to(bar.ts_ns)
        v.on_bar(bar)
    rate("KRX: one resting limit never reached (+clock)", n, time.perf_counter() - start)

    v, bus, clock = venue(inst, bus_market_data=False)
    fills = []
    bus.subscribe(object, fills.append)
    start = time.perf_counter()
    for i, bar in enumerate(data):
        clock.advance_to(bar.ts_ns)
        v.on_bar(bar)
        if i % 20 == 0:
            side = Side.BUY if (i // 20) % 2 == 0 else Side.SELL
            v.submit(Order(f"o{i}", "paper", inst.symbol, side, OrderType.MARKET, Decimal(10),
                           status=OrderStatus.SUBMITTED))
    rate(f"KRX: market order every 20 bars ({len(fills):,} reports)", n,
         time.perf_counter() - start)

    m = min(n, 20_000)
    idx = pd.date_range(pd.Timestamp(T0, tz="UTC"), periods=m, freq="1min", name="time")
    frame = pd.DataFrame({"open": [b.open for b in data[:m]], "high": [b.high for b in data[:m]],
                          "low": [b.low for b in data[:m]], "close": [b.close for b in data[:m]],
                          "volume": [b.volume for b in data[:m]]}, index=idx)
    bus, clock = EventBus(), SimulatedClock(0)
    count = [0]
    bus.subscribe(object, lambda e: count.__setitem__(0, count[0] + 1))
    feed = ReplayFeed(bus, clock, {inst.symbol: frame}, [inst], speed="max")
    start = time.perf_counter()
    feed.run_until(None)
    seconds = time.perf_counter() - start
    print(f"{'replay at max speed (' + format(count[0], ',') + ' events)':<52} "
          f"{m / seconds:>12,.0f} bars/s  {count[0] / seconds:>8,.0f} events/s")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 200_000)
