"""``--data FILE_OR_SYMBOL``: files, the user's database and the bundled sample, by range."""

from __future__ import annotations

import pandas as pd
import pytest

from engine.backtest.data_source import HISTORY_BARS, infer_timeframe, parse_range, resolve_data
from engine.data.sample import load_daily
from engine.errors import UserError
from engine.models import krx_stock
from engine.storage import Database, save_instrument, upsert_bars, upsert_trades


def minute_frame(n=30, start="2024-01-02 00:00"):
    index = pd.date_range(start, periods=n, freq="1min", tz="UTC", name="time")
    close = 100 + pd.Series(range(n), index=index, dtype=float)
    return pd.DataFrame({"open": close, "high": close + 1, "low": close - 1, "close": close,
                         "volume": 10.0}, index=index)


def test_bundled_daily_is_the_real_sample_within_the_range():
    data = resolve_data("AAPL", start="2012-01-01", end="2012-12-31")
    real = load_daily("AAPL")
    assert (data.symbol, data.timeframe, data.synthetic) == ("AAPL", "1d", False)
    assert data.first == pd.Timestamp("2012-01-03 14:30", tz="UTC")
    assert data.last == pd.Timestamp("2012-12-31 14:30", tz="UTC")  # date-only --to: whole day
    assert data.frame.equals(real.loc[data.first:data.last])
    assert "bundled sample" in data.origin
    # The daily bars before --from, for the warm-up: the sample's first up to 2011's last.
    assert data.history.equals(real.loc[:pd.Timestamp("2011-12-31", tz="UTC")])


def test_bundled_intraday_is_synthetic_and_resampled_on_request():
    one = resolve_data("MSFT", start="2013-01-02", end="2013-01-03", timeframe="1m")
    five = resolve_data("MSFT", start="2013-01-02", end="2013-01-03", timeframe="5m")
    assert one.synthetic and five.synthetic
    assert len(one.frame) == 2 * 390 and len(five.frame) == 2 * 78
    assert five.frame["volume"].sum() == one.frame["volume"].sum()
    assert five.frame["high"].max() == one.frame["high"].max()


def test_file_symbol_and_timeframe_come_from_name_and_spacing(tmp_path):
    path = tmp_path / "BTC-USDT.csv"
    minute_frame().reset_index().to_csv(path, index=False)
    data = resolve_data(str(path), start="2024-01-02 00:10", end="2024-01-02 00:19")
    assert (data.symbol, data.timeframe, len(data.frame)) == ("BTC-USDT", "1m", 10)
    named = resolve_data(str(path), symbol="BTC/USDT")
    assert named.symbol == "BTC/USDT" and named.origin == f"file {path}"


def test_stored_bars_and_instrument_come_from_the_database(tmp_path):
    db = Database(tmp_path / "db.sqlite3")
    upsert_bars(db, "005930", "1m", minute_frame(60))
    save_instrument(db, krx_stock("005930", name="Samsung"))
    data = resolve_data("005930", db=db, start="2024-01-02 00:30")
    assert (data.timeframe, len(data.frame)) == ("1m", 30)
    # The 30 stored bars before --from come along for the strategy's warm-up.
    assert data.history.index.equals(minute_frame(60).index[:30])
    assert resolve_data("005930", db=db).history is None  # nothing before the start
    assert data.instrument is not None and data.instrument.name == "Samsung"
    assert "database" in data.origin

    upsert_bars(db, "005930", "5m", minute_frame(5).iloc[::5])
    with pytest.raises(UserError, match="as 1m, 5m; choose one with --timeframe"):
        resolve_data("005930", db=db)
    with pytest.raises(UserError, match="no 1h bars of 005930"):
        resolve_data("005930", db=db, timeframe="1h")


def test_an_empty_range_names_symbol_range_and_what_exists():
    with pytest.raises(UserError) as err:
        resolve_data("AAPL", start="2020-01-01", end="2020-02-01")
    message = str(err.value)
    assert "AAPL" in message and "2020-01-01" in message and "2020-02-01" in message
    assert "2000-03-01" in message and "2013-03-01" in message


@pytest.mark.parametrize("kwargs, words", [
    ({"spec": "NOPE"}, "not a file, not stored"),
    ({"spec": "missing.csv"}, "no such file"),
    ({"spec": "AAPL", "start": "yesterday-ish"}, "--from"),
    ({"spec": "AAPL", "start": "2012-02-01", "end": "2012-01-01"}, "is after --to"),
    ({"spec": "AAPL", "timeframe": "1m"}, "give --from"),
    ({"spec": "AAPL", "timeframe": "7x"}, "timeframe '7x' is not valid"),
])
def test_user_mistakes_are_user_errors(kwargs, words):
    with pytest.raises(UserError, match=words):
        resolve_data(**kwargs)


def test_range_parsing_and_timeframe_inference():
    span = parse_range("2024-01-02 09:00", "2024-01-02", tz="Asia/Seoul")
    assert span.start_ns == pd.Timestamp("2024-01-02 00:00", tz="UTC").value
    assert span.end_ns == pd.Timestamp("2024-01-02 14:59:59.999999999", tz="UTC").value
    assert infer_timeframe(minute_frame(5)).name == "1m"
    assert infer_timeframe(minute_frame(20).iloc[::15]).name == "15m"
    assert infer_timeframe(load_daily("IBM").iloc[:30]).name == "1d"
    assert infer_timeframe(minute_frame(1)) is None


def test_bundled_minutes_come_with_warm_up_bars_and_the_same_range(tmp_path):
    """A month of earlier synthetic minutes is generated for warm-up; the bars of the
    range itself are the ones generated without it (each day is seeded by its date)."""
    from engine.data import sample

    data = resolve_data("AAPL", start="2013-02-04", end="2013-02-08", timeframe="1m",
                        db=str(tmp_path / "none.sqlite3"))
    alone = sample.synthetic_intraday("AAPL", "2013-02-04", "2013-02-08")
    assert data.frame.equals(alone[alone.index < "2013-02-09"])
    assert data.history is not None and len(data.history) == HISTORY_BARS
    assert data.history.index[-1] < data.frame.index[0]


def test_stored_trades_of_the_chosen_bars_come_along_to_be_replayed(tmp_path):
    """Trades from the first bar's open up to (not including) the end of the last bar."""
    db = Database(tmp_path / "db.sqlite3")
    upsert_bars(db, "BTC/USDT", "1m", minute_frame(30))
    times = pd.date_range("2024-01-02 00:00:30", periods=40, freq="30s", tz="UTC", name="time")
    upsert_trades(db, "BTC/USDT", pd.DataFrame({"price": 100.0, "size": 1.0, "side": "BUY"},
                                               index=times.as_unit("ns")))
    data = resolve_data("BTC/USDT", db=db, start="2024-01-02 00:05", end="2024-01-02 00:14")
    # Bars 00:05 .. 00:14 open: trades at 00:05:00 .. 00:14:30, twenty of them.
    assert data.ticks is not None and len(data.ticks) == 20
    assert data.ticks.index[0] == pd.Timestamp("2024-01-02 00:05", tz="UTC")
    assert data.ticks.index[-1] == pd.Timestamp("2024-01-02 00:14:30", tz="UTC")
    assert data.origin == f"database {db} (bars and 20 trades)"
    # Bars after the last trade: no trades to replay, a bar-only run as before.
    late = resolve_data("BTC/USDT", db=db, start="2024-01-02 00:25")
    assert late.ticks is None and late.origin == f"database {db}"
    db.close()
