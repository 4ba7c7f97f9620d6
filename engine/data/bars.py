"""Ticks -> bars by TIME bucket, aligned to the market calendar.

A 1-minute bar holds exactly the trades whose timestamp falls inside that
minute. Intraday buckets start at the session open (09:00 KST, 09:30 New York,
00:00 UTC for 24/7), so the last bucket of a session may be shorter (a 1h NYSE
bar 15:30-16:00); ``1d`` is one bar per session, labelled with the session open.

Policies (the README repeats them):

* **Late and out-of-order ticks.** Bars are immutable once published. A tick
  whose bucket is older than the forming bar, or whose bucket has already been
  published or finalised by ``flush``, is dropped and counted as ``late``. A
  tick out of order *inside* the forming bucket is accepted: open is the
  earliest-stamped trade and close the latest-stamped one, so arrival order
  inside a bucket does not matter.
* **When a bar closes.** When a tick of a later bucket arrives (the feed has
  moved on), or when ``flush(now_ns)`` runs at least ``late_tolerance_ns``
  after the bucket's end: the tolerance (default 5 s) leaves in-flight trades
  time to arrive before a timer closes the bar in a quiet market. Set it above
  the feed's worst delay between a trade's stamp and its arrival, or trades
  stamped just before a bucket's end are dropped as late.
* **Minutes without trades.** By default no bar is emitted (a chart shows the
  gap; indicators are not fed invented prices). With ``fill_empty=True`` a flat
  bar at the previous close with zero volume and zero trades is emitted for
  every empty bucket of a session, after the first trade.
* **Outside the session.** Ticks outside the calendar's sessions are counted
  as ``out_of_session`` and dropped. With ``extended_hours=True`` they are kept
  in buckets on the UTC grid, clipped so they never overlap a session bucket
  (``1d`` bars always hold the regular session only).
* **The closing print.** Closing auctions print at (or just after) the close,
  15:30:00 on KRX and 16:00:00 on NYSE. Ticks up to ``close_grace_ns``
  (default 60 s) after the close belong to the session's last bar, which is
  therefore finalised only after close + grace (+ tolerance).

Example::

    agg = BarAggregator("005930", "1m", calendar="XKRX", on_bar=bus.publish)
    clock.every(1_000_000_000, agg.flush)      # a quiet market still closes its bars
    bus.subscribe(Tick, agg.on_tick)
"""

from __future__ import annotations

import logging
from bisect import bisect_right
from collections.abc import Callable, Iterable

import numpy as np

from engine.calendars import MarketCalendar, get_calendar
from engine.models import Bar, DataQualityEvent, Tick, Timeframe
from engine.models.market import NS_PER_SECOND

log = logging.getLogger(__name__)

DEFAULT_LATE_TOLERANCE_NS = 5 * NS_PER_SECOND
DEFAULT_CLOSE_GRACE_NS = 60 * NS_PER_SECOND

BarCallback = Callable[[Bar], object]
QualityCallback = Callable[[DataQualityEvent], object]

DROPPED = np.iinfo(np.int64).min  # bucket label of a time that belongs to no bucket

# (label_ns, member_lo_ns, member_hi_ns, session_index or -1 for extended hours)
Bucket = tuple[int, int, int, int]


class Bucketing:
    """Which time bucket a timestamp belongs to, for one timeframe and calendar.

    Shared by the live aggregator (scalar ``bucket``) and ``resample``
    (vectorised, in engine.data.resample) so both cut time the same way.
    """

    def __init__(self, timeframe: str | Timeframe, calendar: str | MarketCalendar | None,
                 *, extended_hours: bool = False,
                 close_grace_ns: int = DEFAULT_CLOSE_GRACE_NS) -> None:
        self.timeframe = Timeframe.parse(timeframe)
        self.calendar = get_calendar(calendar if calendar is not None else "24/7")
        self.tf_ns = self.timeframe.ns
        self.daily = self.timeframe.is_daily
        self.extended_hours = extended_hours
        if close_grace_ns < 0:
            raise ValueError(f"close_grace_ns must be >= 0, got {close_grace_ns}")
        self.close_grace_ns = close_grace_ns
        self._opens = self.calendar.opens_list
        self._closes = self.calendar.closes_list

    def bucket(self, ts_ns: int) -> Bucket | None:
        """The bucket holding ``ts_ns``, or None when it is outside every kept bucket."""
        cal, grace = self.calendar, self.close_grace_ns
        i = cal.session_index(ts_ns, grace)
        if i >= 0:
            return self.session_bucket(i, ts_ns)
        if self.daily or not self.extended_hours:
            return None
        tf = self.tf_ns
        grid = ts_ns - ts_ns % tf
        label, lo = grid, grid
        prev_close = cal.previous_close_ns(ts_ns)
        if prev_close is not None:
            label = max(grid, prev_close)
            lo = max(label, prev_close + grace)
        hi = grid + tf
        nxt = cal.next_open_ns(ts_ns)
        if nxt is not None:
            hi = min(hi, nxt)
        return (label, lo, hi, -1)

    def session_bucket(self, i: int, ts_ns: int) -> Bucket:
        """The bucket of session ``i`` that holds ``ts_ns`` (or its first/last one)."""
        o, c = self._opens[i], self._closes[i]
        last_hi = c + self.close_grace_ns
        if i + 1 < len(self._opens) and self._opens[i + 1] < last_hi:
            last_hi = self._opens[i + 1]  # back-to-back sessions (24/7) have no grace
        if self.daily:
            return (o, o, last_hi, i)
        tf = self.tf_ns
        start = o + ((min(max(ts_ns, o), c - 1) - o) // tf) * tf
        end = start + tf
        return (start, start, last_hi if end >= c else end, i)

    def bucket_labels(self, ts_ns: np.ndarray) -> np.ndarray:
        """Vectorised ``bucket(ts)[0]``: the bucket label of each time, ``DROPPED`` if none."""
        cal, tf = self.calendar, self.tf_ns
        idx = cal.locate(ts_ns, self.close_grace_ns)
        inside = idx >= 0
        safe = np.maximum(idx, 0)
        opens = cal.opens_ns[safe]
        if self.daily:
            labels = opens
        else:
            closes = cal.closes_ns[safe]
            labels = opens + ((np.minimum(np.maximum(ts_ns, opens), closes - 1) - opens) // tf) * tf
        out = np.where(inside, labels, DROPPED)
        if self.extended_hours and not self.daily and not inside.all():
            outside = ~inside
            t = ts_ns[outside]
            j = np.searchsorted(cal.closes_ns, t, side="right") - 1
            prev_close = np.where(j >= 0, cal.closes_ns[np.maximum(j, 0)], DROPPED)
            out[outside] = np.maximum(t - t % tf, prev_close)
        return out

    def next_session_bucket(self, bucket: Bucket) -> Bucket | None:
        """The regular-session bucket right after ``bucket`` (None past the calendar)."""
        label, _, hi, i = bucket
        if i >= 0:
            if not self.daily and label + self.tf_ns < self._closes[i]:
                return self.session_bucket(i, label + self.tf_ns)
            i += 1
        else:
            i = bisect_right(self._opens, label)
        if i >= len(self._opens):
            return None
        return self.session_bucket(i, self._opens[i])


class BarAggregator:
    """Builds ``Bar`` records for one symbol and timeframe from its trades.

    See the module docstring for the policies. ``on_bar`` gets each closed bar
    once, in time order; ``on_update`` (optional) gets the forming bar after
    every accepted trade, for live charts. Callback errors are logged, never
    raised into the feed.
    """

    __slots__ = (
        "symbol", "timeframe", "bucketing", "late_tolerance_ns", "fill_empty",
        "_on_bar", "_on_update", "_on_quality",
        "_label", "_lo", "_hi", "_sess",
        "_open", "_high", "_low", "_close", "_open_ts", "_close_ts",
        "_volume", "_pv", "_trades",
        "_final_ns", "_last_bucket", "_last_close",
        "late", "out_of_session", "bars_published", "empty_bars", "_accepted_closed",
        "_logged",
    )

    def __init__(self, symbol: str, timeframe: str | Timeframe = "1m",
                 calendar: str | MarketCalendar | None = None, *,
                 late_tolerance_ns: int = DEFAULT_LATE_TOLERANCE_NS,
                 on_bar: BarCallback, on_update: BarCallback | None = None,
                 fill_empty: bool = False, extended_hours: bool = False,
                 close_grace_ns: int = DEFAULT_CLOSE_GRACE_NS,
                 on_quality: QualityCallback | None = None) -> None:
        if late_tolerance_ns < 0:
            raise ValueError(f"late_tolerance_ns must be >= 0, got {late_tolerance_ns}")
        self.symbol = symbol
        self.bucketing = Bucketing(timeframe, calendar, extended_hours=extended_hours,
                                   close_grace_ns=close_grace_ns)
        self.timeframe = self.bucketing.timeframe.name
        self.late_tolerance_ns = late_tolerance_ns
        self.fill_empty = fill_empty
        self._on_bar = on_bar
        self._on_update = on_update
        self._on_quality = on_quality
        # The forming bucket: member ticks satisfy _lo <= ts < _hi. An empty
        # range (0, 0) means "no forming bar" and sends every tick to the slow path.
        self._label = self._lo = self._hi = 0
        self._sess = -1
        self._reset_ohlc()
        # Buckets ending at or before this are final (published, or flushed empty).
        self._final_ns = -(2**63)
        self._last_bucket: Bucket | None = None  # last published bucket
        self._last_close = float("nan")
        self.late = 0
        self.out_of_session = 0
        self.bars_published = 0
        self.empty_bars = 0
        self._accepted_closed = 0
        self._logged: set[str] = set()

    def _reset_ohlc(self) -> None:
        self._open = self._high = self._low = self._close = float("nan")
        self._open_ts = self._close_ts = 0
        self._volume = self._pv = 0.0
        self._trades = 0

    # ---- the hot path -------------------------------------------------------
    def on_tick(self, tick: Tick) -> None:
        """Add one trade. Ticks must already be valid (see engine.data.ticks)."""
        ts = tick.ts_ns
        if self._lo <= ts < self._hi:
            price = tick.price
            size = tick.size
            if price > self._high:
                self._high = price
            if price < self._low:
                self._low = price
            if ts >= self._close_ts:
                self._close = price
                self._close_ts = ts
            elif ts < self._open_ts:
                self._open = price
                self._open_ts = ts
            self._volume += size
            self._pv += price * size
            self._trades += 1
            if self._on_update is not None:
                self._publish_update()
            return
        self._other_bucket(tick)

    def on_ticks(self, ticks: Iterable[Tick]) -> None:
        """Add many trades (a replay or a burst) in order."""
        on_tick = self.on_tick
        for tick in ticks:
            on_tick(tick)

    # ---- bucket changes ------------------------------------------------------
    def _other_bucket(self, tick: Tick) -> None:
        ts = tick.ts_ns
        if self._hi and ts < self._lo:
            self._drop("late", tick, "trade older than the forming bar")
            return
        bucket = self.bucketing.bucket(ts)
        if bucket is not None and bucket[2] <= self._final_ns:
            self._drop("late", tick, "trade for a bar that is already closed")
            return
        if self._hi and ts >= self._hi:
            self._close_forming()  # the feed has moved past the forming bucket
        if bucket is None:
            self._drop("out_of_session", tick, "trade outside the market session")
            return
        if self.fill_empty:
            self._fill_until(lambda b: b[0] < bucket[0])
        self._start(bucket, tick)

    def _start(self, bucket: Bucket, tick: Tick) -> None:
        self._label, self._lo, self._hi, self._sess = bucket
        price, size, ts = tick.price, tick.size, tick.ts_ns
        self._open = self._high = self._low = self._close = price
        self._open_ts = self._close_ts = ts
        self._volume = size
        self._pv = price * size
        self._trades = 1
        if self._on_update is not None:
            self._publish_update()

    def flush(self, now_ns: int) -> None:
        """Close the forming bar if ``now_ns`` is past its end plus the late tolerance.

        Call it from a timer (``clock.every``) so a quiet market still closes its
        bars on time; with ``fill_empty`` it also emits the flat bars that are due.
        """
        cutoff = now_ns - self.late_tolerance_ns
        if self._hi and self._hi <= cutoff:
            self._close_forming()
        if self.fill_empty:
            self._fill_until(lambda b: b[2] <= cutoff)
        if cutoff > self._final_ns:
            self._final_ns = cutoff

    def _close_forming(self) -> None:
        volume = self._volume
        bar = Bar(self.symbol, self.timeframe, self._label, self._open, self._high, self._low,
                  self._close, volume, self._trades,
                  self._pv / volume if volume > 0 else self._close)
        self._last_bucket = (self._label, self._lo, self._hi, self._sess)
        if self._hi > self._final_ns:
            self._final_ns = self._hi
        self._last_close = self._close
        self._accepted_closed += self._trades
        self._label = self._lo = self._hi = 0
        self._reset_ohlc()
        self.bars_published += 1
        self._emit(bar)

    def _fill_until(self, due: Callable[[Bucket], bool]) -> None:
        """Emit flat bars for the empty session buckets after the last bar while ``due``."""
        if self._last_bucket is None or self._hi:
            return
        bucketing, price = self.bucketing, self._last_close
        nxt = bucketing.next_session_bucket(self._last_bucket)
        while nxt is not None and due(nxt):
            self._last_bucket = nxt
            if nxt[2] > self._final_ns:
                self._final_ns = nxt[2]
            self.empty_bars += 1
            self.bars_published += 1
            self._emit(Bar(self.symbol, self.timeframe, nxt[0], price, price, price, price,
                           0.0, 0, price))
            nxt = bucketing.next_session_bucket(nxt)

    # ---- publishing ----------------------------------------------------------
    def current_bar(self) -> Bar | None:
        """The forming bar, or None between bars."""
        if not self._hi:
            return None
        volume = self._volume
        return Bar(self.symbol, self.timeframe, self._label, self._open, self._high, self._low,
                   self._close, volume, self._trades,
                   self._pv / volume if volume > 0 else self._close)

    def _publish_update(self) -> None:
        try:
            bar = self.current_bar()
            if bar is not None and self._on_update is not None:
                self._on_update(bar)
        except Exception:
            log.exception("%s %s: on_update callback failed", self.symbol, self.timeframe)

    def _emit(self, bar: Bar) -> None:
        try:
            self._on_bar(bar)
        except Exception:
            log.exception("%s %s: on_bar callback failed", self.symbol, self.timeframe)

    def _drop(self, kind: str, tick: Tick, why: str) -> None:
        if kind == "late":
            self.late += 1
            count = self.late
        else:
            self.out_of_session += 1
            count = self.out_of_session
        if kind in self._logged:
            return
        self._logged.add(kind)
        message = (f"{self.symbol} {self.timeframe}: dropped a {why} "
                   f"(ts_ns={tick.ts_ns}); further ones are counted, not logged")
        log.warning(message)
        if self._on_quality is not None:
            try:
                self._on_quality(DataQualityEvent(kind=kind, symbol=self.symbol,
                                                  message=message, ts_ns=tick.ts_ns, count=count))
            except Exception:
                log.exception("%s: on_quality callback failed", self.symbol)

    # ---- counters ------------------------------------------------------------
    @property
    def accepted(self) -> int:
        """Trades that went into a bar (published or forming)."""
        return self._accepted_closed + self._trades

    @property
    def counts(self) -> dict[str, int]:
        return {
            "accepted": self.accepted,
            "late": self.late,
            "out_of_session": self.out_of_session,
            "bars": self.bars_published,
            "empty_bars": self.empty_bars,
        }
