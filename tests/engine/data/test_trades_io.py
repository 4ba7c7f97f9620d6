"""Trade files: read as written, or refused with the file, the line and why."""

from __future__ import annotations

import re

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.data.trades_io import bars_of_trades, is_trades_file, read_trades
from engine.errors import DataValidationError


def write(tmp_path, text: str, name: str = "t.csv"):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_iso_text_and_exchange_milliseconds_in_one_file(tmp_path):
    path = write(tmp_path, "timestamp,price,qty,side\n"
                           "2024-01-01T09:00:01+09:00,100,1,buy\n"
                           "1704067202000,100.5,2,SELL\n"
                           "2024-01-01 00:00:03,101,0.5,\n")
    assert is_trades_file(path)
    trades = read_trades(path)
    assert trades.index.tz is not None and trades.index.name == "time"
    assert [t.isoformat() for t in trades.index] == [
        "2024-01-01T00:00:01+00:00", "2024-01-01T00:00:02+00:00", "2024-01-01T00:00:03+00:00"]
    assert trades["price"].tolist() == [100.0, 100.5, 101.0]
    assert trades["size"].tolist() == [1.0, 2.0, 0.5]
    assert trades["side"].tolist() == ["BUY", "SELL", ""]


def test_times_without_an_offset_are_read_in_the_given_zone(tmp_path):
    path = write(tmp_path, "time,price,size\n2024-01-02 09:00:00,70000,10\n")
    assert read_trades(path, tz="Asia/Seoul").index[0] == pd.Timestamp("2024-01-02 00:00",
                                                                       tz="UTC")


@pytest.mark.parametrize("rows, message", [
    ("2024-01-01T00:00:05Z,100,1\n2024-01-01T00:00:04Z,100,1\n",
     "line 3: 2024-01-01 00:00:04+00:00 is before the trade above it"),
    ("2024-01-01T00:00:05Z,-1,1\n", "line 2: price '-1' is not a number above 0"),
    ("2024-01-01T00:00:05Z,1,1\n2024-01-01T00:00:06Z,1,lots\n",
     "line 3: size 'lots' is not a number of at least 0"),
    ("yesterday,1,1\n", "line 2: 'yesterday' is not a time"),
])
def test_a_bad_row_is_named_by_its_line(tmp_path, rows, message):
    path = write(tmp_path, "time,price,size\n" + rows)
    with pytest.raises(DataValidationError, match="^" + re.escape(f"{path}, {message}")):
        read_trades(path)


def test_missing_columns_and_unknown_sides_are_refused(tmp_path):
    path = write(tmp_path, "time,price\n2024-01-01T00:00:05Z,1\n")
    assert not is_trades_file(path)
    with pytest.raises(DataValidationError, match="needs a time column .* price and a size"):
        read_trades(path)
    path = write(tmp_path, "time,price,size,side\n2024-01-01T00:00:05Z,1,1,up\n", "s.csv")
    with pytest.raises(DataValidationError, match="line 2: side 'up' is not buy or sell"):
        read_trades(path)
    ohlcv = write(tmp_path, "time,open,high,low,close,volume,price,size\n", "bars.csv")
    assert not is_trades_file(ohlcv)  # a bar file with extra columns stays a bar file


def test_parquet_rows_are_numbered_from_one(tmp_path):
    frame = pd.DataFrame({"time": ["2024-01-01T00:00:00Z", "2024-01-01T00:00:01Z"],
                          "price": [1.0, float("nan")], "size": [1.0, 1.0]})
    path = tmp_path / "t.parquet"
    frame.to_parquet(path)
    assert is_trades_file(path)
    with pytest.raises(DataValidationError, match="row 2: price nan"):
        read_trades(path)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 3_600_000), st.integers(1, 10_000),
                          st.integers(0, 1_000)), min_size=1, max_size=200))
def test_bars_hold_every_trade_once(prints):
    prints.sort()
    index = pd.DatetimeIndex([pd.Timestamp("2024-01-01", tz="UTC") + pd.Timedelta(ms, "ms")
                              for ms, _, _ in prints], name="time")
    trades = pd.DataFrame({"price": [p / 100 for _, p, _ in prints],
                           "size": [q / 10 for _, _, q in prints]}, index=index)
    bars = bars_of_trades("BTC/USDT", trades, "1m", "24/7")
    assert bars["trades"].sum() == len(trades)
    assert bars["volume"].sum() == pytest.approx(trades["size"].sum())
    minute = trades.index.floor("1min")
    for label, bar in bars.iterrows():
        mine = trades[minute == label]
        assert (bar.open, bar.close) == (mine["price"].iloc[0], mine["price"].iloc[-1])
        assert (bar.high, bar.low) == (mine["price"].max(), mine["price"].min())
