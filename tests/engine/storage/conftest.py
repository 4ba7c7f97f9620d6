"""Storage tests run on real SQLite files in a temporary folder."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from engine.storage import Database


@pytest.fixture
def db(tmp_path):
    database = Database(tmp_path / "test.sqlite3")
    yield database
    database.close()


def ohlcv(n: int, start: str = "2024-01-02 00:00", freq: str = "1min", seed: int = 1,
          price: float = 100.0) -> pd.DataFrame:
    """A valid OHLCV frame of ``n`` bars (UTC, ns)."""
    rng = np.random.default_rng(seed)
    close = price * np.exp(np.cumsum(rng.normal(0, 1e-3, n)))
    open_ = np.concatenate([[price], close[:-1]])
    wick = np.abs(rng.normal(0, 1e-3, n)) * close
    index = pd.date_range(start, periods=n, freq=freq, tz="UTC", name="time").as_unit("ns")
    return pd.DataFrame({
        "open": open_, "high": np.maximum(open_, close) + wick,
        "low": np.minimum(open_, close) - wick, "close": close,
        "volume": rng.integers(0, 1000, n).astype(float),
    }, index=index)
