"""Stored OHLCV bars: upsert a frame, load a range back as a frame, list what is stored.

Frames follow the engine's OHLCV convention: a tz-aware ``DatetimeIndex`` named
``time`` holding each bar's open time, float columns open/high/low/close/volume,
optional ``trades`` (int) and ``vwap`` (float). A bar is identified by
(symbol, timeframe, open time): writing it again replaces it.

Example::

    >>> upsert_bars(db, "BTC/USDT", "1m", frame, source="import")
    1440
    >>> load_bars(db, "BTC/USDT", "1m", start="2024-01-01", end="2024-01-01 23:59")
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeAlias

import numpy as np
import pandas as pd
from sqlalchemy import Connection, and_, bindparam, func, literal_column, select
from sqlalchemy import exc as sa_exc

from engine.models import Timeframe
from engine.storage.database import Database
from engine.storage.schema import bars
from engine.storage.upsert import upsert

PRICE_VOLUME = ("open", "high", "low", "close", "volume")
OPTIONAL = ("trades", "vwap")
# Rows per executemany call; every batch runs inside the caller's one transaction.
BATCH_ROWS = 100_000

TimeLike: TypeAlias = pd.Timestamp | datetime | str | int | np.datetime64


@dataclass(frozen=True, slots=True)
class BarSeries:
    """What is stored for one (symbol, timeframe): first and last bar open time, count."""

    symbol: str
    timeframe: str
    first: pd.Timestamp
    last: pd.Timestamp
    count: int


def to_ns(value: TimeLike | None, tz: str | None = None) -> int | None:
    """Nanoseconds since the epoch (UTC). An int is taken as nanoseconds already;
    a time without a zone is read in ``tz`` (UTC if None)."""
    if value is None:
        return None
    if isinstance(value, int | np.integer) and not isinstance(value, bool):
        return int(value)
    ts = pd.Timestamp(value)
    if ts is pd.NaT:
        raise ValueError(f"not a time: {value!r}")
    if ts.tzinfo is None:
        ts = ts.tz_localize(tz or "UTC")
    return int(ts.tz_convert("UTC").as_unit("ns").value)


def frame_times_ns(df: pd.DataFrame) -> np.ndarray:
    """The bar open times of an OHLCV frame as int64 UTC nanoseconds."""
    index = df.index
    if not isinstance(index, pd.DatetimeIndex):
        raise ValueError("an OHLCV frame needs a DatetimeIndex of bar open times")
    if index.tz is None:
        raise ValueError("an OHLCV frame's times need a timezone (tz-aware DatetimeIndex)")
    return np.asarray(index.tz_convert("UTC").as_unit("ns").asi8, dtype=np.int64)


def _column_lists(df: pd.DataFrame) -> dict[str, list[Any]]:
    missing = [c for c in PRICE_VOLUME if c not in df.columns]
    if missing:
        raise ValueError(f"an OHLCV frame needs columns {', '.join(missing)}")
    cols: dict[str, list[Any]] = {}
    for name in PRICE_VOLUME:
        values = df[name].to_numpy(dtype=np.float64, na_value=np.nan)
        if np.isnan(values).any():
            raise ValueError(f"column {name} has missing values; validate the frame first")
        cols[name] = values.tolist()
    if "trades" in df.columns:
        trades = df["trades"]
        if trades.isna().any():
            cols["trades"] = [None if pd.isna(v) else int(v) for v in trades.tolist()]
        else:
            cols["trades"] = trades.to_numpy(dtype=np.int64).tolist()
    if "vwap" in df.columns:
        vwap = df["vwap"].to_numpy(dtype=np.float64, na_value=np.nan)
        # NULL, not NaN, for "unknown": PostgreSQL would keep a NaN.
        cols["vwap"] = (vwap.tolist() if not np.isnan(vwap).any()
                        else [None if v != v else v for v in vwap.tolist()])
    return cols


def write_bars(conn: Connection, symbol: str, timeframe: str | Timeframe, df: pd.DataFrame,
               source: str, *, batch_rows: int = BATCH_ROWS) -> int:
    """Upsert ``df`` inside the caller's transaction on ``conn``; returns rows written."""
    for what, value in (("symbol", symbol), ("source", source)):
        if not value or not value.isprintable() or value != value.strip():
            raise ValueError(f"{what} {value!r} must be non-empty printable text without "
                             f"surrounding spaces")
    tf = Timeframe.parse(timeframe).name
    per_row = {"ts_ns": frame_times_ns(df).tolist(), **_column_lists(df)}
    if conn.dialect.name == "sqlite":
        _write_sqlite(conn, {"symbol": symbol, "timeframe": tf, "source": source}, per_row,
                      batch_rows)
    else:
        names = list(per_row)
        rows = zip(*per_row.values(), strict=True)
        stmt = upsert(bars, conn.dialect, ["symbol", "timeframe", "ts_ns"])
        constant = {"symbol": symbol, "timeframe": tf, "source": source}
        while batch := list(itertools.islice(rows, batch_rows)):
            conn.execute(stmt, [{**constant, **dict(zip(names, row, strict=True))}
                                for row in batch])
    return len(per_row["ts_ns"])


def _write_sqlite(conn: Connection, constant: dict[str, str], per_row: dict[str, list[Any]],
                  batch_rows: int) -> None:
    # SQLAlchemy builds the statement; the driver's executemany runs it without
    # SQLAlchemy's per-row overhead. The values shared by every row are rendered
    # into the SQL (quoted by the dialect) instead of bound a million times:
    # binding them costs more than the insert itself. Bars need no type
    # conversion, so bypassing bind processing loses nothing.
    quote = bars.c.symbol.type.literal_processor(conn.dialect)
    assert quote is not None
    values: dict[str, Any] = {k: literal_column(quote(v)) for k, v in constant.items()}
    values.update({name: bindparam(name) for name in per_row})
    stmt = upsert(bars, conn.dialect, ["symbol", "timeframe", "ts_ns"]).values(values)
    # for_executemany: no RETURNING of the new key, which would double the cost.
    compiled = stmt.compile(dialect=conn.dialect, for_executemany=True)
    sql = str(compiled)
    columns = [per_row[name] for name in compiled.positiontup or ()]
    rows = zip(*columns, strict=True)
    with _driver_cursor(conn, sql) as cursor:
        while batch := list(itertools.islice(rows, batch_rows)):
            cursor.executemany(sql, batch)


@contextmanager
def _driver_cursor(conn: Connection, sql: str) -> Iterator[Any]:
    """A cursor of the driver's connection (inside ``conn``'s transaction) whose
    errors are raised as SQLAlchemy's, like everywhere else."""
    driver = conn.connection.driver_connection
    assert driver is not None, "connection is closed"
    cursor = driver.cursor()
    dbapi_error = conn.dialect.loaded_dbapi.Error
    try:
        yield cursor
    except dbapi_error as exc:
        raise sa_exc.DBAPIError.instance(sql, None, exc, dbapi_error) from exc
    finally:
        cursor.close()


def upsert_bars(db: Database, symbol: str, timeframe: str | Timeframe, df: pd.DataFrame,
                source: str = "import") -> int:
    """Insert the bars of ``df``, replacing stored bars at the same open times.

    One transaction: either every row is written or none. Returns the rows written.
    """
    with db.begin() as conn:
        return write_bars(conn, symbol, timeframe, df, source)


def stored_times_ns(conn: Connection, symbol: str, timeframe: str | Timeframe,
                    start_ns: int | None = None, end_ns: int | None = None) -> np.ndarray:
    """Open times (int64 ns) of the stored bars of one series within [start, end]."""
    query = select(bars.c.ts_ns).where(_series(symbol, timeframe, start_ns, end_ns))
    return np.fromiter((r[0] for r in conn.execute(query)), dtype=np.int64)


def _series(symbol: str, timeframe: str | Timeframe, start_ns: int | None,
            end_ns: int | None) -> Any:
    clauses = [bars.c.symbol == symbol, bars.c.timeframe == Timeframe.parse(timeframe).name]
    if start_ns is not None:
        clauses.append(bars.c.ts_ns >= start_ns)
    if end_ns is not None:
        clauses.append(bars.c.ts_ns <= end_ns)
    return and_(*clauses)


_ROW = np.dtype([("ts_ns", "i8"), *((c, "f8") for c in PRICE_VOLUME), ("trades", "i8"),
                 ("vwap", "f8")])
_NO_TRADES = -1  # stands for NULL in the int64 trades column while reading


def load_bars(db: Database, symbol: str, timeframe: str | Timeframe,
              start: TimeLike | None = None, end: TimeLike | None = None) -> pd.DataFrame:
    """Stored bars of one series whose open time is within [start, end] (both inclusive).

    Times without a zone are UTC. Returns an OHLCV frame (empty if nothing is
    stored); ``trades``/``vwap`` are included when any stored bar has them.
    """
    query = (select(bars.c.ts_ns, *(bars.c[c] for c in PRICE_VOLUME),
                    func.coalesce(bars.c.trades, _NO_TRADES), bars.c.vwap)
             .where(_series(symbol, timeframe, to_ns(start), to_ns(end)))
             .order_by(bars.c.ts_ns))
    with db.connect() as conn:
        return _frame(_fetch(conn, query))


def _fetch(conn: Connection, query: Any, chunk: int = BATCH_ROWS) -> np.ndarray:
    """The rows of ``query`` as one structured array (``_ROW``); NULL vwap -> NaN."""
    if conn.dialect.name != "sqlite":
        return np.array([tuple(r) for r in conn.execute(query)], dtype=_ROW)
    # Plain tuples from the driver, converted chunk by chunk: SQLAlchemy Row
    # objects and a column-wise transpose each cost ~1 s per million rows.
    compiled = query.compile(dialect=conn.dialect)
    params = compiled.construct_params()
    args = [params[name] for name in compiled.positiontup or ()]
    parts = []
    with _driver_cursor(conn, str(compiled)) as cursor:
        cursor.execute(str(compiled), args)
        while rows := cursor.fetchmany(chunk):
            parts.append(np.array(rows, dtype=_ROW))
    return np.concatenate(parts) if parts else np.empty(0, dtype=_ROW)


def _frame(rows: np.ndarray) -> pd.DataFrame:
    index = pd.DatetimeIndex(rows["ts_ns"].view("datetime64[ns]"), name="time").tz_localize("UTC")
    data: dict[str, Any] = {c: rows[c] for c in PRICE_VOLUME}
    trades = rows["trades"]
    missing = trades == _NO_TRADES
    if len(rows) and not missing.all():
        # Some bars without a count (mixed sources): a nullable integer column.
        data["trades"] = trades if not missing.any() else pd.arrays.IntegerArray(
            np.where(missing, 0, trades), missing)
    vwap = rows["vwap"]
    if len(rows) and not np.isnan(vwap).all():
        data["vwap"] = vwap
    return pd.DataFrame(data, index=index)


def bar_symbols(db: Database) -> list[BarSeries]:
    """Every stored (symbol, timeframe) with its first/last bar time and bar count."""
    query = (select(bars.c.symbol, bars.c.timeframe, func.min(bars.c.ts_ns),
                    func.max(bars.c.ts_ns), func.count())
             .group_by(bars.c.symbol, bars.c.timeframe))
    with db.connect() as conn:
        rows = conn.execute(query).all()
    series = [BarSeries(symbol, tf, pd.Timestamp(first, unit="ns", tz="UTC"),
                        pd.Timestamp(last, unit="ns", tz="UTC"), int(count))
              for symbol, tf, first, last, count in rows]
    return sorted(series, key=lambda s: (s.symbol, _tf_seconds(s.timeframe), s.timeframe))


def _tf_seconds(name: str) -> int:
    try:
        return Timeframe.parse(name).seconds
    except ValueError:
        return 0
