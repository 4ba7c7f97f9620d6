"""Stored bars: upsert semantics, exact round trips, ranges, atomic writes."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy.exc import IntegrityError

from engine.storage import bar_symbols, load_bars, upsert_bars, write_bars
from tests.engine.storage.conftest import ohlcv


def _stored_rows(db, symbol="X", timeframe="1m"):
    return load_bars(db, symbol, timeframe)


def test_upsert_then_load_returns_the_same_frame(db):
    frame = ohlcv(500)
    assert upsert_bars(db, "X", "1m", frame) == 500
    back = load_bars(db, "X", "1m")
    pd.testing.assert_frame_equal(back, frame, check_freq=False)
    assert back.index.name == "time" and str(back.index.tz) == "UTC"


def test_upserting_the_same_bars_twice_changes_nothing(db):
    frame = ohlcv(300)
    upsert_bars(db, "X", "1m", frame)
    upsert_bars(db, "X", "1m", frame)
    pd.testing.assert_frame_equal(load_bars(db, "X", "1m"), frame, check_freq=False)
    assert bar_symbols(db)[0].count == 300


def test_upserting_overlapping_bars_replaces_them_and_keeps_the_rest(db):
    old = ohlcv(100, seed=1)
    new = ohlcv(100, start="2024-01-02 01:00", seed=2, price=200.0)  # last 40 overlap
    upsert_bars(db, "X", "1m", old)
    upsert_bars(db, "X", "1m", new, source="broker")
    back = load_bars(db, "X", "1m")
    assert len(back) == 160
    pd.testing.assert_frame_equal(back.loc[new.index], new, check_freq=False)
    kept = old.index.difference(new.index)
    pd.testing.assert_frame_equal(back.loc[kept], old.loc[kept], check_freq=False)


def test_series_are_separate_by_symbol_and_timeframe(db):
    upsert_bars(db, "A", "1m", ohlcv(10))
    upsert_bars(db, "A", "5m", ohlcv(4, freq="5min"))
    upsert_bars(db, "B", "1m", ohlcv(7))
    listing = [(s.symbol, s.timeframe, s.count) for s in bar_symbols(db)]
    assert listing == [("A", "1m", 10), ("A", "5m", 4), ("B", "1m", 7)]
    first = bar_symbols(db)[0]
    assert first.first == pd.Timestamp("2024-01-02 00:00", tz="UTC")
    assert first.last == pd.Timestamp("2024-01-02 00:09", tz="UTC")


def test_timeframes_are_stored_by_their_canonical_name(db):
    upsert_bars(db, "A", " 1H ", ohlcv(3, freq="1h"))
    assert len(load_bars(db, "A", "1h")) == 3


def test_load_range_is_inclusive_and_naive_times_are_utc(db):
    upsert_bars(db, "X", "1m", ohlcv(60))
    part = load_bars(db, "X", "1m", start="2024-01-02 00:10", end="2024-01-02 00:19")
    assert len(part) == 10
    assert part.index[0] == pd.Timestamp("2024-01-02 00:10", tz="UTC")
    seoul = load_bars(db, "X", "1m", start=pd.Timestamp("2024-01-02 09:30", tz="Asia/Seoul"))
    assert seoul.index[0] == pd.Timestamp("2024-01-02 00:30", tz="UTC")


def test_nothing_stored_gives_an_empty_ohlcv_frame(db):
    empty = load_bars(db, "NONE", "1m")
    assert empty.empty and list(empty.columns) == ["open", "high", "low", "close", "volume"]
    assert str(empty.index.tz) == "UTC"


def test_trades_and_vwap_round_trip_and_may_be_partly_unknown(db):
    frame = ohlcv(6)
    frame["trades"] = np.arange(6, dtype=np.int64)
    frame["vwap"] = frame["close"]
    frame.iloc[0, frame.columns.get_loc("vwap")] = np.nan
    upsert_bars(db, "X", "1m", frame.iloc[:4])
    upsert_bars(db, "X", "1m", frame.iloc[4:][["open", "high", "low", "close", "volume"]])
    back = load_bars(db, "X", "1m")
    assert back["trades"].dtype == "Int64"
    assert back["trades"].tolist()[:4] == [0, 1, 2, 3] and back["trades"].isna().sum() == 2
    assert np.isnan(back["vwap"].iloc[0]) and back["vwap"].iloc[1] == frame["vwap"].iloc[1]


@settings(max_examples=50, deadline=None)
@given(prices=st.lists(st.floats(min_value=1e-9, max_value=1e12, allow_nan=False),
                       min_size=1, max_size=30))
def test_float_prices_come_back_bit_for_bit(tmp_path_factory, prices):
    from engine.storage import Database

    db = Database(tmp_path_factory.mktemp("f") / "f.sqlite3")
    p = np.array(prices)
    index = pd.date_range("2024-01-01", periods=len(p), freq="1min", tz="UTC",
                          name="time").as_unit("ns")
    frame = pd.DataFrame({"open": p, "high": p, "low": p, "close": p, "volume": p}, index=index)
    upsert_bars(db, "F", "1m", frame)
    back = load_bars(db, "F", "1m")
    db.close()
    assert back["close"].to_numpy().tobytes() == p.tobytes()


def test_quotes_in_a_symbol_are_stored_literally(db):
    nasty = "X'); DROP TABLE bars; --"
    upsert_bars(db, nasty, "1m", ohlcv(3))
    upsert_bars(db, "it's", "1m", ohlcv(2))
    assert {s.symbol: s.count for s in bar_symbols(db)} == {nasty: 3, "it's": 2}


def test_a_failure_in_the_middle_of_a_write_leaves_the_database_unchanged(db):
    before = ohlcv(50)
    upsert_bars(db, "X", "1m", before)
    update = ohlcv(1000, seed=9, price=300.0)
    # Row 700 breaks the table's CHECK (high >= low); batches of 100 rows mean
    # seven batches are written before the database refuses the eighth.
    update.iloc[700, update.columns.get_loc("high")] = update["low"].iloc[700] - 1
    with pytest.raises(IntegrityError), db.begin() as conn:
        write_bars(conn, "X", "1m", update, "import", batch_rows=100)
    pd.testing.assert_frame_equal(load_bars(db, "X", "1m"), before, check_freq=False)


@pytest.mark.parametrize("bad", [
    lambda f: f.tz_localize(None),  # no timezone
    lambda f: f.drop(columns="volume"),
    lambda f: f.assign(close=np.nan),
])
def test_frames_that_are_not_ohlcv_are_refused(db, bad):
    with pytest.raises(ValueError):
        upsert_bars(db, "X", "1m", bad(ohlcv(3)))
    assert load_bars(db, "X", "1m").empty
