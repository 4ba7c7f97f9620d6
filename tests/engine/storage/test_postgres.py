"""The same storage on PostgreSQL, when a server is given.

Set TRADING_TERMINAL_TEST_PG_URL to an empty scratch database, e.g.
``postgresql+psycopg://postgres@127.0.0.1:5432/scratch``; skipped otherwise.
"""

from __future__ import annotations

import os

import pandas as pd
import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from engine.models import krx_stock
from engine.storage import (
    Database,
    bar_symbols,
    load_bars,
    load_instrument,
    load_trades,
    save_instrument,
    schema,
    trade_symbols,
    upsert_bars,
    write_trades,
)
from tests.engine.storage.conftest import ohlcv
from tests.engine.storage.test_trades import trades_frame

PG_URL = os.environ.get("TRADING_TERMINAL_TEST_PG_URL")
pytestmark = pytest.mark.skipif(not PG_URL, reason="TRADING_TERMINAL_TEST_PG_URL not set")


@pytest.fixture
def pg():
    pytest.importorskip("psycopg")
    db = Database(PG_URL)
    with db.begin() as conn:
        for table in reversed(schema.metadata.sorted_tables):
            conn.execute(table.delete())
    yield db
    db.close()


def test_postgres_schema_matches_and_bars_upsert(pg):
    with pg.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        assert compare_metadata(context, schema.metadata) == []
    frame = ohlcv(2000)
    frame["trades"] = 3
    upsert_bars(pg, "X", "1m", frame)
    replaced = ohlcv(500, start="2024-01-02 00:30", seed=5)
    upsert_bars(pg, "X", "1m", replaced)
    back = load_bars(pg, "X", "1m")
    assert len(back) == 2000
    pd.testing.assert_frame_equal(back.loc[replaced.index, replaced.columns], replaced,
                                  check_freq=False)
    assert bar_symbols(pg)[0].count == 2000


def test_postgres_instruments_round_trip(pg):
    inst = krx_stock("005930", name="Samsung Electronics")
    save_instrument(pg, inst)
    save_instrument(pg, inst)
    assert load_instrument(pg, "005930", "KRX") == inst


def test_postgres_trades_round_trip_and_replace(pg):
    times = ["2024-03-01 00:00:00"] * 3 + ["2024-03-01 00:00:01", "2024-03-01 00:00:02"]
    frame = trades_frame(times, price=[10.0, 12.0, 11.0, 13.5, 9.0])
    with pg.begin() as conn:
        assert write_trades(conn, "BTC/USDT", frame, "import").new == 5
    pd.testing.assert_frame_equal(load_trades(pg, "BTC/USDT"), frame)
    fixed = trades_frame(times[1:], price=[2.5, 3.5, 4.5, 5.5])  # one print fewer at 00:00
    with pg.begin() as conn:
        assert write_trades(conn, "BTC/USDT", fixed, "import").replaced == 4
    pd.testing.assert_frame_equal(load_trades(pg, "BTC/USDT"), fixed)
    assert trade_symbols(pg)[0].count == 4
