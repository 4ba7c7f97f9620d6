"""Market calendars: KRX, NYSE and 24/7 sessions from exchange_calendars."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.calendars import (
    CalendarRangeError,
    Session,
    get_calendar,
    market_status,
    to_ns,
)
from engine.errors import UserError

KST = "Asia/Seoul"
ET = "America/New_York"


def kst(text: str) -> pd.Timestamp:
    return pd.Timestamp(text, tz=KST)


def et(text: str) -> pd.Timestamp:
    return pd.Timestamp(text, tz=ET)


# ---- KRX ---------------------------------------------------------------------
def test_krx_regular_session_is_0900_to_1530_seoul() -> None:
    krx = get_calendar("XKRX")
    session = krx.session_of(kst("2026-01-05 11:00"))
    assert session == Session(date(2026, 1, 5), to_ns(kst("2026-01-05 09:00")),
                              to_ns(kst("2026-01-05 15:30")))
    assert str(krx.tz) == KST
    assert krx.is_open(kst("2026-01-05 09:00"))
    assert krx.is_open(kst("2026-01-05 15:29:59.999"))
    assert not krx.is_open(kst("2026-01-05 15:30"))  # a session is [open, close)
    assert not krx.is_open(kst("2026-01-05 08:59:59"))


def test_krx_first_trading_day_of_2026_opens_late_at_1000() -> None:
    krx = get_calendar("XKRX")
    assert not krx.is_open(kst("2026-01-02 09:30"))
    assert krx.session_of(kst("2026-01-02 09:30")) is None
    assert krx.next_open(kst("2026-01-02 08:00")) == kst("2026-01-02 10:00")
    session = krx.session_of(kst("2026-01-02 10:00"))
    assert session is not None and session.label == date(2026, 1, 2)
    assert session.open == kst("2026-01-02 10:00") and session.close == kst("2026-01-02 15:30")


def test_krx_holidays_have_no_session() -> None:
    krx = get_calendar("XKRX")
    labels = [s.label for s in krx.sessions("2025-12-29", "2026-01-05")]
    # Year-end closing day (Dec 31) and New Year's Day are not trading days.
    assert labels == [date(2025, 12, 29), date(2025, 12, 30), date(2026, 1, 2), date(2026, 1, 5)]
    assert not krx.is_open(kst("2025-12-31 10:00"))
    assert krx.session_for_label("2026-01-01") is None
    # Seollal 2026 (Feb 16-18).
    seollal = [s.label.isoformat() for s in krx.sessions("2026-02-13", "2026-02-19")]
    assert seollal == ["2026-02-13", "2026-02-19"]
    assert krx.next_open(kst("2026-02-13 16:00")) == kst("2026-02-19 09:00")


# ---- NYSE --------------------------------------------------------------------
def test_nyse_early_close_after_thanksgiving() -> None:
    nyse = get_calendar("XNYS")
    assert not nyse.is_open(et("2025-11-27 11:00"))  # Thanksgiving
    assert nyse.is_open(et("2025-11-28 12:59"))
    assert not nyse.is_open(et("2025-11-28 13:30"))
    assert nyse.next_close(et("2025-11-28 10:00")) == et("2025-11-28 13:00")
    assert nyse.next_open(et("2025-11-26 17:00")) == et("2025-11-28 09:30")


def test_nyse_follows_daylight_saving_in_utc() -> None:
    nyse = get_calendar("XNYS")
    before, after = nyse.sessions("2026-03-06", "2026-03-09")
    assert before.open == pd.Timestamp("2026-03-06 14:30", tz="UTC")
    assert after.open == pd.Timestamp("2026-03-09 13:30", tz="UTC")
    assert after.open.tz_convert(ET).hour == 9 and after.close.tz_convert(ET).hour == 16


# ---- 24/7 --------------------------------------------------------------------
@given(st.integers(min_value=to_ns(pd.Timestamp("1995-01-01", tz="UTC")),
                   max_value=to_ns(pd.Timestamp("2090-01-01", tz="UTC"))))
def test_crypto_has_one_session_per_utc_day(ts_ns: int) -> None:
    cal = get_calendar("24/7")
    day = 86_400 * 10**9
    session = cal.session_of(ts_ns)
    assert session is not None
    assert session.open_ns == ts_ns - ts_ns % day and session.duration_ns == day
    assert session.label == pd.Timestamp(ts_ns, tz="UTC").date()
    assert cal.is_open(ts_ns)
    assert cal.next_close(ts_ns).value == session.close_ns


# ---- inputs, names, ranges --------------------------------------------------------
def test_timestamps_accepted_as_ns_timestamp_or_aware_datetime() -> None:
    krx = get_calendar("XKRX")
    stamp = kst("2026-01-05 10:15")
    forms = [stamp, stamp.value, stamp.to_pydatetime(),
             datetime(2026, 1, 5, 1, 15, tzinfo=UTC),
             datetime(2026, 1, 5, 10, 15, tzinfo=timezone(timedelta(hours=9))),
             np.int64(stamp.value), "2026-01-05T01:15:00Z"]
    sessions = {krx.session_of(form) for form in forms}
    assert len(sessions) == 1 and None not in sessions
    with pytest.raises(ValueError, match="no timezone"):
        krx.is_open(datetime(2026, 1, 5, 10, 15))
    with pytest.raises(TypeError):
        krx.is_open(True)


def test_unknown_name_is_a_user_error_listing_valid_names() -> None:
    with pytest.raises(UserError) as err:
        get_calendar("KOSPI-ISH")
    message = str(err.value)
    assert "KOSPI-ISH" in message
    for name in ("XKRX", "XNYS", "24/7", "XTKS"):
        assert name in message


def test_calendars_are_cached_and_names_case_insensitive() -> None:
    assert get_calendar("xkrx") is get_calendar("XKRX")
    assert get_calendar("NYSE") is get_calendar("XNYS")  # exchange_calendars alias


def test_time_outside_the_calendar_is_an_error_not_a_guess() -> None:
    nyse = get_calendar("XNYS")
    far = pd.Timestamp("2150-01-01", tz="UTC")
    with pytest.raises(CalendarRangeError, match="XNYS"):
        nyse.is_open(far)
    with pytest.raises(CalendarRangeError):
        nyse.next_open(far)
    labels = nyse.session_labels(pd.DatetimeIndex([far]))
    assert np.isnat(labels[0])


def test_lunch_break_is_closed_inside_its_session() -> None:
    hk = get_calendar("XHKG")
    noon = pd.Timestamp("2025-11-27 12:30", tz="Asia/Hong_Kong")
    assert hk.session_of(noon) is not None and not hk.is_open(noon)
    assert hk.next_open(noon) == pd.Timestamp("2025-11-27 13:00", tz="Asia/Hong_Kong")
    assert hk.next_close(noon - pd.Timedelta("2h")) == noon - pd.Timedelta("30min")
    index = pd.DatetimeIndex([noon, noon + pd.Timedelta("1h")]).tz_convert("UTC")
    assert hk.is_open_many(index).tolist() == [False, True]


# ---- vectorised ---------------------------------------------------------------------
@pytest.mark.parametrize("name", ["XKRX", "XNYS", "24/7"])
def test_session_labels_agree_with_session_of(name: str) -> None:
    cal = get_calendar(name)
    rng = np.random.default_rng(7)
    lo = to_ns(pd.Timestamp("2024-01-01", tz="UTC"))
    hi = to_ns(pd.Timestamp("2026-06-01", tz="UTC"))
    ts = np.sort(rng.integers(lo, hi, 3000))
    # Exactly on opens and closes too: the edges are where off-by-ones live.
    edges = np.concatenate([cal.opens_ns, cal.closes_ns, cal.closes_ns - 1])
    ts = np.concatenate([ts, edges[(edges >= lo) & (edges < hi)]])
    labels = cal.session_labels(pd.DatetimeIndex(ts, tz="UTC"))
    for t, label in zip(ts.tolist(), labels, strict=True):
        session = cal.session_of(t)
        if session is None:
            assert np.isnat(label)
        else:
            assert label == np.datetime64(session.label)


def test_session_labels_refuses_naive_index() -> None:
    with pytest.raises(ValueError, match="timezone"):
        get_calendar("XNYS").session_labels(pd.date_range("2026-01-05", periods=3, freq="h"))


def test_sessions_are_ordered_and_disjoint() -> None:
    for name in ("XKRX", "XNYS", "24/7"):
        cal = get_calendar(name)
        opens, closes = cal.opens_ns, cal.closes_ns
        assert (opens < closes).all()
        assert (closes[:-1] <= opens[1:]).all()


# ---- status bar ---------------------------------------------------------------------
def test_market_status_open_and_closed() -> None:
    status = market_status("XKRX", kst("2026-01-05 10:00"))
    assert status.is_open and status.session is not None
    assert status.next_close == kst("2026-01-05 15:30")
    assert status.next_open == kst("2026-01-06 09:00")
    assert status.summary() == "XKRX open until 15:30 KST"
    closed = market_status("XNYS", et("2025-11-28 18:30"))
    assert not closed.is_open and closed.session is None
    assert closed.next_open == et("2025-12-01 09:30")
    assert closed.summary() == "XNYS closed, opens Mon 12-01 09:30 EST"
    assert market_status("24/7", et("2025-11-28 18:30")).summary() == "24/7 open (continuous)"


@settings(max_examples=50)
@given(st.integers(min_value=to_ns(pd.Timestamp("2010-01-01", tz="UTC")),
                   max_value=to_ns(pd.Timestamp("2026-12-01", tz="UTC"))),
       st.sampled_from(["XKRX", "XNYS"]))
def test_next_open_and_close_bracket_the_state(ts_ns: int, name: str) -> None:
    cal = get_calendar(name)
    nxt_open, nxt_close = cal.next_open(ts_ns).value, cal.next_close(ts_ns).value
    assert nxt_open > ts_ns and nxt_close > ts_ns
    # Open now <=> the next close comes before the next open.
    assert cal.is_open(ts_ns) == (nxt_close < nxt_open)
    assert cal.is_open(nxt_open) and not cal.is_open(nxt_close)


def test_the_disk_cache_gives_the_library_sessions_back(tmp_path, monkeypatch):
    from engine import calendars

    monkeypatch.setenv("TRADING_TERMINAL_CACHE", str(tmp_path))
    built = calendars._from_library("XHKG")  # has a lunch break: exercise those arrays too
    calendars._save_cached(built)
    (stored,) = (tmp_path / "calendars").iterdir()
    loaded = calendars._load_cached("XHKG")
    assert loaded is not None and stored.suffix == ".npz"
    for attr in ("opens_ns", "closes_ns", "labels"):
        assert np.array_equal(getattr(loaded, attr), getattr(built, attr)), attr
    assert loaded._breaks == built._breaks and loaded._breaks
    assert str(loaded.tz) == str(built.tz)
    ts = pd.Timestamp("2024-03-05 12:30", tz="Asia/Hong_Kong")  # inside the lunch break
    assert loaded.is_open(ts) is built.is_open(ts) is False
    stored.write_bytes(b"not an npz")  # a corrupt cache is rebuilt, never trusted
    assert calendars._load_cached("XHKG") is None
