"""Replay stored market data as if it were live: trades, a consistent book, and bars.

``ReplayFeed`` turns OHLCV frames (and real trade frames, if given) into the
events a live feed publishes, on the bus, in time order across symbols, with
the ``SimulatedClock`` advanced to each event's time before it is published
(so timers, such as a paper venue's order latency, fire in order in between).

What one stored bar becomes (the README repeats this):

* **Trades.** ``trades_per_bar`` (default 8) synthetic trades spread evenly over
  the bar, the first at its open time, along the path open -> low -> high ->
  close for a bar that closed at or above its open, open -> high -> low -> close
  otherwise, with evenly spaced prices in between, all on the instrument's
  valid ticks. The bar's volume is split across them with weights drawn from a
  generator seeded by ``seed``, the symbol and the bar time (whole lots when the
  volume allows). A bar with no volume produces no trades.
* **Book.** After every trade, a snapshot of ``book_levels`` levels a side,
  one tick apart on the instrument's tick ladder, consistent with that trade:
  a trade above the previous one was a buyer lifting the offer, so the trade
  price is the best ask and the best bid is one tick below; a trade below was
  a seller hitting the bid (best bid = trade price, best ask one tick above);
  an unchanged price keeps the previous side. So best bid < best ask, the
  spread is one tick, and the last trade is always at the best bid or ask.
  Level sizes are whole lots, seeded like the volumes, thicker with depth.
* **Bars.** ``BarUpdate`` with the forming bar after every trade, and the
  stored bar itself (exactly its OHLCV) as a closed ``Bar`` at the bar's end.

Real trade frames (``ticks={symbol: frame}``, columns ``price``, ``size`` and
optionally ``side``) are replayed as they are, with a book built the same way
around each trade; their bars come from the engine's ``BarAggregator`` unless an
OHLCV frame for the symbol is given too.

Pacing: ``speed`` is ``"1x"``, ``"10x"``, ``"60x"``, ``"max"`` or a positive number
(simulated seconds per wall second). Waits longer than ``max_wait_s`` of wall
time (nights, weekends) are shortened to it. At ``"max"`` the feed still yields
to the event loop every ``yield_every_s`` so a GUI stays responsive.

Example::

    feed = ReplayFeed(bus, clock, {"005930": frame}, [krx_stock("005930")], speed="60x")
    task = asyncio.create_task(feed.run())
    feed.pause(); feed.set_speed("max"); feed.resume()
    feed.progress.fraction

Headless (no event loop): ``feed.run_until(None)`` plays everything at once.
"""

from __future__ import annotations

import asyncio
import heapq
import logging
import math
import random
import zlib
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import TypeAlias

import numpy as np
import pandas as pd

from engine.bus import EventBus
from engine.calendars import index_to_ns
from engine.clock import SimulatedClock
from engine.data.bars import BarAggregator
from engine.errors import ConfigError, DataValidationError
from engine.models import (
    Bar,
    BarUpdate,
    BookLevel,
    DataQualityEvent,
    Instrument,
    OrderBook,
    Side,
    Tick,
    Timeframe,
)
from engine.models.market import NS_PER_SECOND

log = logging.getLogger(__name__)

SPEEDS = {"1x": 1.0, "10x": 10.0, "60x": 60.0, "max": math.inf}
REQUIRED = ("open", "high", "low", "close", "volume")
# Event = (ts_ns, class, symbol index, sequence, record); class 0 (closed bars)
# sorts before class 1 (trades, books, updates) at the same instant.
Event = tuple[int, int, int, int, object]


def parse_speed(speed: str | float | int) -> float:
    """Simulated seconds per wall second: ``"1x"``, ``"10x"``, ``"60x"``, ``"max"`` or a number."""
    if isinstance(speed, str):
        text = speed.strip().lower()
        if text in SPEEDS:
            return SPEEDS[text]
        try:
            value = float(text[:-1] if text.endswith("x") else text)
        except ValueError:
            value = float("nan")
    elif isinstance(speed, bool) or not isinstance(speed, int | float):
        value = float("nan")
    else:
        value = float(speed)
    if not value > 0:
        raise ConfigError(f"replay speed {speed!r} is not valid; use 1x, 10x, 60x, max "
                          "or a positive number")
    return value


@dataclass(frozen=True, slots=True)
class ReplayProgress:
    ts_ns: int  # simulated time of the last event published (0 before the first)
    fraction: float  # 0..1 of the data's time span
    events: int
    finished: bool
    paused: bool
    speed: float


class _Ladder:
    """Valid prices one tick apart above and below a price, cached (books repeat prices)."""

    def __init__(self, inst: Instrument, levels: int) -> None:
        self.inst = inst
        self.levels = levels
        self._up: dict[float, tuple[float, ...]] = {}
        self._down: dict[float, tuple[float, ...]] = {}

    def up(self, price: float) -> tuple[float, ...]:
        got = self._up.get(price)
        if got is None:
            p = self.inst.snap_price(price)
            out = [p]
            for _ in range(self.levels - 1):
                p = self.inst.tick_up(p)
                out.append(p)
            got = self._cache(self._up, price, tuple(float(x) for x in out))
        return got

    def down(self, price: float) -> tuple[float, ...]:
        got = self._down.get(price)
        if got is None:
            p = self.inst.snap_price(price)
            out = [p]
            for _ in range(self.levels - 1):
                q = self.inst.tick_down(p)
                if q >= p:
                    break  # the lowest valid price: no more bid levels
                p = q
                out.append(p)
            got = self._cache(self._down, price, tuple(float(x) for x in out))
        return got

    @staticmethod
    def _cache(cache: dict[float, tuple[float, ...]], key: float,
               value: tuple[float, ...]) -> tuple[float, ...]:
        if len(cache) > 4096:
            cache.clear()
        cache[key] = value
        return value

    def snap(self, price: float) -> float:
        return float(self.inst.snap_price(price))


def synthetic_trades(ladder: _Ladder, ts_ns: int, tf_ns: int, o: float, h: float, low: float,
                     c: float, volume: float, n: int, rng: random.Random
                     ) -> list[tuple[int, float, float]]:
    """``n`` trades (ts, price, size) reproducing one bar's OHLC and volume; see the module doc."""
    o, h, low, c = ladder.snap(o), ladder.snap(h), ladder.snap(low), ladder.snap(c)
    anchors = [o, low, h, c] if c >= o else [o, h, low, c]
    legs = [abs(anchors[i + 1] - anchors[i]) for i in range(3)]
    extra = _split_int(n - 4, legs)
    prices = [anchors[0]]
    for i in range(3):
        a, b, k = anchors[i], anchors[i + 1], extra[i]
        for j in range(1, k + 1):
            prices.append(min(h, max(low, ladder.snap(a + (b - a) * j / (k + 1)))))
        prices.append(b)
    times = [ts_ns + (k * tf_ns) // n for k in range(n)]
    weights = [0.5 + rng.random() for _ in range(n)]
    return list(zip(times, prices, _split_volume(volume, weights, ladder.inst.lot_size),
                    strict=True))


def _split_int(total: int, weights: list[float]) -> list[int]:
    """``total`` split in proportion to ``weights`` (evenly if all zero), largest remainder."""
    s = sum(weights)
    shares = [total * w / s for w in weights] if s > 0 else [total / len(weights)] * len(weights)
    out = [int(x) for x in shares]
    order = sorted(range(len(shares)), key=lambda i: (out[i] - shares[i], i))
    for i in order[: total - sum(out)]:
        out[i] += 1
    return out


def _split_volume(volume: float, weights: list[float], lot: Decimal) -> list[float]:
    lot_f = float(lot)
    units = volume / lot_f
    n = len(weights)
    if abs(units - round(units)) < 1e-9 and round(units) >= n:
        # Whole lots, at least one per trade.
        parts = _split_int(int(round(units)) - n, weights)
        return [(p + 1) * lot_f for p in parts]
    s = sum(weights)
    sizes = [volume * w / s for w in weights]
    sizes[-1] = max(volume - sum(sizes[:-1]), 0.0)
    return sizes


class ReplayFeed:
    """Plays stored bars (and trades) on the bus as a live feed would; see the module doc."""

    def __init__(
        self,
        bus: EventBus,
        clock: SimulatedClock,
        frames: Mapping[str, pd.DataFrame],
        instruments: Mapping[str, Instrument] | Iterable[Instrument],
        speed: str | float = "1x",
        *,
        ticks: Mapping[str, pd.DataFrame] | None = None,
        timeframe: str = "1m",
        trades_per_bar: int = 8,
        book_levels: int = 10,
        seed: int = 0,
        books: bool = True,
        bar_updates: bool = True,
        max_wait_s: float = 5.0,
        yield_every_s: float = 0.02,
        start_ns: int | None = None,
        end_ns: int | None = None,
    ) -> None:
        if not isinstance(clock, SimulatedClock):
            raise TypeError("ReplayFeed drives a SimulatedClock")
        if not 4 <= int(trades_per_bar) <= 1000:
            raise ConfigError(f"replay trades_per_bar must be in [4, 1000], got {trades_per_bar}")
        if not 1 <= int(book_levels) <= 50:
            raise ConfigError(f"replay book_levels must be in [1, 50], got {book_levels}")
        if not max_wait_s > 0:
            raise ConfigError(f"replay max_wait_s must be positive, got {max_wait_s}")
        self.bus = bus
        self.clock = clock
        self.timeframe = Timeframe.parse(timeframe)
        self.trades_per_bar = int(trades_per_bar)
        self.book_levels = int(book_levels)
        self.seed = int(seed)
        self.books = books
        self.bar_updates = bar_updates
        self.max_wait_s = float(max_wait_s)
        self.yield_every_s = float(yield_every_s)
        self._speed = parse_speed(speed)
        insts = dict(instruments) if isinstance(instruments, Mapping) else \
            {i.symbol: i for i in instruments}
        frames = dict(frames)
        ticks = dict(ticks or {})
        symbols = sorted(set(frames) | set(ticks))
        missing = [s for s in symbols if s not in insts]
        if missing:
            raise ConfigError(f"replay: no instrument for {', '.join(missing)}; "
                              "pass one per symbol so prices land on valid ticks")
        self.symbols = symbols
        sources: list[Iterator[Event]] = []
        self._first_ns: int | None = None
        self._last_ns: int | None = None
        for k, symbol in enumerate(symbols):
            inst = insts[symbol]
            bars = _bars_array(symbol, frames[symbol], start_ns, end_ns) \
                if symbol in frames else None
            trades = _ticks_array(symbol, ticks[symbol], start_ns, end_ns) \
                if symbol in ticks else None
            if bars is not None:
                self._check_spacing(symbol, bars[0])
                if len(bars[0]):
                    self._span(int(bars[0][0]), int(bars[0][-1]) + self.timeframe.ns)
            if trades is not None and len(trades[0]):
                self._span(int(trades[0][0]), int(trades[0][-1]))
            if trades is not None:
                sources.append(self._trade_events(k, symbol, inst, trades, bars))
            elif bars is not None:
                sources.append(self._bar_events(k, symbol, inst, bars))
        self._events = heapq.merge(*sources)
        self._next: Event | None = next(self._events, None)
        self._ts = 0
        self.events_published = 0
        self._paused = False
        self._stopped = False
        self._running = False
        self._wake: asyncio.Event | None = None

    # ---- controls --------------------------------------------------------------
    @property
    def speed(self) -> float:
        return self._speed

    def set_speed(self, speed: str | float) -> None:
        self._speed = parse_speed(speed)
        self._poke()

    def pause(self) -> None:
        self._paused = True
        self._poke()

    def resume(self) -> None:
        self._paused = False
        self._poke()

    def stop(self) -> None:
        """End ``run`` soon; the feed cannot be restarted."""
        self._stopped = True
        self._poke()

    @property
    def paused(self) -> bool:
        return self._paused

    @property
    def finished(self) -> bool:
        return self._next is None

    @property
    def progress(self) -> ReplayProgress:
        first, last = self._first_ns, self._last_ns
        if self._next is None:
            fraction = 1.0
        elif first is None or last is None or last <= first or self._ts <= first:
            fraction = 0.0
        else:
            fraction = min(1.0, (self._ts - first) / (last - first))
        return ReplayProgress(self._ts, fraction, self.events_published, self._next is None,
                              self._paused, self._speed)

    def _poke(self) -> None:
        if self._wake is not None:
            self._wake.set()

    # ---- playing ---------------------------------------------------------------
    def run_until(self, ts_ns: int | None = None) -> int:
        """Publish every event up to ``ts_ns`` (all if None) now, without an event loop.

        The clock ends at ``ts_ns`` (or the last event). Returns the events published.
        """
        if self._running:
            raise RuntimeError("the replay is already running (run())")
        before = self.events_published
        while self._next is not None and (ts_ns is None or self._next[0] <= ts_ns):
            self._step()
        if ts_ns is not None and ts_ns > self.clock.now_ns():
            self.clock.advance_to(ts_ns)
        return self.events_published - before

    async def run(self) -> None:
        """Play the data paced by the speed until it ends or ``stop()`` is called."""
        if self._running:
            raise RuntimeError("the replay is already running")
        self._running = True
        self._wake = asyncio.Event()
        loop = asyncio.get_running_loop()
        # Pacing: simulated time anchor_ts corresponds to wall time anchor_wall.
        anchor_ts: int | None = None
        anchor_wall = 0.0
        last_yield = loop.time()
        try:
            while not self._stopped and self._next is not None:
                if self._paused:
                    await self._wait(None)
                    anchor_wall = loop.time()  # a pause takes no simulated time
                    continue
                speed = self._speed
                if not math.isfinite(speed):
                    self._step()  # timers on the way fire inside advance_to
                    anchor_ts = None
                else:
                    nxt = self._next[0]
                    due = self.clock.next_due_ns
                    target = due if due is not None and due < nxt else nxt
                    now_wall = loop.time()
                    if anchor_ts is None:  # start (or back from "max"): no initial wait
                        anchor_ts, anchor_wall = target, now_wall
                    wait = (target - anchor_ts) / NS_PER_SECOND / speed - (now_wall - anchor_wall)
                    if wait > self.max_wait_s:  # a night or a weekend: do not wait it out
                        anchor_ts, anchor_wall = target, now_wall + self.max_wait_s
                        wait = self.max_wait_s
                    if wait > 0:
                        if await self._wait(wait):
                            # Paused, stopped or re-paced: keep the simulated time reached
                            # so far, and go on from there at the (new) speed.
                            woke = loop.time()
                            reached = int(max(0.0, woke - anchor_wall) * speed * NS_PER_SECOND)
                            anchor_ts = min(target, anchor_ts + reached)
                            anchor_wall = woke
                            continue
                        last_yield = loop.time()
                    if target < nxt:
                        self.clock.advance_to(max(target, self.clock.now_ns()))
                    else:
                        self._step()
                if loop.time() - last_yield >= self.yield_every_s:
                    await asyncio.sleep(0)  # let the GUI breathe
                    last_yield = loop.time()
        finally:
            self._running = False
            self._wake = None

    async def _wait(self, seconds: float | None) -> bool:
        """Sleep ``seconds`` (None: until poked); True if woken early by a control."""
        assert self._wake is not None
        self._wake.clear()
        try:
            if seconds is None:
                await self._wake.wait()
            else:
                await asyncio.wait_for(self._wake.wait(), seconds)
            return True
        except TimeoutError:
            return False

    def _step(self) -> None:
        """Publish every event at the next instant, the clock moved there first."""
        assert self._next is not None
        ts = self._next[0]
        if ts > self.clock.now_ns():
            self.clock.advance_to(ts)
        publish = self.bus.publish
        while self._next is not None and self._next[0] == ts:
            publish(self._next[4])
            self.events_published += 1
            self._next = next(self._events, None)
        self._ts = ts

    # ---- building events ---------------------------------------------------------
    def _span(self, first: int, last: int) -> None:
        self._first_ns = first if self._first_ns is None else min(self._first_ns, first)
        self._last_ns = last if self._last_ns is None else max(self._last_ns, last)

    def _check_spacing(self, symbol: str, ts: np.ndarray) -> None:
        if len(ts) > 1:
            gaps = np.diff(ts)
            bad = np.flatnonzero(gaps < self.timeframe.ns)
            if len(bad):
                at = pd.Timestamp(int(ts[bad[0] + 1]), tz="UTC")
                raise DataValidationError(
                    f"replay {symbol}: bars at {at} are closer than the timeframe "
                    f"{self.timeframe} (pass timeframe= matching the data)")

    def _rng(self, symbol_crc: int, ts_ns: int) -> random.Random:
        return random.Random((self.seed << 96) ^ (symbol_crc << 64) ^ (ts_ns & (2**64 - 1)))

    def _bar_events(self, k: int, symbol: str, inst: Instrument,
                    bars: BarArrays) -> Iterator[Event]:
        ts_arr, o_arr, h_arr, l_arr, c_arr, v_arr, n_arr, w_arr, bad = bars
        tf_ns, tf = self.timeframe.ns, self.timeframe.name
        ladder = _Ladder(inst, self.book_levels + 1)
        crc = zlib.crc32(symbol.encode())
        seq = 0
        state = _BookState(c_arr[0] >= o_arr[0] if len(o_arr) else True)
        if bad:
            yield (int(ts_arr[0]) if len(ts_arr) else 0, 1, k, seq, DataQualityEvent(
                "bad_bar", symbol, f"replay {symbol}: skipped {bad} bar(s) with missing or "
                "inconsistent prices", int(ts_arr[0]) if len(ts_arr) else 0, bad))
            seq += 1
        for i in range(len(ts_arr)):
            ts = int(ts_arr[i])
            o, h, low, c, v = (float(o_arr[i]), float(h_arr[i]), float(l_arr[i]),
                               float(c_arr[i]), float(v_arr[i]))
            trades = n_arr[i]
            vwap = w_arr[i]
            if v > 0:
                rng = self._rng(crc, ts)
                path = synthetic_trades(ladder, ts, tf_ns, o, h, low, c, v,
                                        self.trades_per_bar, rng)
                fo = fh = fl = path[0][1]
                vol = pv = 0.0
                for count, (t, p, size) in enumerate(path, 1):
                    aggressor = state.side(p)
                    yield (t, 1, k, seq, Tick(symbol, t, p, size, aggressor))
                    seq += 1
                    if self.books:
                        yield (t, 1, k, seq, self._book(symbol, t, p, aggressor, ladder, rng,
                                                        v / self.trades_per_bar))
                        seq += 1
                    fh, fl = max(fh, p), min(fl, p)
                    vol += size
                    pv += p * size
                    if self.bar_updates:
                        yield (t, 1, k, seq, BarUpdate(Bar(symbol, tf, ts, fo, fh, fl, p, vol,
                                                           count, pv / vol if vol else p)))
                        seq += 1
                if trades < 0:
                    trades = len(path)
                if vwap != vwap:
                    vwap = pv / vol if vol else c
            else:
                trades = max(trades, 0)
                vwap = c if vwap != vwap else vwap
            yield (ts + tf_ns, 0, k, seq, Bar(symbol, tf, ts, o, h, low, c, v, int(trades),
                                              float(vwap)))
            seq += 1

    def _trade_events(self, k: int, symbol: str, inst: Instrument,
                      trades: tuple[np.ndarray, ...],
                      bars: BarArrays | None) -> Iterator[Event]:
        ts_arr, px_arr, size_arr, side_arr = trades
        ladder = _Ladder(inst, self.book_levels + 1)
        crc = zlib.crc32(symbol.encode())
        out: list[tuple[int, object]] = []
        agg: BarAggregator | None = None
        if bars is None:
            agg = BarAggregator(
                symbol, self.timeframe, inst.calendar, late_tolerance_ns=0,
                extended_hours=True,
                on_bar=lambda b: out.append((b.ts_ns + self.timeframe.ns, b)),
                on_update=(lambda b: out.append((-1, BarUpdate(b)))) if self.bar_updates
                else None)
        bar_iter = self._closed_bars(symbol, bars) if bars is not None else iter(())
        pending_bar = next(bar_iter, None)
        state = _BookState(True)
        seq = 0
        typical = float(np.median(size_arr)) if len(size_arr) else 1.0
        for i in range(len(ts_arr)):
            t, p, size = int(ts_arr[i]), float(px_arr[i]), float(size_arr[i])
            while pending_bar is not None and pending_bar[0] <= t:
                yield (pending_bar[0], 0, k, seq, pending_bar[1])
                seq += 1
                pending_bar = next(bar_iter, None)
            if agg is not None:
                agg.flush(t)
                for end, bar in out:
                    yield (min(end, t), 0, k, seq, bar)
                    seq += 1
                out.clear()
            given = side_arr[i]
            aggressor = state.side(p, Side.BUY if given > 0 else Side.SELL if given < 0 else None)
            yield (t, 1, k, seq, Tick(symbol, t, p, size, aggressor))
            seq += 1
            if self.books:
                yield (t, 1, k, seq, self._book(symbol, t, p, aggressor, ladder,
                                                self._rng(crc, t), typical * 4))
                seq += 1
            if agg is not None:
                agg.on_tick(Tick(symbol, t, p, size, aggressor))
                for _, record in out:  # updates of the forming bar (flush closed the others)
                    yield (t, 1, k, seq, record)
                    seq += 1
                out.clear()
        if agg is not None:
            agg.flush(2**62)
            last = int(ts_arr[-1]) if len(ts_arr) else 0
            for end, bar in out:
                yield (max(end, last), 0, k, seq, bar)
                seq += 1
        while pending_bar is not None:
            yield (pending_bar[0], 0, k, seq, pending_bar[1])
            seq += 1
            pending_bar = next(bar_iter, None)

    def _closed_bars(self, symbol: str, bars: BarArrays) -> Iterator[tuple[int, Bar]]:
        ts_arr, o_arr, h_arr, l_arr, c_arr, v_arr, n_arr, w_arr, _ = bars
        tf_ns, tf = self.timeframe.ns, self.timeframe.name
        for i in range(len(ts_arr)):
            ts = int(ts_arr[i])
            vwap = float(w_arr[i]) if w_arr[i] == w_arr[i] else float(c_arr[i])
            yield ts + tf_ns, Bar(symbol, tf, ts, float(o_arr[i]), float(h_arr[i]),
                                  float(l_arr[i]), float(c_arr[i]), float(v_arr[i]),
                                  int(max(n_arr[i], 0)), vwap)

    def _book(self, symbol: str, ts: int, price: float, aggressor: Side, ladder: _Ladder,
              rng: random.Random, typical: float) -> OrderBook:
        n = self.book_levels
        if aggressor is Side.BUY:  # the buyer lifted the offer: the trade is the best ask
            asks, bids = ladder.up(price)[:n], ladder.down(price)[1:]
        else:  # the seller hit the bid: the trade is the best bid
            bids, asks = ladder.down(price)[:n], ladder.up(price)[1:]
        lot = float(ladder.inst.lot_size)
        base = max(typical, lot)

        def size(depth: int) -> float:
            raw = base * (0.5 + rng.random()) * (1 + 0.15 * depth)
            return max(lot, math.floor(raw / lot) * lot)

        return OrderBook(symbol, ts,
                         tuple(BookLevel(p, size(d)) for d, p in enumerate(bids)),
                         tuple(BookLevel(p, size(d)) for d, p in enumerate(asks)))


class _BookState:
    """Which side the last trade hit, by the tick rule (an unchanged price keeps it)."""

    __slots__ = ("last", "aggressor")

    def __init__(self, up_first: bool) -> None:
        self.last = float("nan")
        self.aggressor = Side.BUY if up_first else Side.SELL

    def side(self, price: float, given: Side | None = None) -> Side:
        if given is not None:
            self.aggressor = given
        elif price > self.last:
            self.aggressor = Side.BUY
        elif price < self.last:
            self.aggressor = Side.SELL
        self.last = price
        return self.aggressor


# ---- input frames -----------------------------------------------------------------


def _index_ns(symbol: str, df: pd.DataFrame, what: str) -> np.ndarray:
    if not isinstance(df, pd.DataFrame):
        raise DataValidationError(f"replay {symbol}: {what} must be a DataFrame, "
                                  f"got {type(df).__name__}")
    if not isinstance(df.index, pd.DatetimeIndex) or df.index.tz is None:
        raise DataValidationError(f"replay {symbol}: {what} needs a timezone-aware "
                                  "DatetimeIndex of times (UTC)")
    ts = index_to_ns(df.index)
    if len(ts) > 1 and not (np.diff(ts) >= 0).all():
        raise DataValidationError(f"replay {symbol}: {what} times are not sorted ascending")
    return ts


def _window(ts: np.ndarray, start_ns: int | None, end_ns: int | None) -> slice:
    lo = 0 if start_ns is None else int(np.searchsorted(ts, start_ns, "left"))
    hi = len(ts) if end_ns is None else int(np.searchsorted(ts, end_ns, "left"))
    return slice(lo, hi)


# ts, open, high, low, close, volume, trades, vwap (the good bars), and how many were bad.
BarArrays: TypeAlias = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray,
                             np.ndarray, np.ndarray, np.ndarray, int]


def _bars_array(symbol: str, df: pd.DataFrame, start_ns: int | None,
                end_ns: int | None) -> BarArrays:
    ts = _index_ns(symbol, df, "the bar frame")
    missing = [c for c in REQUIRED if c not in df.columns]
    if missing:
        raise DataValidationError(f"replay {symbol}: the bar frame lacks column(s) "
                                  f"{', '.join(missing)} (needs {', '.join(REQUIRED)})")
    if len(ts) > 1 and not (np.diff(ts) > 0).all():
        raise DataValidationError(f"replay {symbol}: the bar frame has duplicate times")
    window = _window(ts, start_ns, end_ns)
    cols = [df[c].to_numpy(dtype=np.float64)[window] for c in REQUIRED]
    o, h, low, c, v = cols
    ts = ts[window]
    with np.errstate(invalid="ignore"):
        good = (np.isfinite(o) & np.isfinite(h) & np.isfinite(low) & np.isfinite(c)
                & np.isfinite(v) & (low > 0) & (v >= 0) & (h >= np.maximum(o, c))
                & (low <= np.minimum(o, c)))
    bad = int((~good).sum())
    if bad:
        log.warning("replay %s: skipping %d bar(s) with missing or inconsistent prices",
                    symbol, bad)
    trades = df["trades"].to_numpy(dtype=np.float64)[window] if "trades" in df.columns \
        else np.full(len(ts), -1.0)
    trades = np.where(np.isfinite(trades), trades, -1.0).astype(np.int64)
    vwap = df["vwap"].to_numpy(dtype=np.float64)[window] if "vwap" in df.columns \
        else np.full(len(ts), np.nan)
    return (ts[good], o[good], h[good], low[good], c[good], v[good], trades[good], vwap[good],
            bad)


def _ticks_array(symbol: str, df: pd.DataFrame, start_ns: int | None,
                 end_ns: int | None) -> tuple[np.ndarray, ...]:
    ts = _index_ns(symbol, df, "the trade frame")
    missing = [c for c in ("price", "size") if c not in df.columns]
    if missing:
        raise DataValidationError(f"replay {symbol}: the trade frame lacks column(s) "
                                  f"{', '.join(missing)} (needs price, size; side optional)")
    window = _window(ts, start_ns, end_ns)
    price = df["price"].to_numpy(dtype=np.float64)[window]
    size = df["size"].to_numpy(dtype=np.float64)[window]
    ts = ts[window]
    if "side" in df.columns:
        text = df["side"].astype(str).str.upper().to_numpy()[window]
        side = np.where(text == "BUY", 1, np.where(text == "SELL", -1, 0))
    else:
        side = np.zeros(len(ts), dtype=np.int64)
    with np.errstate(invalid="ignore"):
        good = np.isfinite(price) & (price > 0) & np.isfinite(size) & (size > 0)
    if not good.all():
        log.warning("replay %s: skipping %d malformed trade(s)", symbol, int((~good).sum()))
    return ts[good], price[good], size[good], side[good]


__all__ = ["ReplayFeed", "ReplayProgress", "SPEEDS", "parse_speed", "synthetic_trades"]
