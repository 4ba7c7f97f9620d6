"""Stored trades: round trips, equal times keep their order, re-imports replace."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from engine.storage import (
    Database,
    load_trades,
    schema,
    trade_symbols,
    upsert_trades,
    write_trades,
)


def trades_frame(times: list[str] | pd.DatetimeIndex, price: list[float] | None = None,
                 side: list[str] | None = None) -> pd.DataFrame:
    """A trades frame as ``read_trades`` returns it."""
    index = pd.DatetimeIndex(times, tz="UTC", name="time").as_unit("ns") \
        if not isinstance(times, pd.DatetimeIndex) else times
    n = len(index)
    price = price if price is not None else [100.0 + i for i in range(n)]
    side = side if side is not None else (["BUY", "SELL", ""] * n)[:n]
    return pd.DataFrame({"price": np.asarray(price, float),
                         "size": np.linspace(0.5, 1.5, n),
                         "side": np.asarray(side, dtype=object)}, index=index)


def stored_rows(db: Database) -> int:
    with db.connect() as conn:
        return conn.execute(select(func.count()).select_from(schema.trades)).scalar_one()


def test_trades_round_trip_and_equal_times_keep_their_order(db):
    frame = trades_frame(["2024-03-01 00:00:00", "2024-03-01 00:00:01", "2024-03-01 00:00:01",
                          "2024-03-01 00:00:01", "2024-03-01 00:00:02"],
                         price=[10.0, 12.0, 11.0, 13.5, 9.0],
                         side=["BUY", "SELL", "", "BUY", "SELL"])
    assert upsert_trades(db, "BTC/USDT", frame) == 5
    back = load_trades(db, "BTC/USDT")
    pd.testing.assert_frame_equal(back, frame)
    assert back["price"].tolist() == [10.0, 12.0, 11.0, 13.5, 9.0]  # not re-sorted by price


def test_importing_the_same_trades_again_replaces_them(db):
    frame = trades_frame(["2024-03-01 00:00:00", "2024-03-01 00:00:00", "2024-03-01 00:00:05"])
    with db.begin() as conn:
        first = write_trades(conn, "X", frame, "import")
    with db.begin() as conn:
        again = write_trades(conn, "X", frame, "import")
    assert (first.new, first.replaced) == (3, 0)
    assert (again.new, again.replaced) == (0, 3)
    assert stored_rows(db) == 3
    pd.testing.assert_frame_equal(load_trades(db, "X"), frame)


def test_a_corrected_file_with_fewer_trades_at_a_time_leaves_no_stale_trade(db):
    times = ["2024-03-01 00:00:00"] * 3 + ["2024-03-01 00:00:01"]
    upsert_trades(db, "X", trades_frame(times, price=[1.0, 2.0, 3.0, 4.0]))
    fixed = trades_frame(times[1:], price=[2.5, 3.5, 4.5])  # one print fewer at 00:00:00
    with db.begin() as conn:
        written = write_trades(conn, "X", fixed, "import")
    assert (written.rows, written.replaced) == (3, 3)
    pd.testing.assert_frame_equal(load_trades(db, "X"), fixed)


def test_trades_outside_a_new_files_times_are_kept(db):
    upsert_trades(db, "X", trades_frame(["2024-03-01 00:00:00", "2024-03-01 00:00:02"]))
    upsert_trades(db, "X", trades_frame(["2024-03-01 00:00:01"], price=[7.0]))
    back = load_trades(db, "X")
    assert back["price"].tolist() == [100.0, 7.0, 101.0]


def test_load_range_is_start_inclusive_and_end_exclusive(db):
    times = pd.date_range("2024-03-01", periods=10, freq="1s", tz="UTC", name="time")
    upsert_trades(db, "X", trades_frame(times.as_unit("ns")))
    start, end = times[2], times[5]
    part = load_trades(db, "X", start.value, end.value)
    assert list(part.index) == list(times[2:5])
    assert list(load_trades(db, "X", "2024-03-01 00:00:08").index) == list(times[8:])
    assert list(load_trades(db, "X", end_ns=times[1].value).index) == [times[0]]
    assert load_trades(db, "X", times[5].value, times[5].value).empty


def test_symbols_are_separate_and_listed_with_their_range_and_count(db):
    upsert_trades(db, "B", trades_frame(["2024-03-01 00:00:00", "2024-03-01 00:00:09"]))
    upsert_trades(db, "A", trades_frame(["2024-03-02 00:00:00"]))
    assert len(load_trades(db, "A")) == 1 and len(load_trades(db, "B")) == 2
    [a, b] = trade_symbols(db)
    assert (a.symbol, a.count, a.first) == ("A", 1, pd.Timestamp("2024-03-02", tz="UTC"))
    assert (b.symbol, b.count, b.last) == ("B", 2, pd.Timestamp("2024-03-01 00:00:09",
                                                                tz="UTC"))


def test_nothing_stored_gives_an_empty_trades_frame(db):
    empty = load_trades(db, "NONE")
    assert empty.empty and list(empty.columns) == ["price", "size", "side"]
    assert empty.index.name == "time" and str(empty.index.tz) == "UTC"
    assert trade_symbols(db) == []


@pytest.mark.parametrize("change, words", [
    (lambda f: f.assign(price=[1.0, 0.0]), "prices must be finite numbers above 0"),
    (lambda f: f.assign(size=[1.0, np.nan]), "sizes must be finite"),
    (lambda f: f.assign(side=["BUY", "buy"]), "side 'buy' is not BUY, SELL"),
    (lambda f: f.tz_localize(None), "tz-aware DatetimeIndex"),
    (lambda f: f.drop(columns="size"), "needs columns size"),
])
def test_bad_frames_are_refused_and_nothing_is_written(db, change, words):
    upsert_trades(db, "X", trades_frame(["2024-03-01"]))
    bad = change(trades_frame(["2024-03-02", "2024-03-03"]))
    with pytest.raises(ValueError, match=words):
        upsert_trades(db, "X", bad)
    assert stored_rows(db) == 1


def test_a_failure_in_the_middle_of_a_write_leaves_the_database_unchanged(db):
    before = trades_frame(["2024-03-01 00:00:00"], price=[5.0])
    upsert_trades(db, "X", before)
    big = trades_frame(pd.date_range("2024-03-01", periods=2_500, freq="1s", tz="UTC",
                                     name="time").as_unit("ns"))
    with pytest.raises(RuntimeError), db.begin() as conn:
        write_trades(conn, "X", big, "import", batch_rows=1_000)
        raise RuntimeError("after the write, before the commit")
    pd.testing.assert_frame_equal(load_trades(db, "X"), before)


@settings(max_examples=30, deadline=None)
@given(gaps=st.lists(st.integers(0, 3), min_size=1, max_size=60),
       sides=st.lists(st.sampled_from(["BUY", "SELL", ""]), min_size=60, max_size=60))
def test_any_trades_in_time_order_come_back_as_they_went_in(tmp_path_factory, gaps, sides):
    """Whatever the runs of equal times, a round trip (twice) returns the frame exactly."""
    ns = pd.Timestamp("2024-03-01", tz="UTC").value + np.cumsum(gaps) * 1_000
    index = pd.DatetimeIndex(ns.astype("M8[ns]"), name="time").tz_localize("UTC")
    frame = trades_frame(index, price=list(np.arange(1, len(ns) + 1) * 0.1),
                         side=sides[:len(ns)])
    with Database(tmp_path_factory.mktemp("h") / "t.sqlite3") as db:
        upsert_trades(db, "X", frame)
        upsert_trades(db, "X", frame)
        pd.testing.assert_frame_equal(load_trades(db, "X"), frame)
        assert stored_rows(db) == len(frame)
