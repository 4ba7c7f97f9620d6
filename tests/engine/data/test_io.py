"""OHLCV import/export: every validation rule names file, line and rule; nothing half-done."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.data.io import (
    OhlcvValidationError,
    export_bars,
    import_bars,
    read_ohlcv,
)
from engine.errors import DataValidationError, UserError
from engine.storage import Database, load_bars, upsert_bars

HEADER = "time,open,high,low,close,volume\n"
GOOD_ROW = "{t},100,101,99,100.5,10\n"


def utc(text: str) -> pd.Timestamp:
    return pd.Timestamp(text, tz="UTC")


def write(tmp_path: Path, text: str, name: str = "bars.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def rows(n: int, start: str = "2024-01-02 00:00:00Z") -> str:
    times = pd.date_range(pd.Timestamp(start), periods=n, freq="1min")
    return "".join(GOOD_ROW.format(t=t.isoformat()) for t in times)


@pytest.fixture
def db(tmp_path):
    database = Database(tmp_path / "io.sqlite3")
    yield database
    database.close()


def sample_frame(n: int, seed: int = 3) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    close = 50 * np.exp(np.cumsum(rng.normal(0, 0.01, n)))
    open_ = np.concatenate([[50.0], close[:-1]])
    wick = rng.uniform(0, 0.5, n)
    return pd.DataFrame({
        "open": open_, "high": np.maximum(open_, close) + wick,
        "low": np.minimum(open_, close) - wick * 0.5, "close": close,
        "volume": rng.integers(0, 10_000, n).astype(float),
    }, index=pd.date_range("2024-03-01 09:00", periods=n, freq="1min", tz="Asia/Seoul",
                           name="time").tz_convert("UTC").as_unit("ns"))


# ---- reading good files ---------------------------------------------------------------


def test_times_with_offsets_become_utc_and_columns_are_case_insensitive(tmp_path):
    path = write(tmp_path, "\ufeffTime,OPEN,High,low,Close,Volume,Adj Close\n"
                           "2024-01-02T09:00:00+09:00,100,101,99,100.5,10,1\n"
                           "2024-01-02 09:01:00+09:00,100,101,99,100.5,10,1\n")
    frame = read_ohlcv(path)
    assert list(frame.columns) == ["open", "high", "low", "close", "volume"]
    assert frame.index.tolist() == [utc("2024-01-02 00:00"), utc("2024-01-02 00:01")]
    assert frame.index.name == "time" and frame.index.dtype == "datetime64[ns, UTC]"


def test_naive_times_are_read_in_the_given_zone(tmp_path):
    path = write(tmp_path, HEADER + "2024-07-01 09:30:00,1,2,0.5,1.5,3\n")
    assert read_ohlcv(path, tz="America/New_York").index[0] == utc("2024-07-01 13:30")
    assert read_ohlcv(path, tz="Asia/Seoul").index[0] == utc("2024-07-01 00:30")


def test_offsets_that_change_with_daylight_saving_are_fine(tmp_path):
    path = write(tmp_path, HEADER + "2024-03-08 09:30:00-05:00,1,2,0.5,1.5,3\n"
                                    "2024-03-11 09:30:00-04:00,1,2,0.5,1.5,3\n")
    assert read_ohlcv(path).index.tolist() == [utc("2024-03-08 14:30"), utc("2024-03-11 13:30")]


def test_the_repeated_autumn_hour_is_resolved_by_order(tmp_path):
    path = write(tmp_path, HEADER + "".join(
        f"2024-11-03 {t},1,2,0.5,1.5,3\n" for t in ("00:30", "01:30", "01:30", "02:30")))
    index = read_ohlcv(path, tz="America/New_York").index
    assert index.tolist() == [utc("2024-11-03 04:30"), utc("2024-11-03 05:30"),
                              utc("2024-11-03 06:30"), utc("2024-11-03 07:30")]


@pytest.mark.parametrize("header,values,tz", [
    ("timestamp", ["1704067200", "1704067260"], None),  # epoch seconds
    ("timestamp", ["1704067200000", "1704067260000"], None),  # epoch milliseconds
    ("datetime", ["2024-01-01T00:00:00Z", "2024-01-01T00:01:00Z"], None),
    ("date", ["20240101 09:00", "20240101 09:01"], "Asia/Seoul"),
    ("time", ["202401010900", "202401010901"], "Asia/Seoul"),
    ("Date", ["2024/01/01 09:00", "2024/01/01 09:01"], "Asia/Seoul"),
])
def test_common_time_formats(tmp_path, header, values, tz):
    text = f"{header},open,high,low,close,volume\n" + "".join(
        f"{v},1,2,0.5,1.5,3\n" for v in values)
    index = read_ohlcv(write(tmp_path, text), tz=tz).index
    assert index.tolist() == [utc("2024-01-01 00:00"), utc("2024-01-01 00:01")]


def test_row_counters_are_not_taken_for_epoch_times(tmp_path):
    text = HEADER + "".join(f"{i},1,2,0.5,1.5,3\n" for i in range(1, 4))
    with pytest.raises(OhlcvValidationError) as err:
        read_ohlcv(write(tmp_path, text))
    assert [(p.line, p.rule) for p in err.value.problems] == [
        (2, "time_invalid"), (3, "time_invalid"), (4, "time_invalid")]


def test_separate_date_and_time_columns(tmp_path):
    text = ("date,time,open,high,low,close,volume\n"
            "20240102,900,1,2,0.5,1.5,3\n20240102,0901,1,2,0.5,1.5,3\n")
    index = read_ohlcv(write(tmp_path, text), tz="Asia/Seoul").index
    assert index.tolist() == [utc("2024-01-02 00:00"), utc("2024-01-02 00:01")]


def test_optional_trades_and_vwap_are_kept(tmp_path):
    text = ("time,open,high,low,close,volume,trades,vwap\n"
            "2024-01-02T00:00Z,1,2,0.5,1.5,3,7,1.2\n2024-01-02T00:01Z,1,2,0.5,1.5,3,0,\n")
    frame = read_ohlcv(write(tmp_path, text))
    assert frame["trades"].tolist() == [7, 0] and frame["trades"].dtype == np.int64
    assert frame["vwap"].iloc[0] == 1.2 and np.isnan(frame["vwap"].iloc[1])


def test_blank_lines_are_skipped_and_line_numbers_still_match_the_file(tmp_path):
    text = (HEADER + GOOD_ROW.format(t="2024-01-02T00:00Z") + "\n   \n"
            + "2024-01-02T00:01Z,100,99,98,100.5,10\n")  # line 5: high below close
    with pytest.raises(OhlcvValidationError) as err:
        read_ohlcv(write(tmp_path, text))
    assert [(p.line, p.rule) for p in err.value.problems] == [(5, "high_below_open_close")]


# ---- every rule, with its line ----------------------------------------------------------

BAD_ROWS = [
    ("2024-01-02T00:03Z,100,99,98,100.5,10", "high_below_open_close", "high 99 is below"),
    ("2024-01-02T00:03Z,100,101,100.2,100.5,10", "low_above_open_close", "low 100.2 is above"),
    ("2024-01-02T00:03Z,100,101,99,100.5,-1", "volume_negative", "volume -1 is negative"),
    ("2024-01-02T00:03Z,0,101,99,100.5,1", "open_not_positive", "open 0 is not above zero"),
    ("2024-01-02T00:03Z,-5,101,-6,100.5,1", "open_not_positive", "open -5"),
    ("2024-01-02T00:03Z,100,101,99,,1", "close_missing", "close is missing"),
    ("2024-01-02T00:03Z,100,101,99,abc,1", "close_not_number", "close 'abc' is not a number"),
    ("2024-01-02T00:03Z,100,inf,99,100.5,1", "high_not_finite", "not a finite number"),
    ("2024-01-02T00:03Z,100,101,99,100.5,nan", "volume_missing", "volume is missing"),
    ("2024-01-02T00:02Z,100,101,99,100.5,1", "time_repeated", "repeats line 4"),
    ("2024-01-02T00:01:30Z,100,101,99,100.5,1", "time_not_increasing", "is before line 4"),
    ("yesterday,100,101,99,100.5,1", "time_invalid", "time 'yesterday' is not a date/time"),
    (",100,101,99,100.5,1", "time_missing", "time is missing"),
    ("2024-01-02T00:03,100,101,99,100.5,1", "time_zone_mixed", "has no UTC offset"),
]


@pytest.mark.parametrize("bad,rule,words", BAD_ROWS, ids=[r[1] + str(i) for i, r in
                                                         enumerate(BAD_ROWS)])
def test_each_rule_names_the_file_the_line_and_the_rule(tmp_path, bad, rule, words):
    # Lines 2-4 are fine, line 5 breaks one rule, line 6 is fine again.
    text = HEADER + rows(3) + bad + "\n" + GOOD_ROW.format(t="2024-01-02T00:10Z")
    path = write(tmp_path, text)
    with pytest.raises(DataValidationError) as err:
        read_ohlcv(path)
    problems = err.value.problems
    assert {p.line for p in problems} == {5}
    assert rule in {p.rule for p in problems}
    message = str(err.value)
    assert str(path) in message and "line 5" in message and words in message


def test_high_below_low_is_named_too(tmp_path):
    path = write(tmp_path, HEADER + "2024-01-02T00:00Z,100,98,99,100,1\n")
    with pytest.raises(OhlcvValidationError) as err:
        read_ohlcv(path)
    assert "high_below_low" in {p.rule for p in err.value.problems}


def test_naive_times_without_a_zone_are_refused(tmp_path):
    path = write(tmp_path, HEADER + "2024-01-02 09:00:00,1,2,0.5,1.5,3\n")
    with pytest.raises(OhlcvValidationError, match=r"line 2: .*no timezone.*--tz") as err:
        read_ohlcv(path)
    assert err.value.problems[0].rule == "time_no_zone"


def test_a_local_time_skipped_by_daylight_saving_is_refused(tmp_path):
    path = write(tmp_path, HEADER + "2024-03-10 01:30:00,1,2,0.5,1.5,3\n"
                                    "2024-03-10 02:30:00,1,2,0.5,1.5,3\n")
    with pytest.raises(OhlcvValidationError) as err:
        read_ohlcv(path, tz="America/New_York")
    assert [(p.line, p.rule) for p in err.value.problems] == [(3, "time_dst")]


@pytest.mark.parametrize("text,words", [
    ("time,open,high,low,close\n2024-01-02T00:00Z,1,2,0.5,1.5\n", "line 1: missing column volume"),
    ("when,open,high,low,close,volume\n", "line 1: no time column"),
    ("time,open,Open,high,low,close,volume\n", "column 'open' appears twice"),
    (HEADER + rows(2) + "2024-01-02T00:05Z,1,2,0.5,1.5,3,9\n", "line 4: expected 6 fields"),
    (HEADER + "2024-01-02T00:00Z,1,2,0.5,1.5,3,9\n", "line 2: every data line has one field"),
    ("", "the file is empty"),
])
def test_malformed_files_are_refused_with_where(tmp_path, text, words):
    with pytest.raises(DataValidationError, match=words):
        read_ohlcv(write(tmp_path, text))


def test_only_the_first_five_offending_lines_are_listed_with_the_total(tmp_path):
    good = rows(30)
    lines = good.splitlines()
    for i in range(0, 30, 2):  # every other line: volume negative
        lines[i] = lines[i].rsplit(",", 1)[0] + ",-1"
    path = write(tmp_path, HEADER + "\n".join(lines) + "\n")
    with pytest.raises(OhlcvValidationError) as err:
        read_ohlcv(path)
    assert err.value.count == 15
    assert [p.line for p in err.value.problems] == [2, 4, 6, 8, 10]
    assert "15 lines break the rules" in str(err.value) and "and 10 more lines" in str(err.value)


def test_bars_closer_than_the_timeframe_are_refused(tmp_path):
    path = write(tmp_path, HEADER + rows(10))
    assert len(read_ohlcv(path, timeframe="1m")) == 10
    with pytest.raises(OhlcvValidationError, match=r"1 min apart.*timeframe 5m"):
        read_ohlcv(path, timeframe="5m")


@pytest.mark.parametrize("name", ["bars.txt", "bars.xlsx"])
def test_unknown_file_types_are_refused(tmp_path, name):
    with pytest.raises(UserError, match="unknown file type"):
        read_ohlcv(write(tmp_path, HEADER, name))


def test_a_missing_file_and_an_unknown_zone_are_user_errors(tmp_path):
    with pytest.raises(DataValidationError, match="no such file"):
        read_ohlcv(tmp_path / "nope.csv")
    with pytest.raises(UserError, match="unknown timezone 'Mars/Olympus'"):
        read_ohlcv(write(tmp_path, HEADER), tz="Mars/Olympus")


# ---- property: one corrupted row is found on its own line -----------------------------

CORRUPTIONS = {
    "high_below_open_close": lambda f, i: f.iloc.__setitem__(
        (i, 1), min(f.iat[i, 0], f.iat[i, 3]) * 0.99),
    "low_above_open_close": lambda f, i: f.iloc.__setitem__(
        (i, 2), max(f.iat[i, 0], f.iat[i, 3]) * 1.01),
    "volume_negative": lambda f, i: f.iloc.__setitem__((i, 4), -1.0),
    "close_not_positive": lambda f, i: f.iloc.__setitem__((i, 3), 0.0),
    "open_missing": lambda f, i: f.iloc.__setitem__((i, 0), np.nan),
}


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(n=st.integers(2, 60), data=st.data(), kind=st.sampled_from(["csv", "parquet"]),
       rule=st.sampled_from(sorted(CORRUPTIONS)))
def test_one_corrupted_row_is_reported_on_its_own_line(tmp_path, n, data, kind, rule):
    frame = sample_frame(n)
    row = data.draw(st.integers(0, n - 1), label="row")
    CORRUPTIONS[rule](frame, row)
    path = tmp_path / f"one_bad.{kind}"
    if kind == "csv":
        frame.to_csv(path, date_format="%Y-%m-%dT%H:%M:%S%z")
    else:
        frame.reset_index().to_parquet(path, index=False)
    with pytest.raises(OhlcvValidationError) as err:
        read_ohlcv(path)
    # CSV: the header is line 1, so row r is line r + 2; Parquet rows count from 1.
    expected = row + 2 if kind == "csv" else row + 1
    assert {p.line for p in err.value.problems} == {expected}
    assert rule in {p.rule for p in err.value.problems}
    assert err.value.count == 1


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(n=st.integers(1, 80), tz=st.sampled_from(["UTC", "Asia/Seoul", "America/New_York"]))
def test_export_then_import_gives_back_the_same_bars(tmp_path, n, tz):
    frame = sample_frame(n)
    source = Database(tmp_path / f"src_{n}_{tz.replace('/', '_')}.sqlite3")
    upsert_bars(source, "S", "1m", frame)
    for suffix in (".csv", ".parquet"):
        path = tmp_path / f"out_{n}{suffix}"
        export_bars(source, "S", "1m", path, tz=tz)
        pd.testing.assert_frame_equal(read_ohlcv(path), frame, check_freq=False)
    source.close()


# ---- Parquet specifics -----------------------------------------------------------------


def test_parquet_with_a_datetime_index_and_naive_times(tmp_path):
    frame = sample_frame(5)
    frame.to_parquet(tmp_path / "indexed.parquet")  # the index is saved and restored
    pd.testing.assert_frame_equal(read_ohlcv(tmp_path / "indexed.parquet"), frame,
                                  check_freq=False)
    naive = frame.tz_convert("Asia/Seoul").tz_localize(None).reset_index()
    naive.to_parquet(tmp_path / "naive.parquet", index=False)
    with pytest.raises(OhlcvValidationError, match=r"row 1: .*no timezone"):
        read_ohlcv(tmp_path / "naive.parquet")
    back = read_ohlcv(tmp_path / "naive.parquet", tz="Asia/Seoul")
    pd.testing.assert_index_equal(back.index, frame.index, check_freq=False)


# ---- import into the database -------------------------------------------------------------


def test_import_writes_all_rows_and_counts_new_and_replaced(tmp_path, db):
    path = write(tmp_path, HEADER + rows(10))
    first = import_bars(db, path, "X", "1m")
    assert (first.rows, first.new, first.replaced) == (10, 10, 0)
    assert (first.first, first.last) == (utc("2024-01-02 00:00"), utc("2024-01-02 00:09"))
    more = write(tmp_path, HEADER + rows(10, start="2024-01-02 00:05:00Z"), "more.csv")
    second = import_bars(db, more, "X", "1m")
    assert (second.rows, second.new, second.replaced) == (10, 5, 5)
    assert len(load_bars(db, "X", "1m")) == 15


def test_a_bad_line_at_the_very_end_imports_nothing(tmp_path, db):
    upsert_bars(db, "X", "1m", sample_frame(20))
    before = load_bars(db, "X", "1m")
    text = HEADER + rows(5000) + "2024-01-09T00:00Z,100,101,99,100.5,-3\n"
    with pytest.raises(OhlcvValidationError, match="line 5002"):
        import_bars(db, write(tmp_path, text), "X", "1m")
    pd.testing.assert_frame_equal(load_bars(db, "X", "1m"), before)


def test_a_header_only_file_imports_nothing(tmp_path, db):
    with pytest.raises(DataValidationError, match="no bars"):
        import_bars(db, write(tmp_path, HEADER), "X", "1m")


def test_import_refuses_a_bad_symbol_or_timeframe(tmp_path, db):
    path = write(tmp_path, HEADER + rows(2))
    with pytest.raises(UserError, match="timeframe"):
        import_bars(db, path, "X", "7x")
    with pytest.raises(UserError, match="symbol"):
        import_bars(db, path, " X", "1m")


# ---- export -------------------------------------------------------------------------------


def test_export_writes_times_in_the_zone_with_their_offset(tmp_path, db):
    upsert_bars(db, "X", "1m", sample_frame(3))
    path = tmp_path / "out.csv"
    summary = export_bars(db, "X", "1m", path, tz="Asia/Seoul")
    lines = path.read_text().splitlines()
    assert summary.rows == 3
    assert lines[0] == "time,open,high,low,close,volume"
    assert lines[1].startswith("2024-03-01T09:00:00+0900,")


def test_export_range_is_read_in_the_zone_and_inclusive(tmp_path, db):
    upsert_bars(db, "X", "1m", sample_frame(30))
    path = tmp_path / "part.parquet"
    summary = export_bars(db, "X", "1m", path, start="2024-03-01 09:10",
                          end="2024-03-01 09:19", tz="Asia/Seoul")
    assert summary.rows == 10
    assert pd.read_parquet(path)["time"].iloc[0] == pd.Timestamp("2024-03-01 09:10",
                                                                  tz="Asia/Seoul")


def test_export_of_nothing_or_to_a_bad_place_is_a_user_error(tmp_path, db):
    upsert_bars(db, "X", "1m", sample_frame(3))
    with pytest.raises(UserError, match="no 5m bars of X.*stored for X: 1m"):
        export_bars(db, "X", "5m", tmp_path / "x.csv")
    with pytest.raises(UserError, match="no bars of Y"):
        export_bars(db, "Y", "1m", tmp_path / "y.csv")
    with pytest.raises(UserError, match="does not exist"):
        export_bars(db, "X", "1m", tmp_path / "missing" / "x.csv")
    with pytest.raises(UserError, match="unknown file type"):
        export_bars(db, "X", "1m", tmp_path / "x.json")


def test_export_replaces_a_file_whole_and_leaves_no_temporary_files(tmp_path, db):
    upsert_bars(db, "X", "1m", sample_frame(3))
    path = tmp_path / "out.csv"
    path.write_text("old contents\n")
    export_bars(db, "X", "1m", path)
    assert path.read_text().startswith("time,open")
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []
