"""OHLCV files in and out: CSV and Parquet, validated before anything is stored.

Reading (``read_ohlcv``) finds the columns by name, case-insensitively: a time
column (``time``, ``datetime``, ``timestamp`` or ``date``; or ``date`` plus
``time``), ``open``, ``high``, ``low``, ``close``, ``volume``, and the optional
``trades`` and ``vwap``; other columns are ignored. Times may be ISO 8601 text
(``2024-01-02 09:00:00``, ``2024-01-02T00:00:00Z``, ``...+09:00``), digits
(``20240102``, ``202401020900``, ``20240102090000``), or epoch numbers (seconds,
milliseconds, microseconds or nanoseconds, told apart by size; from 1973 on).

Every rule is checked on the whole file before anything is written, and a file
that breaks one is refused with a ``DataValidationError`` naming the file, the
line (as an editor numbers it: the header is line 1; for Parquet, the 1-based
row) and the rule, for the first few offending lines, with the total count
(blank lines are skipped but still counted; a quoted field spanning lines, which
no OHLCV export writes, would shift the numbers after it):

* times are present, parseable, and in a known zone: text without a UTC offset
  needs ``tz`` (e.g. ``Asia/Seoul``); times with an offset are converted to UTC;
* times strictly increase (no repeats, no going back);
* open/high/low/close are numbers > 0, volume a number >= 0, all finite;
* high >= max(open, close), low <= min(open, close), high >= low;
* optional trades are whole numbers >= 0, optional vwap numbers > 0 (either may be empty);
* bars are not closer together than the timeframe (a 1m file imported as 5m).

``import_bars`` then writes the frame in one transaction: all of it or none.
"""

from __future__ import annotations

import os
import re
import tempfile
import zoneinfo
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from engine.errors import DataValidationError, UserError
from engine.models import Timeframe
from engine.storage import Database, bar_symbols, load_bars, to_ns, write_bars
from engine.storage.bars import stored_times_ns

MAX_REPORTED = 5
PRICES = ("open", "high", "low", "close")
REQUIRED = (*PRICES, "volume")
OPTIONAL = ("trades", "vwap")
TIME_NAMES = ("datetime", "timestamp", "time", "date")
CSV_SUFFIXES = (".csv", ".csv.gz", ".csv.bz2", ".csv.zip", ".csv.xz")
PARQUET_SUFFIXES = (".parquet", ".pq")

_NAT = np.iinfo(np.int64).min
# Epoch numbers before this are refused: 1e8 s, i.e. 1973-03-03.
EPOCH_FLOOR = pd.Timestamp(10**8, unit="s", tz="UTC")
_OFFSET = re.compile(r"\d{1,2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?\s*(?:Z|[+-]\d{2}(?::?\d{2})?)\s*$",
                     re.IGNORECASE)
_SLASHED_DATE = r"^\s*(\d{4})[/.](\d{1,2})[/.](\d{1,2})"
_TIME_HELP = ("use ISO 8601 such as 2024-01-02 09:00:00 (optionally with an offset "
              "like +09:00 or Z), YYYYMMDD[HHMM[SS]] digits, or epoch seconds/milliseconds")


@dataclass(frozen=True, slots=True)
class Problem:
    """One broken rule: where (``line``: CSV line or Parquet row, 1-based) and what."""

    line: int
    rule: str
    message: str


class OhlcvValidationError(DataValidationError):
    """A file that breaks validation rules; ``problems`` holds the first few, ``count`` all."""

    def __init__(self, path: Path, problems: list[Problem], count: int, unit: str) -> None:
        self.path = path
        self.problems = problems
        self.count = count
        self.unit = unit
        super().__init__(self._message())

    def _message(self) -> str:
        shown = self.problems
        lines = {p.line for p in shown}
        if self.count == 1 and len(shown) == 1:
            p = shown[0]
            return f"{self.path}: {self.unit} {p.line}: {p.message}; nothing was imported"
        head = (f"{self.path}: {self.count} {self.unit}s break the rules, nothing was imported"
                if self.count > 1 else f"{self.path}: nothing was imported")
        body = [f"  {self.unit} {p.line}: {p.message}" for p in shown]
        more = self.count - len(lines)
        if more > 0:
            body.append(f"  ... and {more} more {self.unit}{'s' if more > 1 else ''}")
        return "\n".join([head + ":", *body])


@dataclass(frozen=True, slots=True)
class ImportSummary:
    path: Path
    symbol: str
    timeframe: str
    rows: int
    new: int
    replaced: int
    first: pd.Timestamp
    last: pd.Timestamp


@dataclass(frozen=True, slots=True)
class ExportSummary:
    path: Path
    rows: int
    first: pd.Timestamp
    last: pd.Timestamp


# ---- public API ---------------------------------------------------------------------


def read_ohlcv(path: str | Path, *, tz: str | None = None,
               timeframe: str | Timeframe | None = None) -> pd.DataFrame:
    """Read and validate an OHLCV file into the engine's frame convention.

    ``tz`` is the zone of times written without a UTC offset (required for those).
    With ``timeframe``, bars closer together than it are refused.

    >>> frame = read_ohlcv("samsung_1m.csv", tz="Asia/Seoul", timeframe="1m")
    """
    path = Path(path)
    zone = check_timezone(tz)
    tf = parse_timeframe(timeframe) if timeframe is not None else None
    raw, lines, unit, time_cols = _read_raw(path)
    return _Validator(path, raw, lines, unit, time_cols, zone, tf).run()


def import_bars(db: Database, path: str | Path, symbol: str, timeframe: str | Timeframe, *,
                tz: str | None = None, source: str = "import") -> ImportSummary:
    """Validate ``path`` completely, then upsert its bars in one transaction.

    A bad file raises ``DataValidationError`` before anything is written; a
    failure while writing rolls the whole import back.
    """
    symbol = check_symbol(symbol)
    tf = parse_timeframe(timeframe)
    frame = read_ohlcv(path, tz=tz, timeframe=tf)
    if frame.empty:
        raise DataValidationError(f"{path}: the file has a header but no bars; nothing was imported")
    ts = frame.index.as_unit("ns").asi8
    with db.begin() as conn:
        existing = stored_times_ns(conn, symbol, tf, int(ts[0]), int(ts[-1]))
        replaced = int(np.isin(ts, existing, assume_unique=True).sum())
        rows = write_bars(conn, symbol, tf, frame, source)
    return ImportSummary(Path(path), symbol, tf.name, rows, rows - replaced, replaced,
                         frame.index[0], frame.index[-1])


def export_bars(db: Database, symbol: str, timeframe: str | Timeframe, path: str | Path,
                start: Any = None, end: Any = None, tz: str | None = None) -> ExportSummary:
    """Write stored bars to ``path`` (.csv or .parquet by suffix), times in ``tz`` (UTC).

    ``start``/``end`` are inclusive bar open times; without a zone they are read
    in ``tz``. Times are written with their UTC offset, so the file imports
    again without ``--tz``. The file appears complete or not at all.
    """
    path = Path(path)
    kind = file_kind(path)
    zone = check_timezone(tz)
    tf = parse_timeframe(timeframe)
    if not path.parent.is_dir():
        raise UserError(f"cannot write {path}: folder {path.parent} does not exist")
    try:
        start_ns, end_ns = to_ns(start, zone), to_ns(end, zone)
    except ValueError as exc:
        raise UserError(f"--from/--to: {exc}") from None
    frame = load_bars(db, symbol, tf, start_ns, end_ns)
    if frame.empty:
        raise UserError(_nothing_stored(db, symbol, tf.name, start_ns is not None or
                                        end_ns is not None))
    out = frame.copy()
    out.index = out.index.tz_convert(zone or "UTC")
    _write_atomically(path, lambda tmp: _write_frame(out, tmp, kind))
    return ExportSummary(path, len(frame), frame.index[0], frame.index[-1])


# ---- argument checks (shared with the CLI) ----------------------------------------


def check_timezone(tz: str | None) -> str | None:
    if tz is None:
        return None
    try:
        zoneinfo.ZoneInfo(tz)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise UserError(f"unknown timezone {tz!r}: use an IANA name such as Asia/Seoul, "
                        f"America/New_York or UTC") from None
    return tz


def parse_timeframe(timeframe: str | Timeframe) -> Timeframe:
    try:
        return Timeframe.parse(timeframe)
    except ValueError as exc:
        raise UserError(str(exc)) from None


def check_symbol(symbol: str) -> str:
    if not symbol or not symbol.isprintable() or symbol != symbol.strip():
        raise UserError(f"symbol {symbol!r} must be non-empty text without surrounding spaces")
    return symbol


def file_kind(path: Path) -> str:
    name = path.name.lower()
    if name.endswith(CSV_SUFFIXES):
        return "csv"
    if name.endswith(PARQUET_SUFFIXES):
        return "parquet"
    raise UserError(f"{path}: unknown file type; use a .csv or .parquet file name")


# ---- reading -------------------------------------------------------------------------


Raw = tuple[pd.DataFrame, np.ndarray, str, list[str]]


def _read_raw(path: Path) -> Raw:
    """The columns needed (lower-cased names), each row's line (CSV) or row number,
    "line" or "row", and the time column(s)."""
    kind = file_kind(path)
    if not path.is_file():
        raise DataValidationError(f"{path}: no such file")
    try:
        if kind == "csv":
            return _read_csv(path)
        return _read_parquet(path)
    except DataValidationError:
        raise
    except UnicodeDecodeError as exc:
        raise DataValidationError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") \
            from None
    except pd.errors.EmptyDataError:
        raise DataValidationError(f"{path}: the file is empty") from None
    except pd.errors.ParserError as exc:
        raise DataValidationError(_parser_error(path, exc)) from None
    except (OSError, ValueError) as exc:  # unreadable, not Parquet, ...
        raise DataValidationError(f"{path}: cannot read the file: {exc}") from None


def _parser_error(path: Path, exc: Exception) -> str:
    match = re.search(r"Expected (\d+) fields in line (\d+), saw (\d+)", str(exc))
    if match:
        want, line, got = match.groups()
        return f"{path}: line {line}: expected {want} fields like the header, found {got}"
    return f"{path}: not a valid CSV file: {str(exc).strip()}"


def _read_csv(path: Path) -> Raw:
    header = pd.read_csv(path, nrows=0, encoding="utf-8-sig")
    names = _column_map(path, [str(c) for c in header.columns], "line 1")
    time_cols = _time_columns(path, names, "line 1")
    wanted = [*time_cols, *REQUIRED, *(c for c in OPTIONAL if c in names)]
    # Blank lines are kept as empty rows so row i stays on line i + 2; dropped below.
    # All columns are read (no usecols): pandas would silently drop extra fields.
    raw = pd.read_csv(path, encoding="utf-8-sig", skip_blank_lines=False,
                      dtype={names[c]: str for c in time_cols})
    if not isinstance(raw.index, pd.RangeIndex):
        # pandas makes the first column the index when every line has one field more.
        raise DataValidationError(f"{path}: line 2: every data line has one field more than "
                                  f"the header ({len(header.columns)} names)")
    raw = raw.rename(columns={names[c]: c for c in wanted})[wanted]
    lines = np.arange(2, len(raw) + 2, dtype=np.int64)
    # A blank (or whitespace-only) line: every field empty.
    blank = np.array(raw.drop(columns=time_cols).isna().all(axis=1), dtype=bool)
    if blank.any():
        for col in time_cols:
            text = raw[col].loc[blank]
            blank[blank] = (text.isna() | text.str.strip().eq("")).to_numpy()
        raw, lines = raw.loc[~blank].reset_index(drop=True), lines[~blank]
    return raw, lines, "line", time_cols


def _read_parquet(path: Path) -> Raw:
    raw = pd.read_parquet(path)
    if not isinstance(raw.index, pd.RangeIndex):
        raw = raw.reset_index()  # a frame saved with its DatetimeIndex
    names = _column_map(path, [str(c) for c in raw.columns], "the schema")
    time_cols = _time_columns(path, names, "the schema")
    wanted = [*time_cols, *REQUIRED, *(c for c in OPTIONAL if c in names)]
    raw = raw[[names[c] for c in wanted]]
    raw.columns = wanted
    return (raw.reset_index(drop=True), np.arange(1, len(raw) + 1, dtype=np.int64), "row",
            time_cols)


def _column_map(path: Path, columns: list[str], where: str) -> dict[str, str]:
    """Lower-cased stripped name -> the file's own name; refuses missing/repeated names."""
    names: dict[str, str] = {}
    for col in columns:
        key = col.strip().lower()
        if key in names:
            raise DataValidationError(f"{path}: {where}: column {key!r} appears twice "
                                      f"({names[key]!r} and {col!r})")
        names[key] = col
    missing = [c for c in REQUIRED if c not in names]
    if missing:
        raise DataValidationError(
            f"{path}: {where}: missing column{'s' if len(missing) > 1 else ''} "
            f"{', '.join(missing)} (found: {', '.join(columns) or 'none'}); an OHLCV file "
            f"needs a time column and open, high, low, close, volume")
    return names


def _time_columns(path: Path, names: dict[str, str], where: str) -> list[str]:
    for candidate in ("datetime", "timestamp"):
        if candidate in names:
            return [candidate]
    if "date" in names and "time" in names:
        return ["date", "time"]
    for candidate in ("time", "date"):
        if candidate in names:
            return [candidate]
    raise DataValidationError(f"{path}: {where}: no time column; name it one of "
                              f"{', '.join(TIME_NAMES)} (or have both date and time)")


# ---- validation ---------------------------------------------------------------------


Rule = tuple[str, np.ndarray, Callable[[int], str]]


class _Validator:
    """Checks every rule on whole columns at once, then reports the first offenders."""

    def __init__(self, path: Path, raw: pd.DataFrame, lines: np.ndarray, unit: str,
                 time_cols: list[str], tz: str | None, timeframe: Timeframe | None) -> None:
        self.path, self.raw, self.lines, self.unit = path, raw, lines, unit
        self.time_cols, self.tz, self.timeframe = time_cols, tz, timeframe
        self.rules: list[Rule] = []
        self.values: dict[str, np.ndarray] = {}
        # Times that do not exist / are ambiguous in ``tz`` (set by _localize).
        self.dst = np.zeros(len(raw), dtype=bool)
        # Times without an offset in a file whose other times have one (_mixed_times).
        self.zone_mixed = np.zeros(len(raw), dtype=bool)

    def run(self) -> pd.DataFrame:
        if self.raw.empty:
            self.values = {c: np.empty(0) for c in REQUIRED}
            return self._frame(np.empty(0, dtype=np.int64))
        ts = self._times()
        for name in REQUIRED:
            self.values[name] = self._numbers(name, required=True)
        for name in OPTIONAL:
            if name in self.raw.columns:
                self.values[name] = self._numbers(name, required=False)
        self._order(ts)
        self._prices()
        self._optional()
        self._raise_if_broken()
        self._spacing(ts)
        return self._frame(ts)

    # ---- helpers
    def _add(self, rule: str, mask: np.ndarray, message: Callable[[int], str]) -> None:
        if mask.any():
            self.rules.append((rule, mask, message))

    def _fail(self, line: int, rule: str, message: str) -> OhlcvValidationError:
        return OhlcvValidationError(self.path, [Problem(line, rule, message)], 1, self.unit)

    def _raise_if_broken(self) -> None:
        if not self.rules:
            return
        bad = np.zeros(len(self.raw), dtype=bool)
        for _, mask, _ in self.rules:
            bad |= mask
        problems: list[Problem] = []
        for i in np.flatnonzero(bad)[:MAX_REPORTED]:
            problems.extend(Problem(int(self.lines[i]), rule, message(int(i)))
                            for rule, mask, message in self.rules if mask[i])
        raise OhlcvValidationError(self.path, problems, int(bad.sum()), self.unit)

    def _cell(self, column: str, i: int) -> str:
        value = self.raw[column].iloc[i]
        return "" if value is None or (isinstance(value, float) and np.isnan(value)) \
            else str(value).strip()

    # ---- times
    def _times(self) -> np.ndarray:
        """Bar open times as int64 UTC ns; ``_NAT`` where missing or unparseable."""
        first = self.raw[self.time_cols[0]]
        if len(self.time_cols) == 1 and pd.api.types.is_datetime64_any_dtype(first.dtype):
            empty = np.asarray(first.isna())
            ts = self._native_times(first)  # Parquet timestamps
        else:
            text = self._time_text()
            empty = np.asarray(text.isna() | (text.fillna("").str.len() == 0))
            filled = text[~empty]
            digits = len(filled) and filled.iloc[0].isdigit() and filled.str.fullmatch(r"\d+").all()
            ts = self._digit_times(text, empty) if digits else self._text_times(text, empty)
        col = "+".join(self.time_cols)
        self._add("time_missing", empty, lambda i: f"{col} is missing")
        unparsed = (ts == _NAT) & ~empty & ~self.dst & ~self.zone_mixed
        self._add("time_invalid", unparsed,
                  lambda i: f"{col} {self._time_cell(i)!r} is not a date/time; {_TIME_HELP}")
        return ts

    def _time_cell(self, i: int) -> str:
        return " ".join(self._cell(c, i) for c in self.time_cols)

    def _time_text(self) -> pd.Series:
        """The time column(s) as stripped text (NaN where missing)."""
        if len(self.time_cols) == 2:  # separate date and time columns
            present = self.raw["date"].notna() & self.raw["time"].notna()
            date = self.raw["date"].astype("str").str.strip()
            clock = self.raw["time"].astype("str").str.strip()
            if date.str.fullmatch(r"\d{8}").all() and clock.str.fullmatch(r"\d{3,6}").all():
                # 20240102 + 900 / 0900 / 93000 / 093000 -> digits of one length
                width = 4 if clock.str.len().max() <= 4 else 6
                return date + clock.str.zfill(width)
            return (date + " " + clock).where(present)
        col = self.raw[self.time_cols[0]]
        if pd.api.types.is_float_dtype(col.dtype):
            raise self._fail(int(self.lines[0]), "time_invalid",
                             f"{self.time_cols[0]} holds fractional numbers; {_TIME_HELP}")
        return col.astype("str").str.strip().where(col.notna())

    def _native_times(self, col: pd.Series) -> np.ndarray:
        stamps = pd.DatetimeIndex(col)
        if stamps.tz is not None:
            return _as_ns(stamps.tz_convert("UTC"))
        if self.tz is None:
            raise self._naive_error()
        return self._localize(stamps)

    def _digit_times(self, text: pd.Series, empty: np.ndarray) -> np.ndarray:
        lengths = set(text[~empty].str.len().unique().tolist())
        formats = {8: "%Y%m%d", 12: "%Y%m%d%H%M", 14: "%Y%m%d%H%M%S"}
        if len(lengths) == 1 and (n := lengths.pop()) in formats:
            naive = pd.to_datetime(text, format=formats[n], errors="coerce")
            if self.tz is None:
                raise self._naive_error()
            return self._localize(pd.DatetimeIndex(naive))
        # Epoch numbers: the unit follows from the size (dates 1973-5138).
        numbers = pd.to_numeric(text.where(~empty), errors="coerce",
                                dtype_backend="numpy_nullable")
        top = int(numbers.max()) if numbers.notna().any() else 0
        unit = "s" if top < 10**11 else "ms" if top < 10**14 else "us" if top < 10**17 else "ns"
        stamps = pd.to_datetime(numbers, unit=unit, utc=True, errors="coerce")
        # Small numbers (row counters, "1", "2", ...) are no epoch times of real data.
        return _as_ns(pd.DatetimeIndex(stamps.where(stamps >= EPOCH_FLOOR)))

    def _text_times(self, text: pd.Series, empty: np.ndarray) -> np.ndarray:
        sample = text[~empty].head(1)
        if len(sample) and re.match(_SLASHED_DATE, sample.iloc[0]):  # 2024/01/02, 2024.01.02
            text = text.str.replace(_SLASHED_DATE, r"\1-\2-\3", regex=True)
        try:
            parsed = pd.DatetimeIndex(pd.to_datetime(text, format="ISO8601", errors="coerce"))
        except ValueError:  # mixed offsets (daylight saving) or offsets and none mixed
            return self._mixed_times(text, empty)
        if parsed.tz is not None:
            return _as_ns(parsed.tz_convert("UTC"))
        if (parsed.isna() & ~empty).all() and len(parsed):
            return _as_ns(parsed)  # nothing parses: every line is reported below
        if self.tz is None:
            raise self._naive_error()
        return self._localize(parsed)

    def _mixed_times(self, text: pd.Series, empty: np.ndarray) -> np.ndarray:
        aware = text.fillna("").str.contains(_OFFSET, regex=True).to_numpy()
        self.zone_mixed = naive = ~aware & ~empty
        if naive.any():
            first_aware = int(self.lines[np.flatnonzero(aware)[0]])
            self._add("time_zone_mixed", naive, lambda i: (
                f"time {self._time_cell(i)!r} has no UTC offset but {self.unit} "
                f"{first_aware} has one; give every time an offset, or none and use --tz"))
        parsed = pd.to_datetime(text.where(aware), format="ISO8601", errors="coerce", utc=True)
        return _as_ns(pd.DatetimeIndex(parsed))

    def _localize(self, naive: pd.DatetimeIndex) -> np.ndarray:
        assert self.tz is not None
        try:
            # "infer": a repeated autumn hour in time order is resolved by its position.
            local = naive.tz_localize(self.tz, ambiguous="infer", nonexistent="raise")
        except ValueError:
            local = naive.tz_localize(self.tz, ambiguous="NaT", nonexistent="NaT")
            self.dst = np.asarray(local.isna() & ~naive.isna())
            self._add("time_dst", self.dst, lambda i: (
                f"time {self._time_cell(i)!r} does not exist or is ambiguous in {self.tz} "
                f"(a daylight saving change); write such times with their UTC offset"))
        return _as_ns(local.tz_convert("UTC"))

    def _naive_error(self) -> OhlcvValidationError:
        col = "+".join(self.time_cols)
        line = int(self.lines[0]) if len(self.lines) else 1
        return self._fail(line, "time_no_zone", (
            f"{col} {self._time_cell(0)!r} has no timezone; pass the zone the times are in "
            f"(e.g. --tz Asia/Seoul, --tz America/New_York, --tz UTC) or write them "
            f"with a UTC offset"))

    def _order(self, ts: np.ndarray) -> None:
        if len(ts) < 2:
            return
        prev, cur = ts[:-1], ts[1:]
        valid = (prev != _NAT) & (cur != _NAT)
        repeat = np.concatenate([[False], valid & (cur == prev)])
        back = np.concatenate([[False], valid & (cur < prev)])
        self._add("time_repeated", repeat, lambda i: (
            f"time {_fmt_ns(ts[i])} repeats {self.unit} {self.lines[i - 1]}'s "
            f"(times must be unique)"))
        self._add("time_not_increasing", back, lambda i: (
            f"time {_fmt_ns(ts[i])} is before {self.unit} {self.lines[i - 1]}'s "
            f"{_fmt_ns(ts[i - 1])} (times must increase)"))

    # ---- numbers
    def _numbers(self, name: str, *, required: bool) -> np.ndarray:
        col = self.raw[name]
        if pd.api.types.is_numeric_dtype(col.dtype) and not pd.api.types.is_bool_dtype(col.dtype):
            values = col.to_numpy(dtype=np.float64, na_value=np.nan)
            not_number = np.zeros(len(col), dtype=bool)
        else:
            text = col.astype("str").str.strip().where(col.notna())
            values = pd.to_numeric(text, errors="coerce").to_numpy(dtype=np.float64,
                                                                   na_value=np.nan)
            not_number = np.isnan(values) & text.notna().to_numpy() & (text.fillna("") != "").to_numpy()
        missing = np.isnan(values) & ~not_number
        if required:
            self._add(f"{name}_missing", missing, lambda i: f"{name} is missing")
        self._add(f"{name}_not_number", not_number,
                  lambda i: f"{name} {self._cell(name, i)!r} is not a number")
        self._add(f"{name}_not_finite", np.isinf(values),
                  lambda i: f"{name} {self._cell(name, i)} is not a finite number")
        return values

    def _prices(self) -> None:
        v = self.values
        for name in PRICES:
            self._add(f"{name}_not_positive", v[name] <= 0, self._not_positive(name))
        self._add("volume_negative", v["volume"] < 0,
                  lambda i: f"volume {v['volume'][i]:g} is negative")
        with np.errstate(invalid="ignore"):
            top = np.fmax(v["open"], v["close"])
            bottom = np.fmin(v["open"], v["close"])
        self._add("high_below_open_close", v["high"] < top, lambda i: (
            f"high {v['high'][i]:g} is below max(open, close) {top[i]:g}"))
        self._add("low_above_open_close", v["low"] > bottom, lambda i: (
            f"low {v['low'][i]:g} is above min(open, close) {bottom[i]:g}"))
        self._add("high_below_low", v["high"] < v["low"],
                  lambda i: f"high {v['high'][i]:g} is below low {v['low'][i]:g}")

    def _not_positive(self, name: str) -> Callable[[int], str]:
        return lambda i: f"{name} {self.values[name][i]:g} is not above zero"

    def _optional(self) -> None:
        v = self.values
        if "trades" in v:
            t = v["trades"]
            with np.errstate(invalid="ignore"):
                bad = (t < 0) | (np.isfinite(t) & (t != np.floor(t)))
            self._add("trades_invalid", bad,
                      lambda i: f"trades {t[i]:g} is not a whole number >= 0")
        if "vwap" in v:
            w = v["vwap"]
            self._add("vwap_not_positive", w <= 0, lambda i: f"vwap {w[i]:g} is not above zero")

    def _spacing(self, ts: np.ndarray) -> None:
        """A file whose bars sit closer than the timeframe holds a smaller timeframe."""
        if self.timeframe is None or len(ts) < 2:
            return
        gaps = np.diff(ts)
        # Daily bars may sit 23 h apart across a daylight saving change.
        floor = 12 * 3600 * 10**9 if self.timeframe.is_daily else self.timeframe.ns
        typical = int(np.median(gaps))
        if typical >= floor:
            return
        i = int(np.flatnonzero(gaps < floor)[0])
        raise self._fail(int(self.lines[i + 1]), "spacing", (
            f"bars are {_fmt_gap(int(gaps[i]))} apart ({self.unit}s {self.lines[i]}-"
            f"{self.lines[i + 1]}; typically {_fmt_gap(typical)}), closer than the timeframe "
            f"{self.timeframe} (is it a file of smaller bars?)"))

    def _frame(self, ts: np.ndarray) -> pd.DataFrame:
        index = pd.DatetimeIndex(ts.view("datetime64[ns]"), name="time").tz_localize("UTC")
        data: dict[str, Any] = {c: self.values[c] for c in REQUIRED}
        if "trades" in self.values:
            t = self.values["trades"]
            missing = np.isnan(t)
            data["trades"] = (t.astype(np.int64) if not missing.any() else
                              pd.arrays.IntegerArray(np.where(missing, 0, t).astype(np.int64),
                                                     missing))
        if "vwap" in self.values:
            data["vwap"] = self.values["vwap"]
        return pd.DataFrame(data, index=index)


def _as_ns(index: pd.DatetimeIndex) -> np.ndarray:
    values = index.as_unit("ns").asi8.copy()
    values[index.isna()] = _NAT
    return values


def _fmt_ns(ns: int | np.integer) -> str:
    return pd.Timestamp(int(ns), unit="ns", tz="UTC").strftime("%Y-%m-%d %H:%M:%S UTC")


def _fmt_gap(ns: int) -> str:
    seconds = ns / 1e9
    for size, unit in ((86_400, "d"), (3600, "h"), (60, "min")):
        if seconds >= size:
            return f"{seconds / size:g} {unit}"
    return f"{seconds:g} s"


# ---- writing -------------------------------------------------------------------------


def _write_frame(frame: pd.DataFrame, path: Path, kind: str) -> None:
    if kind == "csv":
        # Float repr round-trips exactly; times as ISO 8601 with their offset.
        frame.to_csv(path, index=True, index_label="time", date_format="%Y-%m-%dT%H:%M:%S%z",
                     compression="infer")
    else:
        frame.reset_index().to_parquet(path, index=False)


def _write_atomically(path: Path, write: Callable[[Path], None]) -> None:
    """Write through a temporary file in the same folder, then rename over ``path``."""
    suffix = "".join(path.suffixes)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=suffix, dir=path.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        write(tmp)
        os.replace(tmp, path)
    except OSError as exc:
        raise UserError(f"cannot write {path}: {exc.strerror or exc}") from None
    finally:
        tmp.unlink(missing_ok=True)


def _nothing_stored(db: Database, symbol: str, timeframe: str, ranged: bool) -> str:
    stored = [s for s in bar_symbols(db) if s.symbol == symbol]
    where = " in that time range" if ranged else ""
    if stored:
        have = ", ".join(f"{s.timeframe} ({s.first:%Y-%m-%d} .. {s.last:%Y-%m-%d})" for s in stored)
        return f"no {timeframe} bars of {symbol}{where} in {db}; stored for {symbol}: {have}"
    return f"no bars of {symbol} in {db}; `trading-terminal data list` shows what is stored"
