"""Ticks -> time-bucketed bars: alignment, closing, late ticks, gaps, sessions."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.calendars import get_calendar, to_ns
from engine.data.bars import DROPPED, BarAggregator, Bucketing
from engine.models import Bar, DataQualityEvent, Tick

S = 1_000_000_000
MIN = 60 * S


def kst(text: str) -> int:
    return to_ns(pd.Timestamp(text, tz="Asia/Seoul"))


def et(text: str) -> int:
    return to_ns(pd.Timestamp(text, tz="America/New_York"))


def utc(text: str) -> int:
    return to_ns(pd.Timestamp(text, tz="UTC"))


def tick(ts_ns: int, price: float = 100.0, size: float = 1.0, symbol: str = "005930") -> Tick:
    return Tick(symbol, ts_ns, price, size)


class Collector:
    def __init__(self, symbol: str = "005930", timeframe: str = "1m",
                 calendar: str | None = "XKRX", **kwargs: object) -> None:
        self.bars: list[Bar] = []
        self.agg = BarAggregator(symbol, timeframe, calendar, on_bar=self.bars.append,
                                 **kwargs)  # type: ignore[arg-type]

    def feed(self, *ticks: Tick) -> None:
        for t in ticks:
            self.agg.on_tick(t)


# ---- buckets -------------------------------------------------------------------
def test_a_minute_bar_holds_exactly_the_ticks_of_that_minute() -> None:
    c = Collector()
    c.feed(tick(kst("2026-01-05 09:00:00"), 100, 2),
           tick(kst("2026-01-05 09:00:30"), 103, 1),
           tick(kst("2026-01-05 09:00:59.999999999"), 99, 1))
    assert c.bars == []  # still forming
    c.feed(tick(kst("2026-01-05 09:01:00"), 101, 5))
    (bar,) = c.bars
    assert bar == Bar("005930", "1m", kst("2026-01-05 09:00"), 100, 103, 99, 99, 4.0, 3,
                      (100 * 2 + 103 + 99) / 4)
    current = c.agg.current_bar()
    assert current is not None and current.ts_ns == kst("2026-01-05 09:01")
    assert current.volume == 5 and current.trades == 1


def test_buckets_align_to_the_session_open() -> None:
    # KRX opens at 10:00 on the first trading day of 2026: the first 1h bar starts then.
    c = Collector(timeframe="1h")
    c.feed(tick(kst("2026-01-02 10:20")), tick(kst("2026-01-02 11:05")),
           tick(kst("2026-01-02 15:10")), tick(kst("2026-01-05 09:00")))
    assert [b.time.tz_convert("Asia/Seoul").strftime("%m-%d %H:%M") for b in c.bars] == [
        "01-02 10:00", "01-02 11:00", "01-02 15:00"]
    # NYSE hourly bars run 09:30-10:30, ...; the last one is 15:30-16:00.
    n = Collector(symbol="AAPL", timeframe="1h", calendar="XNYS")
    n.feed(tick(et("2026-01-05 09:31"), symbol="AAPL"), tick(et("2026-01-05 10:29"), symbol="AAPL"),
           tick(et("2026-01-05 10:30"), symbol="AAPL"), tick(et("2026-01-05 15:45"), symbol="AAPL"))
    n.agg.flush(et("2026-01-05 17:00"))
    assert [b.ts_ns for b in n.bars] == [et("2026-01-05 09:30"), et("2026-01-05 10:30"),
                                         et("2026-01-05 15:30")]
    assert n.bars[0].trades == 2


def test_crypto_buckets_align_to_utc() -> None:
    c = Collector(symbol="BTC/USDT", timeframe="15m", calendar=None)
    c.feed(tick(utc("2026-03-01 23:59:59"), symbol="BTC/USDT"),
           tick(utc("2026-03-02 00:00:00"), symbol="BTC/USDT"))
    assert [b.ts_ns for b in c.bars] == [utc("2026-03-01 23:45")]


def test_daily_bar_is_the_session_labelled_at_its_open() -> None:
    c = Collector(timeframe="1d")
    c.feed(tick(kst("2026-01-02 10:00"), 10), tick(kst("2026-01-02 15:29"), 12),
           tick(kst("2026-01-05 09:00"), 11))
    (bar,) = c.bars
    assert bar.ts_ns == kst("2026-01-02 10:00") and (bar.open, bar.close) == (10, 12)


# ---- closing bars ------------------------------------------------------------------
def test_flush_closes_a_quiet_bar_after_the_late_tolerance() -> None:
    c = Collector(late_tolerance_ns=2 * S)
    c.feed(tick(kst("2026-01-05 09:00:10")))
    c.agg.flush(kst("2026-01-05 09:01:01"))
    assert c.bars == []  # trades stamped 09:00:59 may still be in flight
    c.agg.flush(kst("2026-01-05 09:01:02"))
    assert [b.ts_ns for b in c.bars] == [kst("2026-01-05 09:00")]
    c.agg.flush(kst("2026-01-05 09:05:00"))
    assert len(c.bars) == 1  # no bar for minutes without trades


def test_a_tick_for_a_published_bar_is_dropped_as_late() -> None:
    events: list[DataQualityEvent] = []
    c = Collector(on_quality=events.append)
    c.feed(tick(kst("2026-01-05 09:00:10"), 100), tick(kst("2026-01-05 09:01:10"), 101))
    published = list(c.bars)
    c.feed(tick(kst("2026-01-05 09:00:50"), 500))
    c.feed(tick(kst("2026-01-05 09:00:51"), 500))
    assert c.bars == published and c.agg.late == 2
    assert [e.kind for e in events] == ["late"]  # published once per kind
    current = c.agg.current_bar()
    assert current is not None and current.high == 101
    # A bucket finalised by flush is closed too, even though nothing was published for it.
    c.agg.flush(kst("2026-01-05 09:03:30"))
    c.feed(tick(kst("2026-01-05 09:02:30"), 500))
    assert c.agg.late == 3 and all(b.high < 500 for b in c.bars)


def test_out_of_order_ticks_inside_the_bucket_are_accepted_by_timestamp() -> None:
    c = Collector()
    c.feed(tick(kst("2026-01-05 09:00:20"), 100), tick(kst("2026-01-05 09:00:05"), 90),
           tick(kst("2026-01-05 09:00:40"), 110), tick(kst("2026-01-05 09:00:30"), 105))
    bar = c.agg.current_bar()
    assert bar is not None
    assert (bar.open, bar.high, bar.low, bar.close, bar.trades) == (90, 110, 90, 110, 4)
    assert c.agg.late == 0


def test_ticks_outside_the_session_are_counted_and_dropped() -> None:
    c = Collector()
    c.feed(tick(kst("2026-01-05 08:59:59")), tick(kst("2026-01-05 16:00")),
           tick(kst("2026-01-01 10:00")))  # New Year's Day: a holiday
    assert c.agg.out_of_session == 3 and c.bars == [] and c.agg.current_bar() is None
    c.feed(tick(kst("2026-01-05 09:00")))
    assert c.agg.accepted == 1


def test_extended_hours_keep_ticks_in_buckets_that_never_overlap_the_session() -> None:
    c = Collector(symbol="AAPL", timeframe="1h", calendar="XNYS", extended_hours=True)
    times = ["2026-01-05 08:10", "2026-01-05 09:10", "2026-01-05 09:40", "2026-01-05 15:50",
             "2026-01-05 16:20", "2026-01-05 17:05"]
    c.feed(*[tick(et(t), symbol="AAPL") for t in times])
    c.agg.flush(et("2026-01-06 00:00"))
    labels = [pd.Timestamp(b.ts_ns, tz="UTC").tz_convert("America/New_York").strftime("%H:%M")
              for b in c.bars]
    assert labels == ["08:00", "09:00", "09:30", "15:30", "16:00", "17:00"]
    assert c.agg.out_of_session == 0
    daily = Collector(symbol="AAPL", timeframe="1d", calendar="XNYS", extended_hours=True)
    daily.feed(tick(et("2026-01-05 08:10"), symbol="AAPL"))
    assert daily.agg.out_of_session == 1  # daily bars are the regular session


def test_the_closing_print_joins_the_last_bar_of_the_session() -> None:
    c = Collector(late_tolerance_ns=2 * S)
    c.feed(tick(kst("2026-01-05 15:29:40"), 100, 1))
    c.feed(tick(kst("2026-01-05 15:30:00.200"), 104, 50))  # closing auction
    c.agg.flush(kst("2026-01-05 15:30:10"))
    assert c.bars == []  # the auction may still print
    c.agg.flush(kst("2026-01-05 15:31:02"))
    (bar,) = c.bars
    assert bar.ts_ns == kst("2026-01-05 15:29") and bar.close == 104 and bar.volume == 51


# ---- empty buckets -----------------------------------------------------------------
def test_empty_minutes_give_no_bar_by_default_and_flat_bars_when_asked() -> None:
    times = [("2026-01-05 15:27:30", 100.0), ("2026-01-05 15:29:10", 101.0),
             ("2026-01-06 09:01:10", 99.0)]
    plain = Collector()
    plain.feed(*[tick(kst(t), p) for t, p in times])
    assert [b.ts_ns for b in plain.bars] == [kst("2026-01-05 15:27"), kst("2026-01-05 15:29")]

    filled = Collector(fill_empty=True)
    filled.feed(*[tick(kst(t), p) for t, p in times])
    labels = [pd.Timestamp(b.ts_ns, tz="UTC").tz_convert("Asia/Seoul").strftime("%d %H:%M")
              for b in filled.bars]
    # 15:28 is flat at the previous close; the night is not filled; 09:00 is.
    assert labels == ["05 15:27", "05 15:28", "05 15:29", "06 09:00"]
    flat = filled.bars[1]
    assert (flat.open, flat.high, flat.low, flat.close, flat.volume, flat.trades) == (
        100.0, 100.0, 100.0, 100.0, 0.0, 0)
    assert filled.bars[3].close == 101.0 and filled.agg.empty_bars == 2


def test_flush_emits_due_flat_bars_in_a_quiet_market() -> None:
    c = Collector(fill_empty=True, late_tolerance_ns=0)
    c.feed(tick(kst("2026-01-05 09:00:10"), 50))
    c.agg.flush(kst("2026-01-05 09:03:30"))
    assert [b.ts_ns for b in c.bars] == [kst("2026-01-05 09:00"), kst("2026-01-05 09:01"),
                                         kst("2026-01-05 09:02")]
    c.feed(tick(kst("2026-01-05 09:02:50"), 60))  # its bar was already published flat
    assert c.agg.late == 1


# ---- callbacks -----------------------------------------------------------------------
def test_on_update_publishes_the_forming_bar() -> None:
    updates: list[Bar] = []
    agg = BarAggregator("X", "1m", "XKRX", on_bar=lambda b: None, on_update=updates.append)
    agg.on_tick(tick(kst("2026-01-05 09:00:01"), 10, 1))
    agg.on_tick(tick(kst("2026-01-05 09:00:02"), 12, 3))
    assert [(u.close, u.volume, u.trades) for u in updates] == [(10, 1, 1), (12, 4, 2)]
    assert updates[-1].vwap == pytest.approx((10 + 36) / 4)


def test_a_failing_callback_does_not_break_the_feed() -> None:
    seen: list[Bar] = []

    def bad(bar: Bar) -> None:
        seen.append(bar)
        raise RuntimeError("strategy bug")

    agg = BarAggregator("X", "1m", "XKRX", on_bar=bad, on_update=bad)
    for k in range(3):
        agg.on_tick(tick(kst("2026-01-05 09:00") + k * MIN))
    assert agg.bars_published == 2 and agg.accepted == 3


def test_bad_settings_are_refused() -> None:
    with pytest.raises(ValueError, match="timeframe"):
        BarAggregator("X", "7x", None, on_bar=print)
    with pytest.raises(ValueError, match="late_tolerance"):
        BarAggregator("X", "1m", None, on_bar=print, late_tolerance_ns=-1)


# ---- invariants ------------------------------------------------------------------------
SESSION_SPAN = {"XKRX": ("2025-12-29", "2026-01-07"), "XNYS": ("2025-11-25", "2025-12-02"),
                "24/7": ("2026-03-01", "2026-03-03")}


@st.composite
def tick_streams(draw: st.DrawFn) -> tuple[str, str, list[Tick]]:
    calendar = draw(st.sampled_from(sorted(SESSION_SPAN)))
    timeframe = draw(st.sampled_from(["1m", "3m", "5m", "15m", "1h", "1d"]))
    lo, hi = (utc(d) for d in SESSION_SPAN[calendar])
    # Cluster the ticks around session edges, where buckets are cut and clipped.
    edges = np.concatenate([get_calendar(calendar).opens_ns, get_calendar(calendar).closes_ns])
    edges = edges[(edges > lo) & (edges < hi)].tolist()
    offsets = st.integers(min_value=-3 * MIN, max_value=3 * MIN)
    anywhere = st.integers(min_value=lo, max_value=hi)
    near_edge = st.builds(lambda e, d: e + d, st.sampled_from(edges), offsets)
    stamps = sorted(draw(st.lists(st.one_of(anywhere, near_edge), min_size=1, max_size=80)))
    prices = draw(st.lists(st.floats(1, 1000), min_size=len(stamps), max_size=len(stamps)))
    size = st.one_of(st.just(0.0), st.floats(1e-8, 50))  # real lots, not subnormals
    sizes = draw(st.lists(size, min_size=len(stamps), max_size=len(stamps)))
    return calendar, timeframe, [Tick("S", t, p, s) for t, p, s in
                                 zip(stamps, prices, sizes, strict=True)]


@settings(max_examples=150, deadline=None)
@given(tick_streams(), st.booleans())
def test_bars_match_a_vectorised_grouping_of_the_same_ticks(
        stream: tuple[str, str, list[Tick]], extended: bool) -> None:
    calendar, timeframe, ticks = stream
    bars: list[Bar] = []
    agg = BarAggregator("S", timeframe, calendar, on_bar=bars.append, extended_hours=extended)
    agg.on_ticks(ticks)
    agg.flush(ticks[-1].ts_ns + 3 * 86_400 * S)

    ts = np.array([t.ts_ns for t in ticks], dtype=np.int64)
    labels = Bucketing(timeframe, calendar, extended_hours=extended).bucket_labels(ts)
    kept = labels != DROPPED
    frame = pd.DataFrame({"label": labels[kept],
                          "price": np.array([t.price for t in ticks])[kept],
                          "size": np.array([t.size for t in ticks])[kept]})
    grouped = frame.groupby("label", sort=True)
    expected = pd.DataFrame({
        "open": grouped["price"].first(), "high": grouped["price"].max(),
        "low": grouped["price"].min(), "close": grouped["price"].last(),
        "volume": grouped["size"].sum(), "trades": grouped.size()})
    assert [b.ts_ns for b in bars] == expected.index.tolist()
    assert agg.accepted == int(kept.sum()) and agg.late == 0
    assert agg.out_of_session == int((~kept).sum())
    for bar, (_, row) in zip(bars, expected.iterrows(), strict=True):
        assert (bar.open, bar.high, bar.low, bar.close) == (
            row["open"], row["high"], row["low"], row["close"])
        assert bar.trades == row["trades"]
        assert bar.volume == pytest.approx(row["volume"])
        assert bar.low <= bar.vwap * (1 + 1e-12) and bar.vwap <= bar.high * (1 + 1e-12)
