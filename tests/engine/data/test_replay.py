"""ReplayFeed: stored bars played as a live feed, in order, on the simulated clock."""

from __future__ import annotations

import asyncio
import time
from decimal import Decimal

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.bus import EventBus
from engine.clock import SimulatedClock
from engine.data.replay import ReplayFeed, parse_speed
from engine.errors import ConfigError, DataValidationError
from engine.models import (
    Bar,
    BarUpdate,
    DataQualityEvent,
    OrderBook,
    Side,
    Tick,
    crypto_spot,
    krx_stock,
)

NS = 1_000_000_000
MINUTE = 60 * NS
T0 = pd.Timestamp("2024-03-04 00:00", tz="UTC")
TEST = crypto_spot("TEST/USD", tick=1, lot=1, min_notional=0)
SAMSUNG = krx_stock("005930")


def frame(rows, start=T0, freq="1min") -> pd.DataFrame:
    idx = pd.date_range(start, periods=len(rows), freq=freq, tz="UTC", name="time")
    return pd.DataFrame(rows, columns=["open", "high", "low", "close", "volume"],
                        index=idx, dtype=float)


def play(frames, insts=(TEST,), clock=None, **kw):
    """Run a replay headless; return (events, clock, feed)."""
    bus = EventBus()
    clock = clock or SimulatedClock(int(T0.value) - NS)
    events: list[object] = []
    bus.subscribe(object, events.append)
    feed = ReplayFeed(bus, clock, frames, list(insts), speed="max", **kw)
    feed.run_until(None)
    return events, clock, feed


def of(events, kind, symbol=None):
    return [e for e in events if isinstance(e, kind) and
            (symbol is None or (e.bar.symbol if isinstance(e, BarUpdate) else e.symbol) == symbol)]


# ---- what one bar becomes ---------------------------------------------------------------


def test_a_rising_bar_goes_open_low_high_close_and_closes_as_stored():
    events, _, _ = play({"TEST/USD": frame([(100, 105, 98, 103, 80)])}, trades_per_bar=8)
    ticks = of(events, Tick)
    prices = [t.price for t in ticks]
    assert len(ticks) == 8 and prices[0] == 100 and prices[-1] == 103
    assert prices.index(98) < prices.index(105)  # low first on a rising bar
    assert sum(t.size for t in ticks) == 80 and all(t.size == int(t.size) for t in ticks)
    assert [t.ts_ns for t in ticks] == [int(T0.value) + k * MINUTE // 8 for k in range(8)]
    (bar,) = of(events, Bar)
    assert (bar.ts_ns, bar.open, bar.high, bar.low, bar.close, bar.volume) == \
        (int(T0.value), 100, 105, 98, 103, 80)
    assert bar.trades == 8
    last_update = of(events, BarUpdate)[-1].bar
    assert (last_update.open, last_update.high, last_update.low, last_update.close,
            last_update.volume) == (100, 105, 98, 103, 80)


def test_a_falling_bar_visits_the_high_first_and_an_empty_bar_has_no_trades():
    events, _, _ = play({"TEST/USD": frame([(100, 104, 95, 96, 40), (96, 96, 96, 96, 0)])})
    prices = [t.price for t in of(events, Tick)]
    assert prices.index(104) < prices.index(95)
    assert len(of(events, Tick)) == 8  # none for the bar without volume
    assert [b.volume for b in of(events, Bar)] == [40, 0]


@st.composite
def bars(draw):
    inst = draw(st.sampled_from([SAMSUNG, TEST]))
    grid = [float(p) for p in (range(48_000, 52_001, 50) if inst is SAMSUNG else range(90, 111))]
    grid = [p for p in grid if inst.is_valid_price(p)]
    rows = []
    for _ in range(draw(st.integers(1, 6))):
        lo, hi = sorted(draw(st.lists(st.integers(0, len(grid) - 1), min_size=2, max_size=2)))
        o, c = draw(st.integers(lo, hi)), draw(st.integers(lo, hi))
        rows.append((grid[o], grid[hi], grid[lo], grid[c], float(draw(st.integers(0, 500)))))
    return inst, rows


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=bars(), n=st.integers(4, 12), levels=st.integers(1, 20), seed=st.integers(0, 9))
def test_trades_reproduce_each_bar_and_every_book_is_consistent_with_the_last_trade(
        case, n, levels, seed):
    inst, rows = case
    events, _, _ = play({inst.symbol: frame(rows)}, insts=(inst,), trades_per_bar=n,
                        book_levels=levels, seed=seed)
    lot = float(inst.lot_size)
    last_tick: Tick | None = None
    per_bar: dict[int, list[Tick]] = {}
    for e in events:
        if isinstance(e, Tick):
            last_tick = e
            start = int(T0.value) + (e.ts_ns - int(T0.value)) // MINUTE * MINUTE
            per_bar.setdefault(start, []).append(e)
            assert inst.is_valid_price(e.price) and e.size > 0
        elif isinstance(e, OrderBook):
            assert last_tick is not None and last_tick.ts_ns == e.ts_ns
            bid, ask = e.bids[0].price, e.asks[0].price
            assert bid < ask and Decimal(repr(ask)) == inst.tick_up(bid)  # one tick wide
            assert last_tick.price in (bid, ask)
            assert (last_tick.price == ask) == (last_tick.aggressor is Side.BUY)
            prices_b = [lv.price for lv in e.bids]
            prices_a = [lv.price for lv in e.asks]
            assert prices_b == sorted(prices_b, reverse=True) and len(set(prices_b)) == len(prices_b)
            assert prices_a == sorted(prices_a) and len(set(prices_a)) == len(prices_a)
            assert len(e.asks) == levels and 1 <= len(e.bids) <= levels
            assert all(inst.is_valid_price(p) for p in prices_a + prices_b)
            for level in e.bids + e.asks:
                assert level.size >= lot and level.size / lot == int(level.size / lot)
    closed = of(events, Bar)
    assert [(b.open, b.high, b.low, b.close, b.volume) for b in closed] == rows
    for bar in closed:
        ticks = per_bar.get(bar.ts_ns, [])
        if bar.volume == 0:
            assert ticks == []
            continue
        assert len(ticks) == n
        assert ticks[0].price == bar.open and ticks[-1].price == bar.close
        assert max(t.price for t in ticks) == bar.high and min(t.price for t in ticks) == bar.low
        assert sum(t.size for t in ticks) == pytest.approx(bar.volume)
        assert all(bar.ts_ns <= t.ts_ns < bar.ts_ns + MINUTE for t in ticks)


def test_replay_is_deterministic_and_the_seed_only_changes_sizes():
    data = {"TEST/USD": frame([(100, 105, 98, 103, 80), (103, 104, 99, 100, 60)])}
    a, _, _ = play(data, seed=1)
    b, _, _ = play(data, seed=1)
    c, _, _ = play(data, seed=2)
    assert a == b
    assert [(t.ts_ns, t.price) for t in of(a, Tick)] == [(t.ts_ns, t.price) for t in of(c, Tick)]
    assert [t.size for t in of(a, Tick)] != [t.size for t in of(c, Tick)]


# ---- time and order ------------------------------------------------------------------------


def test_the_clock_is_at_each_event_time_when_it_is_published_and_timers_interleave():
    bus, clock = EventBus(), SimulatedClock(int(T0.value) - NS)
    seen: list[tuple[str, int]] = []
    bus.subscribe(Tick, lambda e: seen.append(("tick", clock.now_ns() - e.ts_ns)))
    bus.subscribe(OrderBook, lambda e: seen.append(("book", clock.now_ns() - e.ts_ns)))
    bus.subscribe(Bar, lambda e: seen.append(("bar", clock.now_ns() - e.ts_ns)))
    order: list[int] = []
    bus.subscribe(object, lambda e: order.append(clock.now_ns()))
    mid = int(T0.value) + 20 * NS
    fired: list[int] = []
    clock.call_at(mid, lambda now: fired.append(len(order)))
    feed = ReplayFeed(bus, clock, {"TEST/USD": frame([(100, 105, 98, 103, 80)] * 2)}, [TEST],
                      speed="max")
    feed.run_until(None)
    assert {d for kind, d in seen if kind != "bar"} == {0}
    assert {d for kind, d in seen if kind == "bar"} == {MINUTE}  # closed at its end
    assert order == sorted(order)
    # The timer fired once the events before 00:00:20 were out, before the later ones.
    before = sum(1 for t in order if t < mid)
    assert fired == [before]


def test_symbols_are_merged_in_time_order_with_closed_bars_first():
    a = frame([(100, 101, 99, 100, 10)] * 3)
    b = frame([(50, 51, 49, 50, 10)] * 2, start=T0 + pd.Timedelta(minutes=1))
    events, _, _ = play({"TEST/USD": a, "B/USD": b},
                        insts=(TEST, crypto_spot("B/USD", tick=1, lot=1)))
    stamps = []
    for e in events:
        if isinstance(e, Bar):
            stamps.append((e.ts_ns + MINUTE, 0))
        elif isinstance(e, Tick | OrderBook):
            stamps.append((e.ts_ns, 1))
    assert stamps == sorted(stamps)
    assert {e.symbol for e in of(events, Tick)} == {"TEST/USD", "B/USD"}


def test_run_until_stops_at_a_time_and_reports_progress():
    data = {"TEST/USD": frame([(100, 101, 99, 100, 10)] * 4)}
    bus, clock = EventBus(), SimulatedClock(0)
    feed = ReplayFeed(bus, clock, data, [TEST])
    assert feed.progress.fraction == 0.0 and not feed.finished
    stop = int(T0.value) + 2 * MINUTE
    feed.run_until(stop)
    assert clock.now_ns() == stop
    assert feed.progress.ts_ns == stop and feed.progress.fraction == pytest.approx(0.5)
    feed.run_until(None)
    assert feed.finished and feed.progress.fraction == 1.0
    assert feed.progress.events == feed.events_published > 0


# ---- pacing ---------------------------------------------------------------------------------


def timed_run(feed: ReplayFeed, during=None) -> float:
    async def main():
        task = asyncio.create_task(feed.run())
        if during is not None:
            await during(feed)
        await task

    start = time.perf_counter()
    asyncio.run(main())
    return time.perf_counter() - start


SHORT = {"TEST/USD": frame([(100, 101, 99, 100, 10)] * 3)}  # 3 minutes of data


def paced(speed, **kw) -> ReplayFeed:
    return ReplayFeed(EventBus(), SimulatedClock(0), SHORT, [TEST], speed=speed,
                      trades_per_bar=4, **kw)


def test_speed_paces_against_wall_time():
    assert 0.13 <= timed_run(paced(1200)) < 1.0  # 180 s of data / 1200 = 0.15 s
    assert timed_run(paced("max")) < 0.1


def test_pause_holds_time_and_resume_continues():
    async def pause_a_while(feed):
        await asyncio.sleep(0.05)
        feed.pause()
        await asyncio.sleep(0.02)
        frozen = (feed.events_published, feed.clock.now_ns())
        await asyncio.sleep(0.15)
        assert (feed.events_published, feed.clock.now_ns()) == frozen
        assert feed.progress.paused and not feed.finished
        feed.resume()

    feed = paced(1200)
    elapsed = timed_run(feed, pause_a_while)
    assert feed.finished and elapsed >= 0.15 + 0.15 * 0.8


def test_set_speed_takes_effect_mid_run_and_stop_ends_it():
    async def speed_up(feed):
        await asyncio.sleep(0.05)
        feed.set_speed("max")

    feed = paced("60x")  # would take 3 s
    assert timed_run(feed, speed_up) < 1.0 and feed.finished

    async def stop_soon(feed):
        await asyncio.sleep(0.05)
        feed.stop()

    stopped = paced("1x")
    assert timed_run(stopped, stop_soon) < 1.0 and not stopped.finished


def test_long_gaps_are_shortened_to_max_wait():
    data = {"TEST/USD": pd.concat([frame([(100, 101, 99, 100, 10)]),
                                   frame([(100, 101, 99, 100, 10)], start=T0 + pd.Timedelta(days=1))])}
    feed = ReplayFeed(EventBus(), SimulatedClock(0), data, [TEST], speed="1x", max_wait_s=0.05,
                      trades_per_bar=4)
    assert timed_run(feed) < 2.0 and feed.finished  # 24 h of data at 1x


def test_max_speed_yields_to_the_event_loop():
    rows = [(100, 101, 99, 100, 10)] * 200
    feed = ReplayFeed(EventBus(), SimulatedClock(0), {"TEST/USD": frame(rows)}, [TEST],
                      speed="max", yield_every_s=0.001)
    beats = 0

    async def main():
        nonlocal beats
        task = asyncio.create_task(feed.run())
        while not task.done():
            beats += 1
            await asyncio.sleep(0)
        await task

    asyncio.run(main())
    assert feed.finished and beats > 3


def test_timers_fire_at_their_time_while_pacing():
    bus, clock = EventBus(), SimulatedClock(0)
    feed = ReplayFeed(bus, clock, SHORT, [TEST], speed=2400, trades_per_bar=4)
    due = int(T0.value) + 100 * NS
    got: list[int] = []
    clock.call_at(due, got.append)
    timed_run(feed)
    assert got == [due]


# ---- bad input ---------------------------------------------------------------------------


def test_bad_rows_are_skipped_and_reported_once():
    rows = [(100, 101, 99, 100, 10), (np.nan, 101, 99, 100, 10), (100, 99, 101, 100, 10),
            (100, 101, 99, 100, 10)]
    events, _, _ = play({"TEST/USD": frame(rows)})
    (quality,) = of(events, DataQualityEvent)
    assert quality.count == 2 and "skipped 2" in quality.message
    assert len(of(events, Bar)) == 2


@pytest.mark.parametrize(("data", "words"), [
    (frame([(1, 1, 1, 1, 1)]).tz_localize(None), "timezone-aware"),
    (frame([(1, 1, 1, 1, 1)]).drop(columns="volume"), "lacks column(s) volume"),
    (frame([(1, 1, 1, 1, 1)] * 2).iloc[::-1], "not sorted"),
    (pd.concat([frame([(1, 1, 1, 1, 1)])] * 2), "duplicate"),
    (frame([(1, 1, 1, 1, 1)] * 2, freq="30s"), "closer than the timeframe"),
])
def test_invalid_frames_are_refused_with_the_reason(data, words):
    with pytest.raises(DataValidationError, match=words.replace("(", r"\(").replace(")", r"\)")):
        ReplayFeed(EventBus(), SimulatedClock(0), {"TEST/USD": data}, [TEST])


def test_a_missing_instrument_and_a_bad_speed_are_config_errors():
    with pytest.raises(ConfigError, match="no instrument for X/USD"):
        ReplayFeed(EventBus(), SimulatedClock(0), {"X/USD": frame([(1, 1, 1, 1, 1)])}, [TEST])
    for bad in ("fast", 0, -2, "0x", True):
        with pytest.raises(ConfigError, match="replay speed"):
            parse_speed(bad)
    assert parse_speed("2.5x") == 2.5 and parse_speed(30) == 30.0


# ---- real trades ----------------------------------------------------------------------------


def test_trade_frames_are_replayed_as_given_with_books_and_aggregated_bars():
    times = pd.DatetimeIndex([T0 + pd.Timedelta(seconds=s) for s in (1, 20, 50, 70, 100)],
                             name="time")
    trades = pd.DataFrame({"price": [100.0, 102.0, 101.0, 99.0, 100.0],
                           "size": [1.0, 2.0, 3.0, 4.0, 5.0],
                           "side": ["buy", "buy", "sell", "sell", "buy"]}, index=times)
    events, _, _ = play({}, ticks={"TEST/USD": trades})
    ticks = of(events, Tick)
    assert [(t.price, t.size, t.aggressor) for t in ticks] == [
        (100, 1, Side.BUY), (102, 2, Side.BUY), (101, 3, Side.SELL), (99, 4, Side.SELL),
        (100, 5, Side.BUY)]
    for book, tick in zip(of(events, OrderBook), ticks, strict=True):
        side = book.asks[0] if tick.aggressor is Side.BUY else book.bids[0]
        assert side.price == tick.price and book.bids[0].price < book.asks[0].price
    bars = of(events, Bar)
    assert [(b.open, b.high, b.low, b.close, b.volume) for b in bars] == [
        (100, 102, 100, 101, 6), (99, 100, 99, 100, 9)]
    assert of(events, BarUpdate)
    stamps = [getattr(e, "ts_ns", None) for e in events if isinstance(e, Tick)]
    assert stamps == sorted(stamps)
