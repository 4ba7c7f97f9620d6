"""Where a backtest's bars come from: ``--data FILE_OR_SYMBOL`` resolved to one frame.

``resolve_data`` looks, in this order, at:

1. a file: ``.csv`` / ``.parquet`` (any name with those suffixes, or an existing
   path), read and validated by ``engine.data.io.read_ohlcv``; the symbol is
   ``symbol=`` or the file's stem, the timeframe ``timeframe=`` or the bars' spacing;
2. the user's database (``engine.storage``): bars stored under that symbol, in
   ``timeframe`` (or the only timeframe stored for it), and the stored trades of
   those bars when there are any (``data import`` of a trade file), which the run
   then replays as it replays a trade file;
3. the bundled sample (``engine.data.sample``): real daily bars of AAPL, MSFT,
   IBM and GOOG (``1d``, the default), or synthetic one-minute bars rebuilt from
   them (``1m``, or coarser intraday timeframes resampled on the NYSE calendar,
   with a month before ``start`` for warm-up), and the fully synthetic KRX stock
   ``005930`` (intraday only; a random walk from ``start``, so no warm-up bars).

``start``/``end`` select bar open times, both inclusive; a date without a time
as ``end`` means the whole of that day. Times without a zone are read in ``tz``
(UTC by default). A range holding no bars is a ``UserError`` naming the symbol,
the range and what is available.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from engine.data.io import CSV_SUFFIXES, PARQUET_SUFFIXES, check_timezone, parse_timeframe
from engine.errors import UserError
from engine.models import Instrument, Timeframe
from engine.storage import Database, bar_symbols, load_bars, load_instrument, load_trades, to_ns
from engine.storage.database import resolve_url, sqlite_file
from engine.strategy.base import MAX_WARMUP

BUNDLED_KRX = "005930"
HISTORY_BARS = MAX_WARMUP + 10  # the most any strategy warms up on
WARMUP_DAYS = pd.Timedelta(days=30)  # ~20 sessions of bundled minutes: > HISTORY_BARS
_DATE_ONLY = re.compile(r"^\s*\d{4}-\d{2}-\d{2}\s*$")
_DAY_NS = 86_400 * 1_000_000_000


@dataclass(frozen=True)
class DataSet:
    """The bars of one symbol, ready for ``run_backtest``, and where they came from."""

    symbol: str
    timeframe: str
    frame: pd.DataFrame
    origin: str  # shown to the user: "file ...", "database ...", "bundled sample ..."
    instrument: Instrument | None = None  # stored instrument, else the runner's default
    synthetic: bool = False
    # Bars before ``--from`` (at most HISTORY_BARS), for warming the strategy up as the
    # terminal does; empty when the range starts at the data's start.
    history: pd.DataFrame | None = None
    # The trades ``frame`` was built from (a trade file, or stored with the bars): the run
    # replays them.
    ticks: pd.DataFrame | None = None

    @property
    def bars(self) -> int:
        return len(self.frame)

    @property
    def first(self) -> pd.Timestamp:
        return self.frame.index[0]

    @property
    def last(self) -> pd.Timestamp:
        return self.frame.index[-1]

    def instruments(self) -> dict[str, Instrument]:
        """``instruments=`` for ``run_backtest`` (empty: the runner picks a default)."""
        return {self.symbol: self.instrument} if self.instrument is not None else {}


@dataclass(frozen=True)
class TimeRange:
    """Inclusive bar open times in ns (None: unbounded) and how the user wrote them."""

    start_ns: int | None
    end_ns: int | None
    text: str

    def select(self, frame: pd.DataFrame) -> pd.DataFrame:
        ts = frame.index.as_unit("ns").asi8
        lo = 0 if self.start_ns is None else int(np.searchsorted(ts, self.start_ns, "left"))
        hi = len(ts) if self.end_ns is None else int(np.searchsorted(ts, self.end_ns, "right"))
        return frame.iloc[lo:hi]


def parse_range(start: Any = None, end: Any = None, tz: str | None = None) -> TimeRange:
    """``--from``/``--to`` as a ``TimeRange``; a date-only ``end`` covers that whole day."""
    zone = check_timezone(tz)
    try:
        start_ns = to_ns(start, zone)
    except ValueError as exc:
        raise UserError(f"--from {start!r} is not a time: {exc}") from None
    try:
        end_ns = to_ns(end, zone)
    except ValueError as exc:
        raise UserError(f"--to {end!r} is not a time: {exc}") from None
    if end_ns is not None and isinstance(end, str) and _DATE_ONLY.match(end):
        end_ns += _DAY_NS - 1
    if start_ns is not None and end_ns is not None and start_ns > end_ns:
        raise UserError(f"--from {start} is after --to {end}")
    text = f"between {start or 'the start'} and {end or 'the end'}"
    return TimeRange(start_ns, end_ns, text)


def infer_timeframe(frame: pd.DataFrame) -> Timeframe | None:
    """The bar length from the bars' spacing (median gap), None with fewer than 2 bars."""
    if len(frame) < 2:
        return None
    gap_s = int(np.median(np.diff(frame.index.as_unit("ns").asi8)) // 1_000_000_000)
    if gap_s >= 20 * 3600:  # daily bars: a night, or a weekend, apart
        return Timeframe.parse("1d")
    if gap_s >= 3600 and gap_s % 3600 == 0:
        return Timeframe.parse(f"{gap_s // 3600}h")
    if gap_s >= 60 and gap_s % 60 == 0:
        return Timeframe.parse(f"{gap_s // 60}m")
    return Timeframe.parse(f"{max(gap_s, 1)}s")


def is_file_spec(spec: str) -> bool:
    name = spec.lower()
    return name.endswith(CSV_SUFFIXES + PARQUET_SUFFIXES) or Path(spec).is_file()


def resolve_data(spec: str, *, start: Any = None, end: Any = None,
                 timeframe: str | None = None, symbol: str | None = None,
                 tz: str | None = None, db: Database | str | None = None) -> DataSet:
    """The bars ``spec`` names (file, stored symbol or bundled symbol) within the range.

    ``db`` is an open ``Database``, a URL/path, or None for the user's database.
    """
    if not spec or spec != spec.strip():
        raise UserError(f"--data {spec!r}: give a .csv/.parquet file or a symbol")
    span = parse_range(start, end, tz)
    tf = parse_timeframe(timeframe) if timeframe else None
    if is_file_spec(spec):
        data = _from_file(Path(spec), symbol, tf, tz)
    else:
        if symbol is not None and symbol != spec:
            raise UserError(f"--symbol {symbol} contradicts --data {spec}; --symbol names "
                            f"the instrument of a data file")
        data = _from_database(spec, tf, span, db) or _from_bundle(spec, tf, span, db)
    return _within(data, span)


def _within(data: DataSet, span: TimeRange) -> DataSet:
    frame = span.select(data.frame)
    if frame.empty:
        have = (f"{data.first:%Y-%m-%d %H:%M} .. {data.last:%Y-%m-%d %H:%M} UTC"
                if data.bars else "no bars")
        raise UserError(f"no {data.timeframe} bars of {data.symbol} {span.text} in "
                        f"{data.origin}; it has {have}")
    first = frame.index[0]
    earlier = None if data.history is None else data.history[data.history.index < first]
    history = warmup_history(earlier, data.frame[data.frame.index < first])
    ticks = data.ticks
    if ticks is not None:
        from engine.data.trades_io import trades_of_bars

        ticks = trades_of_bars(ticks, frame, Timeframe.parse(data.timeframe).ns)
    return DataSet(data.symbol, data.timeframe, frame, data.origin, data.instrument,
                   data.synthetic, history, ticks)


def warmup_history(*parts: pd.DataFrame | None) -> pd.DataFrame | None:
    """The last HISTORY_BARS bars of ``parts`` (oldest first), or None if they hold none:
    what a run warms its strategy up on."""
    held = [p for p in parts if p is not None and len(p)]
    if not held:
        return None
    return (held[0] if len(held) == 1 else pd.concat(held)).tail(HISTORY_BARS)


def _from_file(path: Path, symbol: str | None, tf: Timeframe | None,
               tz: str | None) -> DataSet:
    from engine.data.io import check_symbol, read_ohlcv
    from engine.data.trades_io import is_trades_file

    if not path.is_file():
        raise UserError(f"--data {path}: no such file")
    name = check_symbol(symbol or path.name.split(".")[0])
    if is_trades_file(path):
        return _from_trades_file(path, name, tf, tz)
    frame = read_ohlcv(path, tz=tz, timeframe=tf)
    tf = tf or infer_timeframe(frame)
    if tf is None:
        raise UserError(f"{path}: cannot tell the timeframe from {len(frame)} bar(s); "
                        f"give --timeframe")
    return DataSet(name, tf.name, frame, f"file {path}")


def _from_trades_file(path: Path, symbol: str, tf: Timeframe | None, tz: str | None) -> DataSet:
    """A file of trades: the bars they make (on ``tf``, default 1m) and the trades, which
    the backtest replays (tick by tick matching, ``on_tick``)."""
    from engine.backtest.runner import default_instrument
    from engine.data.trades_io import bars_of_trades, read_trades

    trades = read_trades(path, tz=tz)
    if trades.empty:
        raise UserError(f"{path}: the file holds no trades")
    tf = tf or Timeframe.parse("1m")
    frame = bars_of_trades(symbol, trades, tf.name, default_instrument(symbol).calendar)
    return DataSet(symbol, tf.name, frame, f"trades file {path} ({len(trades):,} trades)",
                   ticks=trades)


def stored_instrument(db: Database, symbol: str) -> Instrument | None:
    """The instrument stored for ``symbol``; None when none is, or one per venue (a run
    then uses the runner's default for the symbol)."""
    try:
        return load_instrument(db, symbol)
    except ValueError:
        return None


def _open_db(db: Database | str | None) -> tuple[Database | None, bool]:
    """The database to look in (None: a SQLite file that does not exist holds nothing,
    and looking must not create it)."""
    if isinstance(db, Database):
        return db, False
    path = sqlite_file(resolve_url(db))
    if path is not None and not path.exists():
        return None, False
    return Database(db), True


def _from_database(symbol: str, tf: Timeframe | None, span: TimeRange,
                   db: Database | str | None) -> DataSet | None:
    database, owned = _open_db(db)
    if database is None:
        return None
    try:
        stored = [s for s in bar_symbols(database) if s.symbol == symbol]
        if not stored:
            return None
        names = sorted(s.timeframe for s in stored)
        if tf is None:
            if len(names) > 1:
                raise UserError(f"{symbol} is stored in {database} as {', '.join(names)}; "
                                f"choose one with --timeframe")
            tf = Timeframe.parse(names[0])
        elif tf.name not in names:
            raise UserError(f"no {tf.name} bars of {symbol} in {database}; stored: "
                            f"{', '.join(names)}")
        frame = load_bars(database, symbol, tf, span.start_ns, span.end_ns)
        ticks = None
        if frame.empty:  # name what is there rather than an empty range
            frame = load_bars(database, symbol, tf)
        else:  # the trades of the chosen bars, when stored: the run replays them
            trades = load_trades(database, symbol, frame.index[0],
                                 frame.index[-1] + pd.Timedelta(tf.ns, "ns"))
            ticks = trades if len(trades) else None
        history = None
        if span.start_ns is not None and not frame.empty:
            # Enough calendar time for HISTORY_BARS bars across nights, weekends, holidays.
            lookback = HISTORY_BARS * tf.ns * 6 + 10 * _DAY_NS
            history = warmup_history(load_bars(database, symbol, tf, span.start_ns - lookback,
                                               span.start_ns - 1))
        inst = stored_instrument(database, symbol)
        origin = f"database {database}"
        if ticks is not None:
            origin += f" (bars and {len(ticks):,} trades)"
        return DataSet(symbol, tf.name, frame, origin, inst, history=history, ticks=ticks)
    finally:
        if owned:
            database.close()


def _from_bundle(symbol: str, tf: Timeframe | None, span: TimeRange,
                 db: Database | str | None) -> DataSet:
    from engine.data import sample

    bundled = (*sample.SAMPLE_SYMBOLS, BUNDLED_KRX)
    if symbol not in bundled:
        where = db if isinstance(db, Database) else (db or "the terminal's database")
        raise UserError(f"--data {symbol}: not a file, not stored in {where}, and not "
                        f"bundled (bundled: {', '.join(bundled)}); import bars with "
                        f"`trading-terminal data import`")
    tf = tf or Timeframe.parse("1m" if symbol == BUNDLED_KRX else "1d")
    if tf.is_daily:
        if symbol == BUNDLED_KRX:
            raise UserError(f"the bundled {symbol} is synthetic one-minute data; use "
                            f"--timeframe 1m (or a coarser intraday timeframe)")
        return DataSet(symbol, tf.name, sample.load_daily(symbol),
                       "bundled sample (real daily bars, Quandl WIKI, Public Domain)")
    if span.start_ns is None:
        raise UserError(f"bundled {tf.name} bars of {symbol} are synthetic and generated on "
                        f"demand: give --from (and --to) to pick the days, e.g. "
                        f"--from 2013-01-02 --to 2013-01-31")
    first = pd.Timestamp(span.start_ns, unit="ns", tz="UTC").strftime("%Y-%m-%d")
    last = (None if span.end_ns is None else
            pd.Timestamp(span.end_ns, unit="ns", tz="UTC").strftime("%Y-%m-%d"))
    if symbol == BUNDLED_KRX:
        kwargs = {"start": first} | ({"end": last} if last else {})
        minutes, calendar = sample.synthetic_krx(symbol, **kwargs), "XKRX"
    else:
        daily = DataSet(symbol, tf.name, sample.load_daily(symbol),
                        "bundled sample (synthetic intraday from real daily bars)")
        _within(daily, span)  # the days exist: say so in our words, not the generator's
        # Each day is generated on its own (seeded by its date), so starting a month
        # early changes no bar of the range and gives the strategy its warm-up bars.
        warm_first = (pd.Timestamp(first) - WARMUP_DAYS).strftime("%Y-%m-%d")
        minutes, calendar = sample.synthetic_intraday(symbol, warm_first, last), "XNYS"
    frame = minutes
    if tf.seconds != 60:
        from engine.data.resample import resample

        frame = resample(minutes, tf, calendar, source_timeframe="1m")
    return DataSet(symbol, tf.name, frame, f"bundled sample (synthetic {tf.name} bars)",
                   synthetic=True)
