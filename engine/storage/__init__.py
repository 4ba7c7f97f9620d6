"""Durable storage: SQLite by default (any SQLAlchemy database by URL), migrated on open.

* ``Database``: the engine, WAL-mode SQLite pragmas, ``begin()`` for writes, ``migrate()``.
* ``schema``: every table (Core ``Table`` objects on one ``MetaData``), documented
  for the code that writes them (the OMS journal, backtests).
* Repositories: ``upsert_bars`` / ``load_bars`` / ``bar_symbols`` for OHLCV,
  ``upsert_trades`` / ``load_trades`` / ``trade_symbols`` for trades (ticks), and
  ``save_instrument`` / ``load_instrument`` / ``load_instruments``.

Example::

    from engine.storage import Database, load_bars
    db = Database()                                   # the user's SQLite file
    frame = load_bars(db, "005930", "1m", start="2024-01-02")
"""

from engine.storage.bars import BarSeries, bar_symbols, load_bars, to_ns, upsert_bars, write_bars
from engine.storage.database import Database, DatabaseError
from engine.storage.instruments import (
    load_instrument,
    load_instruments,
    save_instrument,
    save_instruments,
)
from engine.storage.trades import (
    TradeSeries,
    TradesWritten,
    load_trades,
    trade_symbols,
    upsert_trades,
    write_trades,
)
from engine.storage.types import DecimalText, JSONText
from engine.storage.upsert import upsert

__all__ = [
    "BarSeries",
    "Database",
    "DatabaseError",
    "DecimalText",
    "JSONText",
    "TradeSeries",
    "TradesWritten",
    "bar_symbols",
    "load_bars",
    "load_instrument",
    "load_instruments",
    "load_trades",
    "save_instrument",
    "save_instruments",
    "to_ns",
    "trade_symbols",
    "upsert",
    "upsert_bars",
    "upsert_trades",
    "write_bars",
    "write_trades",
]
