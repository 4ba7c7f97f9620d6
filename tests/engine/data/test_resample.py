"""Resampling OHLCV frames by session: alignment, aggregation, agreement with live bars."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.calendars import get_calendar, to_ns
from engine.data.bars import BarAggregator
from engine.data.resample import resample
from engine.errors import DataValidationError
from engine.models import Bar, Tick

S = 1_000_000_000
MIN = 60 * S
ET = "America/New_York"


def minute_frame(start: str, end: str, *, tz: str = "UTC", seed: int = 1) -> pd.DataFrame:
    index = pd.date_range(pd.Timestamp(start, tz=tz), pd.Timestamp(end, tz=tz), freq="1min",
                          inclusive="left").tz_convert("UTC").rename("time")
    rng = np.random.default_rng(seed)
    close = 100 + rng.standard_normal(len(index)).cumsum()
    spread = rng.random(len(index))
    return pd.DataFrame({
        "open": close + rng.standard_normal(len(index)) * 0.1,
        "high": close + 1 + spread, "low": close - 1 - spread, "close": close,
        "volume": rng.integers(0, 100, len(index)).astype(float),
        "trades": rng.integers(0, 20, len(index)),
        "vwap": close + rng.standard_normal(len(index)) * 0.05,
    }, index=index)


def bars_to_frame(bars: list[Bar]) -> pd.DataFrame:
    index = pd.DatetimeIndex(np.array([b.ts_ns for b in bars], dtype="datetime64[ns]"),
                             name="time").tz_localize("UTC")
    return pd.DataFrame({
        "open": [b.open for b in bars], "high": [b.high for b in bars],
        "low": [b.low for b in bars], "close": [b.close for b in bars],
        "volume": [b.volume for b in bars], "trades": [b.trades for b in bars],
        "vwap": [b.vwap for b in bars]}, index=index)


def test_nyse_hourly_bars_start_at_0930_and_never_span_sessions() -> None:
    df = minute_frame("2025-11-26 04:00", "2025-11-28 20:00", tz=ET)  # incl. pre/post market
    out = resample(df, "1h", "XNYS")
    local = out.index.tz_convert(ET)
    assert [t.strftime("%m-%d %H:%M") for t in local] == [
        *(f"11-26 {h}:30" for h in ("09", "10", "11", "12", "13", "14", "15")),
        "11-28 09:30", "11-28 10:30", "11-28 11:30", "11-28 12:30"]  # early close 13:00
    # 15:30-16:00 holds 30 one-minute bars plus the 16:00 closing-print minute.
    last = df.loc[et_range("2025-11-26 15:30", "2025-11-26 16:01")]
    row = out.loc[pd.Timestamp("2025-11-26 15:30", tz=ET)]
    assert row["trades"] == last["trades"].sum()
    assert row["open"] == last["open"].iloc[0] and row["close"] == last["close"].iloc[-1]
    assert row["high"] == last["high"].max() and row["low"] == last["low"].min()
    assert row["volume"] == pytest.approx(last["volume"].sum())
    assert row["vwap"] == pytest.approx((last["vwap"] * last["volume"]).sum()
                                        / last["volume"].sum())
    assert out.attrs["dropped_rows"] > 0  # pre- and post-market rows


def et_range(a: str, b: str) -> slice:
    return slice(pd.Timestamp(a, tz=ET), pd.Timestamp(b, tz=ET) - pd.Timedelta("1ns"))


def test_daily_bar_is_one_per_session_labelled_at_the_open() -> None:
    df = minute_frame("2025-12-30 00:00", "2026-01-06 00:00", tz="Asia/Seoul")
    out = resample(df, "1d", "XKRX")
    assert [t.strftime("%m-%d %H:%M") for t in out.index.tz_convert("Asia/Seoul")] == [
        "12-30 09:00", "01-02 10:00", "01-05 09:00"]
    session = get_calendar("XKRX").session_for_label("2026-01-02")
    assert session is not None
    rows = df.loc[session.open:session.close]  # includes the 15:30 closing-print minute
    assert out["volume"].iloc[1] == pytest.approx(rows["volume"].sum())
    assert out["close"].iloc[1] == rows["close"].iloc[-1]


def test_crypto_resamples_on_the_utc_grid() -> None:
    df = minute_frame("2026-03-01 23:00", "2026-03-02 01:00")
    out = resample(df, "30m", "24/7")
    assert [t.strftime("%H:%M") for t in out.index] == ["23:00", "23:30", "00:00", "00:30"]
    assert (out["trades"].to_numpy() == df["trades"].to_numpy().reshape(4, 30).sum(1)).all()


@pytest.mark.parametrize("timeframe", ["3m", "5m", "15m", "30m", "1h", "1d"])
def test_resample_matches_a_groupby_on_the_session_buckets(timeframe: str) -> None:
    df = minute_frame("2026-01-05 00:00", "2026-01-08 00:00", tz="Asia/Seoul", seed=3)
    out = resample(df, timeframe, "XKRX")
    cal = get_calendar("XKRX")
    ts = df.index.as_unit("ns").asi8
    rows = []
    for session in cal.sessions("2026-01-05", "2026-01-07"):
        step = session.duration_ns + 60 * S if timeframe == "1d" else \
            pd.Timedelta(timeframe.replace("m", "min")).value
        start = session.open_ns
        while start < session.close_ns:
            end = min(start + step, session.close_ns)
            if end == session.close_ns:
                end += 60 * S  # the closing-print minute joins the last bucket
            part = df[(ts >= start) & (ts < end)]
            rows.append((start, part["open"].iloc[0], part["high"].max(), part["low"].min(),
                         part["close"].iloc[-1], part["volume"].sum(), part["trades"].sum()))
            start += step
    expected = pd.DataFrame(rows, columns=["t", "open", "high", "low", "close", "volume",
                                           "trades"])
    assert out.index.as_unit("ns").asi8.tolist() == expected["t"].tolist()
    for col in ("open", "high", "low", "close", "trades"):
        assert out[col].tolist() == expected[col].tolist()
    assert np.allclose(out["volume"], expected["volume"])


def test_empty_and_zero_volume_buckets() -> None:
    df = minute_frame("2026-03-01 00:00", "2026-03-01 00:10")
    df["volume"] = 0.0
    out = resample(df, "5m", None)
    assert (out["vwap"] == out["close"]).all()  # no volume: vwap is the close
    empty = resample(df.iloc[:0], "5m", "XNYS")
    assert empty.empty and list(empty.columns) == list(df.columns)
    assert empty.index.name == "time" and str(empty.index.tz) == "UTC"


def test_rows_without_prices_are_skipped() -> None:
    df = minute_frame("2026-03-01 00:00", "2026-03-01 00:10")
    df.iloc[2, df.columns.get_loc("high")] = np.nan
    out = resample(df, "5m", None)
    assert out["trades"].iloc[0] == df["trades"].iloc[[0, 1, 3, 4]].sum()
    assert out.attrs["dropped_rows"] == 1


def test_bad_frames_are_clear_user_errors() -> None:
    df = minute_frame("2026-03-01 00:00", "2026-03-01 00:10")
    with pytest.raises(DataValidationError, match="missing column.*volume"):
        resample(df.drop(columns="volume"), "5m")
    with pytest.raises(DataValidationError, match="timezone-aware"):
        resample(df.tz_localize(None), "5m")
    with pytest.raises(DataValidationError, match="sorted ascending.*row 1"):
        resample(df.iloc[[1, 0, 2]], "5m")
    with pytest.raises(DataValidationError, match="whole multiple"):
        resample(df.iloc[::2], "5m", source_timeframe="2m")  # 2m bars cannot make 5m ones
    sparse = resample(df.iloc[::2], "5m", source_timeframe="1m")  # quiet minutes are fine
    assert len(sparse) == 2
    with pytest.raises(ValueError, match="timeframe"):
        resample(df, "fortnight")


# ---- ticks -> 5m == ticks -> 1m -> 5m --------------------------------------------------
SPANS = {"XKRX": ("2025-12-30", "2026-01-06"), "XNYS": ("2025-11-26", "2025-12-02"),
         "24/7": ("2026-03-01", "2026-03-03")}


@st.composite
def sorted_ticks(draw: st.DrawFn) -> tuple[str, list[Tick]]:
    calendar = draw(st.sampled_from(sorted(SPANS)))
    lo, hi = (to_ns(pd.Timestamp(d, tz="UTC")) for d in SPANS[calendar])
    cal = get_calendar(calendar)
    edges = np.concatenate([cal.opens_ns, cal.closes_ns])
    edges = edges[(edges > lo) & (edges < hi)].tolist()
    near_edge = st.builds(lambda e, d: e + d, st.sampled_from(edges),
                          st.integers(-10 * MIN, 10 * MIN))
    stamps = sorted(draw(st.lists(st.one_of(st.integers(lo, hi), near_edge),
                                  min_size=1, max_size=120)))
    n = len(stamps)
    prices = draw(st.lists(st.floats(1, 1000), min_size=n, max_size=n))
    sizes = draw(st.lists(st.floats(0.001, 100), min_size=n, max_size=n))
    return calendar, [Tick("S", t, p, s) for t, p, s in zip(stamps, prices, sizes, strict=True)]


def aggregate(ticks: list[Tick], timeframe: str, calendar: str) -> list[Bar]:
    bars: list[Bar] = []
    agg = BarAggregator("S", timeframe, calendar, on_bar=bars.append)
    agg.on_ticks(ticks)
    agg.flush(ticks[-1].ts_ns + 10 * 86_400 * S)
    return bars


@settings(max_examples=120, deadline=None)
@given(sorted_ticks(), st.sampled_from(["3m", "5m", "15m", "1h", "1d"]))
def test_ticks_to_5m_equal_ticks_to_1m_resampled(stream: tuple[str, list[Tick]],
                                                 timeframe: str) -> None:
    calendar, ticks = stream
    direct = bars_to_frame(aggregate(ticks, timeframe, calendar))
    one_minute = bars_to_frame(aggregate(ticks, "1m", calendar))
    via = resample(one_minute, timeframe, calendar) if len(one_minute) else one_minute
    assert direct.index.equals(via.index)
    for col in ("open", "high", "low", "close", "trades"):
        assert direct[col].tolist() == via[col].tolist()
    assert np.allclose(direct["volume"], via["volume"], rtol=1e-12)
    assert np.allclose(direct["vwap"], via["vwap"], rtol=1e-9)
