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

from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeAlias

import numpy as np
import pandas as pd
from sqlalchemy import Connection, and_, func, select

from engine.models import Timeframe
from engine.storage.bulk import BATCH_ROWS, check_labels, fetch_array, upsert_many
from engine.storage.database import Database
from engine.storage.schema import bars

PRICE_VOLUME = ("open", "high", "low", "close", "volume")
OPTIONAL = ("trades", "vwap")

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
    check_labels(symbol=symbol, source=source)
    tf = Timeframe.parse(timeframe).name
    per_row = {"ts_ns": frame_times_ns(df).tolist(), **_column_lists(df)}
    upsert_many(conn, bars, ["symbol", "timeframe", "ts_ns"],
                {"symbol": symbol, "timeframe": tf, "source": source}, per_row,
                batch_rows=batch_rows)
    return len(per_row["ts_ns"])


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
        return _frame(fetch_array(conn, query, _ROW))


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
