"""Reading a file of trades (ticks): what a tick-driven backtest replays.

A trade file is a CSV or Parquet file with a time column (``time``,
``timestamp``, ``datetime`` or ``date``), ``price``, a size column (``size``,
``qty``, ``quantity`` or ``amount``) and optionally ``side`` (buy/sell: the
aggressor). Times are ISO text (in ``tz`` when they carry no offset, UTC by
default) or Unix milliseconds, as exchanges export them; rows must be in time
order (equal times keep their order). A row that breaks a rule is refused with
its line (row, for Parquet) and why: nothing is silently dropped or re-sorted.

    >>> trades = read_trades("btc_trades.csv")          # doctest: +SKIP
    >>> trades.columns.tolist()
    ['price', 'size', 'side']
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from engine.data.bars import BarAggregator
from engine.data.io import check_symbol, check_timezone, file_kind, parse_timeframe
from engine.errors import DataValidationError
from engine.models import Bar, Tick, Timeframe
from engine.storage import Database, write_bars, write_trades
from engine.storage.bars import stored_times_ns

TIME_NAMES = ("time", "timestamp", "datetime", "date")
SIZE_NAMES = ("size", "qty", "quantity", "amount")
SIDES = {"buy": "BUY", "b": "BUY", "sell": "SELL", "s": "SELL", "": ""}


@dataclass(frozen=True, slots=True)
class TradesImportSummary:
    """What ``import_trades`` stored: the trades, and the bars built from them."""

    path: Path
    symbol: str
    trades: int
    new: int
    replaced: int
    first: pd.Timestamp
    last: pd.Timestamp
    timeframe: str
    bars: int
    bars_replaced: int


def _header(path: Path) -> list[str]:
    if file_kind(path) == "csv":
        return [str(c) for c in pd.read_csv(path, nrows=0, encoding="utf-8-sig").columns]
    import pyarrow.parquet as pq

    return [str(n) for n in pq.read_schema(path).names]


def is_trades_file(path: str | Path) -> bool:
    """Whether ``path`` holds trades (a price and a size, no OHLC) rather than bars."""
    path = Path(path)
    try:
        names = {n.strip().lower() for n in _header(path)}
    except (OSError, ValueError, ImportError, pd.errors.ParserError, pd.errors.EmptyDataError):
        return False  # the bar reader says what is wrong with it
    return "price" in names and bool(names & set(SIZE_NAMES)) and "close" not in names


def read_trades(path: str | Path, *, tz: str | None = None) -> pd.DataFrame:
    """The trades of ``path``: a UTC ``DatetimeIndex`` named time and columns price,
    size and side ("BUY", "SELL" or "" when the file does not say)."""
    path = Path(path)
    if not path.is_file():
        raise DataValidationError(f"{path}: no such file")
    zone = check_timezone(tz) or "UTC"
    raw, first, unit = _read(path)
    cols = {str(c).strip().lower(): c for c in raw.columns}
    time_col = next((cols[c] for c in TIME_NAMES if c in cols), None)
    size_col = next((cols[c] for c in SIZE_NAMES if c in cols), None)
    if time_col is None or "price" not in cols or size_col is None:
        raise DataValidationError(
            f"{path}: a trade file needs a time column ({', '.join(TIME_NAMES)}), price and a "
            f"size column ({', '.join(SIZE_NAMES)}); it has {', '.join(map(str, raw.columns))}")

    def where(i: int) -> str:
        return f"{path}, {unit} {first + i}"

    times = _times(raw[time_col], zone, where)
    price = pd.to_numeric(raw[cols["price"]], errors="coerce").to_numpy(float)
    size = pd.to_numeric(raw[size_col], errors="coerce").to_numpy(float)
    if (i := _first(~(np.isfinite(price) & (price > 0)))) is not None:
        raise DataValidationError(f"{where(i)}: price {_shown(raw[cols['price']].iloc[i])} "
                                  "is not a number above 0")
    if (i := _first(~(np.isfinite(size) & (size >= 0)))) is not None:
        raise DataValidationError(f"{where(i)}: size {_shown(raw[size_col].iloc[i])} is not a "
                                  "number of at least 0")
    if (i := _first(np.r_[False, np.diff(times.asi8) < 0])) is not None:
        raise DataValidationError(f"{where(i)}: {times[i]} is before the trade above it "
                                  f"({times[i - 1]}); trades must be in time order")
    side = _sides(raw[cols["side"]], where) if "side" in cols else np.full(len(raw), "")
    return pd.DataFrame({"price": price, "size": size, "side": side},
                        index=times.rename("time"))


def _first(bad: np.ndarray) -> int | None:
    """The position of the first True in ``bad`` (the row to name), or None."""
    hits = np.flatnonzero(bad)
    return int(hits[0]) if len(hits) else None


def _shown(value: object) -> str:
    """A cell as the user wrote it: text quoted, a number as a number (not np.float64)."""
    return repr(value) if isinstance(value, str) else str(value)


def _read(path: Path) -> tuple[pd.DataFrame, int, str]:
    """The rows, the line (or row) number of the first, and which it is."""
    try:
        if file_kind(path) == "csv":
            return pd.read_csv(path, encoding="utf-8-sig", dtype=str), 2, "line"
        return pd.read_parquet(path).reset_index(drop=True), 1, "row"
    except pd.errors.EmptyDataError:
        raise DataValidationError(f"{path}: the file is empty") from None
    except (OSError, ValueError, UnicodeDecodeError, pd.errors.ParserError) as exc:
        raise DataValidationError(f"{path}: cannot read the file: {exc}") from None


def _times(column: pd.Series, zone: str, where: Callable[[int], str]) -> pd.DatetimeIndex:
    text = column.astype(str).str.strip()
    millis = text.str.fullmatch(r"\d{10,16}")
    out = pd.Series(pd.NaT, index=column.index, dtype="datetime64[ns, UTC]")
    if millis.any():
        out[millis] = pd.to_datetime(text[millis].astype("int64"), unit="ms", utc=True)
    aware = ~millis & text.str.contains(r"(?:Z|[+-]\d{2}:?\d{2})$")
    naive = ~millis & ~aware
    if aware.any():
        out[aware] = pd.to_datetime(text[aware], errors="coerce", format="ISO8601", utc=True)
    if naive.any():
        parsed = pd.to_datetime(text[naive], errors="coerce", format="ISO8601")
        out[naive] = parsed.dt.tz_localize(zone, ambiguous="NaT",
                                           nonexistent="NaT").dt.tz_convert("UTC")
    if (i := _first(out.isna().to_numpy())) is not None:
        raise DataValidationError(f"{where(i)}: {_shown(column.iloc[i])} is not a time "
                                  "(ISO text or Unix milliseconds)")
    return pd.DatetimeIndex(out)


def _sides(column: pd.Series, where: Callable[[int], str]) -> np.ndarray:
    text = column.fillna("").astype(str).str.strip().str.lower()
    if (i := _first(~text.isin(list(SIDES)).to_numpy())) is not None:
        raise DataValidationError(f"{where(i)}: side {_shown(column.iloc[i])} is not buy or "
                                  "sell")
    return text.map(SIDES).to_numpy()


def trades_of_bars(trades: pd.DataFrame, bars: pd.DataFrame, tf_ns: int) -> pd.DataFrame:
    """The trades inside ``bars``: from the first bar's open to the last bar's end."""
    ts = trades.index.as_unit("ns").asi8
    first, end = bars.index[0].value, bars.index[-1].value + tf_ns
    return trades.iloc[int(np.searchsorted(ts, first, "left")):
                       int(np.searchsorted(ts, end, "left"))]


def bars_of_trades(symbol: str, trades: pd.DataFrame, timeframe: str,
                   calendar: str) -> pd.DataFrame:
    """The bars a live feed of ``trades`` would close, as an OHLCV frame (plus trades and
    vwap) indexed by open time: the engine's ``BarAggregator``, with trades outside the
    calendar's sessions kept on the UTC grid as a replay keeps them."""
    closed: list[Bar] = []
    agg = BarAggregator(symbol, timeframe, calendar, late_tolerance_ns=0, extended_hours=True,
                        on_bar=closed.append)
    for t, p, q in zip(trades.index.as_unit("ns").asi8.tolist(), trades["price"].tolist(),
                       trades["size"].tolist(), strict=True):
        agg.on_tick(Tick(symbol, t, p, q))
    agg.flush(2**62)
    index = pd.DatetimeIndex(np.array([b.ts_ns for b in closed], dtype="M8[ns]"), tz="UTC",
                             name="time")
    return pd.DataFrame({"open": [b.open for b in closed], "high": [b.high for b in closed],
                         "low": [b.low for b in closed], "close": [b.close for b in closed],
                         "volume": [b.volume for b in closed],
                         "trades": [b.trades for b in closed],
                         "vwap": [b.vwap for b in closed]}, index=index)


def import_trades(db: Database, path: str | Path, symbol: str, *, calendar: str,
                  timeframe: str | Timeframe = "1m", tz: str | None = None,
                  source: str = "import") -> TradesImportSummary:
    """Validate the trade file ``path`` completely, then store its trades and the
    ``timeframe`` bars they make on ``calendar`` (as ``bars_of_trades``), in one
    transaction: a backtest over the stored bars then replays the stored trades.

    A bad file raises ``DataValidationError`` naming the file and line before
    anything is written; a failure while writing rolls the whole import back.
    """
    symbol = check_symbol(symbol)
    tf = parse_timeframe(timeframe)
    try:
        trades = read_trades(path, tz=tz)
    except DataValidationError as exc:
        raise DataValidationError(f"{exc}; nothing was imported") from None
    if trades.empty:
        raise DataValidationError(f"{path}: the file has a header but no trades; nothing was "
                                  "imported")
    bars = bars_of_trades(symbol, trades, tf.name, calendar)
    ts = bars.index.as_unit("ns").asi8
    with db.begin() as conn:
        written = write_trades(conn, symbol, trades, source)
        existing = stored_times_ns(conn, symbol, tf, int(ts[0]), int(ts[-1]))
        bars_replaced = int(np.isin(ts, existing, assume_unique=True).sum())
        write_bars(conn, symbol, tf, bars, source)
    return TradesImportSummary(Path(path), symbol, written.rows, written.new, written.replaced,
                               trades.index[0], trades.index[-1], tf.name, len(bars),
                               bars_replaced)
