"""Bundled data: real daily bars, and synthetic minutes that rebuild them exactly."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from engine.data.sample import (
    SAMPLE_SYMBOLS,
    demo_universe,
    load_daily,
    synthetic_intraday,
    synthetic_krx,
)
from engine.errors import UserError
from engine.models import krx_stock


def daily_of(minutes: pd.DataFrame) -> pd.DataFrame:
    day = minutes.index.tz_convert("America/New_York").date
    return minutes.groupby(day).agg({"open": "first", "high": "max", "low": "min",
                                     "close": "last", "volume": "sum"})


def test_real_daily_bars_are_bundled_for_four_symbols():
    for symbol in SAMPLE_SYMBOLS:
        d = load_daily(symbol)
        assert len(d) > 2000 and d.index.tz is not None
        assert (d["high"] >= d[["open", "close"]].max(axis=1)).all()
    assert load_daily("AAPL").index[0] == pd.Timestamp("2000-03-01 14:30", tz="UTC")
    with pytest.raises(UserError, match="bundled"):
        load_daily("TSLA")


def test_synthetic_minutes_rebuild_the_real_days_exactly():
    minutes = synthetic_intraday("MSFT", "2013-01-02", "2013-02-28")
    real = load_daily("MSFT").loc["2013-01-02":"2013-02-28"]
    rebuilt = daily_of(minutes)
    np.testing.assert_allclose(rebuilt.to_numpy(), real.to_numpy(), rtol=0, atol=1e-9)
    assert minutes.attrs["synthetic"] is True and "synthetic" in minutes.attrs["source"]
    assert (minutes["high"] >= minutes[["open", "close"]].max(axis=1)).all()
    assert (minutes["low"] <= minutes[["open", "close"]].min(axis=1)).all()
    # Sessions from the calendar: 390 minutes a day from the 09:30 open.
    first_day = minutes.loc["2013-01-02"]
    assert len(first_day) == 390 and first_day.index[0] == pd.Timestamp("2013-01-02 14:30", tz="UTC")


def test_early_close_days_are_shorter():
    minutes = synthetic_intraday("IBM", "2012-11-23", "2012-11-23")
    assert len(minutes) == 210  # the day after Thanksgiving closes at 13:00


def test_deterministic_for_a_seed_and_different_across_seeds():
    a = synthetic_intraday("AAPL", "2013-02-01", "2013-02-05", seed=1)
    b = synthetic_intraday("AAPL", "2013-02-01", "2013-02-05", seed=1)
    c = synthetic_intraday("AAPL", "2013-02-01", "2013-02-05", seed=2)
    pd.testing.assert_frame_equal(a, b)
    assert not a["close"].equals(c["close"])


def test_volatility_clusters_and_volume_is_u_shaped():
    minutes = synthetic_intraday("AAPL", "2012-06-01", "2012-12-31")
    r = np.log(minutes["close"]).diff()
    day = minutes.index.date
    r[pd.Series(day).shift().to_numpy() != day] = np.nan  # no overnight returns
    a = r.abs()
    assert a.autocorr(lag=1) > 0.05  # volatility clustering
    minute_of_day = minutes.groupby(day).cumcount().to_numpy()
    vol = minutes["volume"].to_numpy()
    first, middle = vol[minute_of_day < 30].mean(), vol[(minute_of_day > 150) & (minute_of_day < 240)].mean()
    last = vol[(minute_of_day >= 360) & (minute_of_day < 390)].mean()
    assert first > 1.5 * middle and last > 1.3 * middle


def test_synthetic_krx_is_on_the_tick_table_and_calendar():
    k = synthetic_krx("005930", start="2026-01-02", end="2026-01-06")
    inst = krx_stock("005930")
    for price in np.concatenate([k[c].to_numpy() for c in ("open", "high", "low", "close")])[::7]:
        assert inst.is_valid_price(price)
    first = k.loc["2026-01-02"]
    assert first.index[0] == pd.Timestamp("2026-01-02 01:00", tz="UTC")  # 10:00 KST late open
    assert k.attrs["synthetic"]


def test_demo_universe_has_us_and_krx_symbols():
    universe = demo_universe(days=3)
    assert [d.symbol for d in universe] == ["AAPL", "MSFT", "IBM", "GOOG", "005930"]
    assert universe[-1].instrument.venue == "KRX"
    frame = universe[0].load()
    assert frame.attrs["synthetic"] and len(frame) == 3 * 390
