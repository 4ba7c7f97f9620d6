"""Benchmark: trades -> validator -> 1m bars -> seven streaming indicators, one symbol.

Prints ticks/s for the whole pipeline (target >= 300,000), without the
validator, and for the parts alone; then the calendar and resample figures.

    python bench/bench_pipeline.py [--ticks 1000000] [--repeat 3]

The trades are pre-built ``Tick`` objects on the KRX calendar: several per
second (exponential gaps, mean 0.2 s) during the sessions, prices on a random
walk. Building them is not timed.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import numpy as np
import pandas as pd

from engine.calendars import get_calendar
from engine.clock import SimulatedClock
from engine.data import BarAggregator, TickValidator, resample
from engine.models import Bar, Tick

SYMBOL = "005930"
CALENDAR = "XKRX"


def build_ticks(n: int, seed: int = 42) -> list[Tick]:
    """``n`` trades spread over consecutive KRX sessions from 2025-01-02."""
    cal = get_calendar(CALENDAR)
    rng = np.random.default_rng(seed)
    gaps = rng.exponential(0.2e9, n).astype(np.int64) + 1  # ns; ~5 trades per second
    offsets = np.cumsum(gaps)  # trading time elapsed, ns
    stamps = np.empty(n, dtype=np.int64)
    sessions = cal.sessions("2025-01-02", "2027-01-01")
    done = 0
    elapsed = 0
    for session in sessions:  # lay trading time out over the sessions, skipping nights
        length = session.duration_ns
        end = int(np.searchsorted(offsets, elapsed + length, side="left"))
        stamps[done:end] = session.open_ns + (offsets[done:end] - elapsed)
        done, elapsed = end, elapsed + length
        if done == n:
            break
    steps = rng.choice([-10.0, 0.0, 10.0], n, p=[0.3, 0.4, 0.3])
    prices = np.maximum(70_000 + np.cumsum(steps), 10.0)
    sizes = rng.integers(1, 200, n).astype(float)
    return [Tick(SYMBOL, int(t), float(p), float(s), None, str(i))
            for i, (t, p, s) in enumerate(zip(stamps, prices, sizes, strict=True))]


def make_indicators() -> Callable[[Bar], None]:
    """One callback updating seven streaming indicators on each closed bar."""
    from engine import indicators as ind

    chain = [ind.SMA(20), ind.EMA(20), ind.RSI(14), ind.Bollinger(20, 2.0),
             ind.VWAP(), ind.ATR(14), ind.MACD(12, 26, 9)]
    updates = [i.update_bar for i in chain]

    def on_bar(bar: Bar) -> None:
        for update in updates:
            update(bar)

    return on_bar


def run(ticks: list[Tick], *, validate: bool, indicators: bool) -> tuple[float, int]:
    bars = 0

    def count(bar: Bar) -> None:
        nonlocal bars
        bars += 1

    on_bar: Callable[[Bar], None] = count
    if indicators:
        update = make_indicators()

        def on_bar(bar: Bar) -> None:
            count(bar)
            update(bar)

    agg = BarAggregator(SYMBOL, "1m", CALENDAR, on_bar=on_bar)
    on_tick = agg.on_tick
    clock = SimulatedClock(start_ns=ticks[-1].ts_ns)
    start = time.perf_counter()
    if validate:
        check = TickValidator(SYMBOL, clock=clock).check
        for tick in ticks:
            if check(tick):
                on_tick(tick)
    else:
        for tick in ticks:
            on_tick(tick)
    agg.flush(ticks[-1].ts_ns + 86_400 * 10**9)
    return time.perf_counter() - start, bars


def validator_only(ticks: list[Tick]) -> float:
    check = TickValidator(SYMBOL, clock=SimulatedClock(start_ns=ticks[-1].ts_ns)).check
    start = time.perf_counter()
    for tick in ticks:
        check(tick)
    return time.perf_counter() - start


def best(repeat: int, fn: Callable[[], float]) -> float:
    return min(fn() for _ in range(repeat))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ticks", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    t0 = time.perf_counter()
    get_calendar(CALENDAR)
    print(f"calendar {CALENDAR} first build: {time.perf_counter() - t0:.2f} s (once per process)")
    ticks = build_ticks(args.ticks)
    span = pd.Timestamp(ticks[0].ts_ns, tz="UTC"), pd.Timestamp(ticks[-1].ts_ns, tz="UTC")
    print(f"{len(ticks):,} ticks, {span[0]:%Y-%m-%d} .. {span[1]:%Y-%m-%d}, best of {args.repeat}")

    n = len(ticks)
    rows = [
        ("validator + aggregator + 7 indicators", True, True),
        ("aggregator + 7 indicators (no validator)", False, True),
        ("validator + aggregator", True, False),
        ("aggregator alone", False, False),
    ]
    for label, validate, indicators in rows:
        seconds = best(args.repeat, lambda v=validate, i=indicators: run(ticks, validate=v,
                                                                        indicators=i)[0])
        print(f"{label:42s} {n / seconds:>12,.0f} ticks/s  ({seconds * 1e3:7.1f} ms)")
    seconds = best(args.repeat, lambda: validator_only(ticks))
    print(f"{'validator alone':42s} {n / seconds:>12,.0f} ticks/s  ({seconds * 1e3:7.1f} ms)")
    _, bars = run(ticks, validate=True, indicators=False)
    print(f"bars built: {bars:,} one-minute bars")

    # Vectorised calendar and resample paths on a million one-minute rows.
    index = pd.date_range("2020-01-01", periods=1_000_000, freq="1min", tz="UTC", name="time")
    cal = get_calendar(CALENDAR)
    seconds = best(args.repeat, lambda: _timed(lambda: cal.session_labels(index)))
    print(f"session_labels, 1,000,000 timestamps: {seconds * 1e3:.1f} ms")
    rng = np.random.default_rng(1)
    close = 100 + rng.standard_normal(len(index)).cumsum()
    frame = pd.DataFrame({"open": close, "high": close + 1, "low": close - 1, "close": close,
                          "volume": rng.random(len(index)), "trades": np.ones(len(index), int),
                          "vwap": close}, index=index)
    for calendar in ("24/7", "XKRX", "XNYS"):
        get_calendar(calendar)
        for tf in ("5m", "1h", "1d"):
            seconds = best(args.repeat, lambda c=calendar, t=tf: _timed(
                lambda: resample(frame, t, c)))
            print(f"resample 1,000,000 1m rows -> {tf:3s} on {calendar:5s}: {seconds * 1e3:7.1f} ms")


def _timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


if __name__ == "__main__":
    main()
