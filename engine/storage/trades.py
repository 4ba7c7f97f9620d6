"""Stored trades (ticks): upsert a frame, load a time range back, list what is stored.

Frames are shaped like ``engine.data.trades_io.read_trades`` returns them: a UTC
``DatetimeIndex`` named ``time`` and columns price, size (floats) and side ("BUY",
"SELL", or "" when unknown), in time order. A trade is identified by its symbol,
time and ``seq``, its position among the frame's trades at that same time: writing
the same trades again replaces them, and trades sharing a time keep their order.

Example::

    >>> upsert_trades(db, "BTC/USDT", read_trades("btc_trades.csv"))
    1000000
    >>> load_trades(db, "BTC/USDT", to_ns("2024-03-01"), to_ns("2024-03-02"))
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from sqlalchemy import Connection, and_, bindparam, case, func, select

from engine.storage.bars import TimeLike, to_ns
from engine.storage.bulk import BATCH_ROWS, check_labels, fetch_array, upsert_many
from engine.storage.database import Database
from engine.storage.schema import trades

SIDES = ("BUY", "SELL", "")
# Sides travel out of SQL as small integers (faster than text) and back through this.
_SIDE_OF_CODE = np.array(["", "BUY", "SELL"], dtype=object)
_ROW = np.dtype([("ts_ns", "i8"), ("price", "f8"), ("size", "f8"), ("side", "i1")])
_COUNT = np.dtype([("ts_ns", "i8"), ("count", "i8")])


@dataclass(frozen=True, slots=True)
class TradeSeries:
    """What is stored for one symbol: first and last trade time, and how many trades."""

    symbol: str
    first: pd.Timestamp
    last: pd.Timestamp
    count: int


@dataclass(frozen=True, slots=True)
class TradesWritten:
    """Rows written, and how many of them replaced a stored trade (same time and seq)."""

    rows: int
    replaced: int

    @property
    def new(self) -> int:
        return self.rows - self.replaced


def write_trades(conn: Connection, symbol: str, frame: pd.DataFrame, source: str, *,
                 batch_rows: int = BATCH_ROWS) -> TradesWritten:
    """Upsert the trades of ``frame`` inside the caller's transaction on ``conn``.

    At every time the frame holds, the stored trades become exactly the frame's: a
    stored trade beyond the frame's count at that time (an earlier, longer version
    of the file) is deleted rather than left to double a print.
    """
    check_labels(symbol=symbol, source=source)
    ts, per_row = _columns(frame)
    seq = _positions_within_equal_times(ts)
    replaced = 0
    if len(ts):
        times, counts = np.unique(ts, return_counts=True)
        stored = _stored_counts(conn, symbol, int(times[0]), int(times[-1]))
        at = np.searchsorted(times, stored["ts_ns"])
        held = (at < len(times)) & (times[np.minimum(at, len(times) - 1)] == stored["ts_ns"])
        stored_n, new_n = stored["count"][held], counts[at[held]]
        replaced = int(np.minimum(stored_n, new_n).sum())
        stale = stored_n > new_n
        if stale.any():
            stmt = trades.delete().where(and_(trades.c.symbol == symbol,
                                              trades.c.ts_ns == bindparam("t"),
                                              trades.c.seq >= bindparam("n")))
            conn.execute(stmt, [{"t": int(t), "n": int(n)} for t, n in
                                zip(stored["ts_ns"][held][stale], new_n[stale], strict=True)])
    upsert_many(conn, trades, ["symbol", "ts_ns", "seq"], {"symbol": symbol, "source": source},
                {"ts_ns": ts.tolist(), "seq": seq.tolist(), **per_row}, batch_rows=batch_rows)
    return TradesWritten(len(ts), replaced)


def upsert_trades(db: Database, symbol: str, frame: pd.DataFrame, source: str = "import") -> int:
    """Store the trades of ``frame`` (replacing stored trades at the same times), in one
    transaction: every row or none. Returns the rows written."""
    with db.begin() as conn:
        return write_trades(conn, symbol, frame, source).rows


def _columns(frame: pd.DataFrame) -> tuple[np.ndarray, dict[str, list]]:
    index = frame.index
    if not isinstance(index, pd.DatetimeIndex) or index.tz is None:
        raise ValueError("a trades frame needs a tz-aware DatetimeIndex of trade times")
    missing = [c for c in ("price", "size") if c not in frame.columns]
    if missing:
        raise ValueError(f"a trades frame needs columns {', '.join(missing)}")
    ts = np.asarray(index.tz_convert("UTC").as_unit("ns").asi8, dtype=np.int64)
    price = frame["price"].to_numpy(dtype=np.float64, na_value=np.nan)
    size = frame["size"].to_numpy(dtype=np.float64, na_value=np.nan)
    if not (np.isfinite(price) & (price > 0)).all():
        raise ValueError("trade prices must be finite numbers above 0")
    if not (np.isfinite(size) & (size >= 0)).all():
        raise ValueError("trade sizes must be finite numbers of at least 0")
    if "side" in frame.columns:
        side = frame["side"].fillna("").astype(str)
        unknown = sorted(set(side.unique()) - set(SIDES))
        if unknown:
            raise ValueError(f"trade side {unknown[0]!r} is not BUY, SELL or ''")
        sides = side.tolist()
    else:
        sides = [""] * len(ts)
    return ts, {"price": price.tolist(), "size": size.tolist(), "side": sides}


def _positions_within_equal_times(ts: np.ndarray) -> np.ndarray:
    """Each trade's position among the trades at its time, in frame order (0, 1, ...)."""
    if len(ts) and (np.diff(ts) >= 0).all():  # the usual case, in time order: runs
        starts = np.flatnonzero(np.r_[True, ts[1:] != ts[:-1]])
        return np.arange(len(ts)) - np.repeat(starts, np.diff(np.r_[starts, len(ts)]))
    return pd.Series(ts).groupby(ts).cumcount().to_numpy()


def _stored_counts(conn: Connection, symbol: str, first_ns: int, last_ns: int) -> np.ndarray:
    """(ts_ns, count) of the stored trades of ``symbol`` at times within [first, last]."""
    query = (select(trades.c.ts_ns, func.count())
             .where(trades.c.symbol == symbol, trades.c.ts_ns >= first_ns,
                    trades.c.ts_ns <= last_ns)
             .group_by(trades.c.ts_ns).order_by(trades.c.ts_ns))
    return fetch_array(conn, query, _COUNT)


def load_trades(db: Database, symbol: str, start_ns: TimeLike | None = None,
                end_ns: TimeLike | None = None) -> pd.DataFrame:
    """Stored trades of ``symbol`` at times within [start, end) (end excluded: the
    trades of bars from one open to the next), in time order, equal times in the
    order they were stored. Times without a zone are UTC; empty if none are stored."""
    clauses = [trades.c.symbol == symbol]
    if (lo := to_ns(start_ns)) is not None:
        clauses.append(trades.c.ts_ns >= lo)
    if (hi := to_ns(end_ns)) is not None:
        clauses.append(trades.c.ts_ns < hi)
    code = case((trades.c.side == "BUY", 1), (trades.c.side == "SELL", 2), else_=0)
    query = (select(trades.c.ts_ns, trades.c.price, trades.c.size, code)
             .where(and_(*clauses)).order_by(trades.c.ts_ns, trades.c.seq))
    with db.connect() as conn:
        rows = fetch_array(conn, query, _ROW)
    index = pd.DatetimeIndex(rows["ts_ns"].view("datetime64[ns]"), name="time").tz_localize("UTC")
    return pd.DataFrame({"price": rows["price"], "size": rows["size"],
                         "side": _SIDE_OF_CODE[rows["side"]]}, index=index)


def trade_symbols(db: Database) -> list[TradeSeries]:
    """Every symbol with stored trades: its first and last trade time and trade count."""
    query = (select(trades.c.symbol, func.min(trades.c.ts_ns), func.max(trades.c.ts_ns),
                    func.count())
             .group_by(trades.c.symbol).order_by(trades.c.symbol))
    with db.connect() as conn:
        rows = conn.execute(query).all()
    return [TradeSeries(symbol, pd.Timestamp(first, unit="ns", tz="UTC"),
                        pd.Timestamp(last, unit="ns", tz="UTC"), int(count))
            for symbol, first, last, count in rows]
