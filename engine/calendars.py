"""Market calendars: when a market trades, from the maintained ``exchange_calendars``.

Nothing here types an opening hour or a holiday by hand: the sessions (KRX
holidays and its 10:00 late open on the first trading day of the year, NYSE
early closes, ...) come from ``exchange_calendars``. Names are that library's:
``"XKRX"`` (Korea Exchange), ``"XNYS"`` (New York Stock Exchange) and ``"24/7"``
(crypto: one session per UTC day), plus every other calendar it ships.

A session is the half-open interval ``[open, close)`` in UTC nanoseconds,
labelled with its trading date. A lunch break (some Asian venues) stays inside
its session; ``is_open`` is False during it and ``next_open``/``next_close``
treat the break's end and start as an open and a close.

Example::

    krx = get_calendar("XKRX")
    krx.is_open(pd.Timestamp("2026-01-02 09:30", tz="Asia/Seoul"))   # False: 10:00 open
    krx.session_of(ts).open                                             # that session's open
    krx.session_labels(df.index)                                        # vectorised
"""

from __future__ import annotations

import logging
import os
import threading
import time
import warnings
from bisect import bisect_right
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import TypeAlias
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

from engine.errors import UserError
from engine.models.market import ns_to_timestamp
from engine.paths import cache_dir

log = logging.getLogger(__name__)

NS_PER_DAY = 86_400 * 1_000_000_000
NAT_DAY = np.datetime64("NaT", "D")

# How far back sessions are built: far enough for any backtest data we expect,
# and cheap (a few thousand rows). The library picks the end (about a year ahead).
_HISTORY_START = pd.Timestamp("1990-01-01")
# 24/7 costs nothing to build, so cover the whole range a backtest could ask for.
_ALWAYS_OPEN_END = pd.Timestamp("2100-01-01")

TimeLike: TypeAlias = int | np.integer | pd.Timestamp | datetime | np.datetime64 | str
DateLike: TypeAlias = date | str | pd.Timestamp | datetime | int | np.integer


class UnknownCalendarError(UserError):
    """A calendar name ``exchange_calendars`` does not know."""


class CalendarRangeError(UserError):
    """A time outside the span of sessions the calendar was built for."""


@dataclass(frozen=True, slots=True)
class Session:
    """One trading session: ``[open_ns, close_ns)`` UTC, labelled by its trading date."""

    label: date
    open_ns: int
    close_ns: int

    @property
    def open(self) -> pd.Timestamp:
        return ns_to_timestamp(self.open_ns)

    @property
    def close(self) -> pd.Timestamp:
        return ns_to_timestamp(self.close_ns)

    @property
    def duration_ns(self) -> int:
        return self.close_ns - self.open_ns

    def contains(self, ts_ns: int) -> bool:
        return self.open_ns <= ts_ns < self.close_ns


@dataclass(frozen=True, slots=True)
class MarketStatus:
    """Open or closed at ``ts_ns``, and when that changes next (for the status bar)."""

    calendar: str
    ts_ns: int
    is_open: bool
    session: Session | None
    next_open: pd.Timestamp
    next_close: pd.Timestamp
    tz: ZoneInfo

    def summary(self) -> str:
        """``"XKRX open until 15:30 KST"`` or ``"XNYS closed, opens Mon 01-05 09:30 EST"``."""
        if self.is_open and self.next_close == self.next_open:
            return f"{self.calendar} open (continuous)"  # back-to-back sessions: 24/7
        if self.is_open:
            close = self.next_close.tz_convert(self.tz)
            return f"{self.calendar} open until {close:%H:%M %Z}"
        nxt = self.next_open.tz_convert(self.tz)
        return f"{self.calendar} closed, opens {nxt:%a %m-%d %H:%M %Z}"


def to_ns(ts: TimeLike) -> int:
    """Nanoseconds since the epoch, UTC, from an int, a Timestamp or an aware datetime.

    Naive datetimes are refused: a wall-clock time without a zone is ambiguous,
    and guessing it wrong shifts every session by hours.
    """
    if isinstance(ts, bool):
        raise TypeError("a timestamp cannot be a bool")
    if isinstance(ts, int | np.integer):
        return int(ts)
    if isinstance(ts, np.datetime64):
        return int(pd.Timestamp(ts).as_unit("ns").value)  # numpy datetimes are UTC
    if isinstance(ts, str | datetime):
        stamp = pd.Timestamp(ts)
        if stamp.tzinfo is None:
            raise ValueError(
                f"timestamp {ts!r} has no timezone; pass an aware time or ns since the epoch (UTC)"
            )
        return int(stamp.as_unit("ns").value)
    raise TypeError(f"cannot read a timestamp from {type(ts).__name__} {ts!r}")


def index_to_ns(index: pd.DatetimeIndex | np.ndarray | pd.Series) -> np.ndarray:
    """An int64 array of UTC nanoseconds from an aware DatetimeIndex (or an int64 ns array)."""
    if isinstance(index, pd.Series):
        index = pd.DatetimeIndex(index) if isinstance(index.dtype, pd.DatetimeTZDtype) \
            else index.to_numpy()
    if isinstance(index, np.ndarray) and np.issubdtype(index.dtype, np.integer):
        return index.astype(np.int64, copy=False)
    if isinstance(index, np.ndarray) and np.issubdtype(index.dtype, np.datetime64):
        return index.astype("datetime64[ns]").view(np.int64)
    if not isinstance(index, pd.DatetimeIndex):
        raise TypeError(f"expected a DatetimeIndex or int64 ns array, got {type(index).__name__}")
    if index.tz is None:
        raise ValueError("the DatetimeIndex has no timezone; localize it (the convention is UTC)")
    return index.as_unit("ns").asi8


class MarketCalendar:
    """The sessions of one market, with fast scalar and vectorised look-ups."""

    def __init__(self, name: str, opens_ns: np.ndarray, closes_ns: np.ndarray,
                 labels: np.ndarray, tz: ZoneInfo,
                 break_starts_ns: np.ndarray | None = None,
                 break_ends_ns: np.ndarray | None = None) -> None:
        if not (len(opens_ns) == len(closes_ns) == len(labels)) or len(opens_ns) == 0:
            raise ValueError(f"calendar {name}: sessions are empty or misaligned")
        self.name = name
        self.tz = tz
        self.opens_ns = np.ascontiguousarray(opens_ns, dtype=np.int64)
        self.closes_ns = np.ascontiguousarray(closes_ns, dtype=np.int64)
        self.labels = np.ascontiguousarray(labels, dtype="datetime64[D]")
        for arr in (self.opens_ns, self.closes_ns, self.labels):
            arr.setflags(write=False)
        # Python lists for the scalar path (bisect on a list beats numpy on one value).
        # Read-only by convention, like the arrays above.
        self.opens_list = self.opens_ns.tolist()
        self.closes_list = self.closes_ns.tolist()
        breaks = []
        if break_starts_ns is not None and break_ends_ns is not None:
            breaks = [(int(s), int(e)) for s, e in zip(break_starts_ns, break_ends_ns, strict=True)
                      if s != e]
        self._breaks = breaks
        self._break_starts = [s for s, _ in breaks]
        # Moments the market starts / stops trading, for next_open / next_close.
        self._open_events = sorted(self.opens_list + [e for _, e in breaks])
        self._close_events = sorted(self.closes_list + [s for s, _ in breaks])

    def __repr__(self) -> str:
        first, last = self.labels[0], self.labels[-1]
        return f"MarketCalendar({self.name!r}, {first}..{last}, tz={self.tz})"

    # ---- span ---------------------------------------------------------------
    @property
    def first_session(self) -> Session:
        return self.session_at(0)

    @property
    def last_session(self) -> Session:
        return self.session_at(len(self.opens_list) - 1)

    def session_at(self, i: int) -> Session:
        return Session(label=self.labels[i].astype(date), open_ns=self.opens_list[i],
                       close_ns=self.closes_list[i])

    def _check_range(self, ts_ns: int) -> None:
        if ts_ns < self.opens_list[0] or ts_ns >= self.closes_list[-1]:
            raise CalendarRangeError(
                f"{ts_ns_text(ts_ns)} is outside the {self.name} calendar, which covers "
                f"{self.labels[0]}..{self.labels[-1]} (from exchange_calendars)"
            )

    # ---- scalar look-ups ----------------------------------------------------
    def session_index(self, ts_ns: int, grace_ns: int = 0) -> int:
        """Index of the session holding ``ts_ns`` (up to ``grace_ns`` past its close), or -1."""
        i = bisect_right(self.opens_list, ts_ns) - 1
        if i >= 0 and ts_ns < self.closes_list[i] + grace_ns:
            return i
        return -1

    def session_of(self, ts: TimeLike) -> Session | None:
        """The session ``ts`` falls in, or None between sessions."""
        ts_ns = to_ns(ts)
        self._check_range(ts_ns)
        i = self.session_index(ts_ns)
        return None if i < 0 else self.session_at(i)

    def is_open(self, ts: TimeLike) -> bool:
        """True while the market trades (inside a session and not in its break)."""
        ts_ns = to_ns(ts)
        self._check_range(ts_ns)
        if self.session_index(ts_ns) < 0:
            return False
        if self._breaks:
            j = bisect_right(self._break_starts, ts_ns) - 1
            if j >= 0 and ts_ns < self._breaks[j][1]:
                return False
        return True

    def next_open(self, ts: TimeLike) -> pd.Timestamp:
        """The first time strictly after ``ts`` the market starts trading (UTC)."""
        return self._next_event(self._open_events, to_ns(ts), "open")

    def next_close(self, ts: TimeLike) -> pd.Timestamp:
        """The first time strictly after ``ts`` the market stops trading (UTC)."""
        return self._next_event(self._close_events, to_ns(ts), "close")

    def _next_event(self, events: list[int], ts_ns: int, what: str) -> pd.Timestamp:
        j = bisect_right(events, ts_ns)
        if j >= len(events) or ts_ns < self.opens_list[0]:
            raise CalendarRangeError(
                f"no {what} known after {ts_ns_text(ts_ns)}: the {self.name} calendar covers "
                f"{self.labels[0]}..{self.labels[-1]}"
            )
        return ns_to_timestamp(events[j])

    def previous_close_ns(self, ts_ns: int) -> int | None:
        """The latest session close at or before ``ts_ns``, or None before the first."""
        i = bisect_right(self.closes_list, ts_ns) - 1
        return None if i < 0 else self.closes_list[i]

    def next_open_ns(self, ts_ns: int) -> int | None:
        """The earliest session open strictly after ``ts_ns``, or None past the last."""
        i = bisect_right(self.opens_list, ts_ns)
        return None if i >= len(self.opens_list) else self.opens_list[i]

    def sessions(self, start: DateLike, end: DateLike) -> list[Session]:
        """Sessions whose label (trading date) lies in ``[start, end]``.

        Dates are trading dates; a timestamp is read as its date in the market's zone.
        """
        lo, hi = self._to_label(start), self._to_label(end)
        i = int(np.searchsorted(self.labels, lo, side="left"))
        j = int(np.searchsorted(self.labels, hi, side="right"))
        return [self.session_at(k) for k in range(i, j)]

    def session_for_label(self, label: DateLike) -> Session | None:
        """The session traded on ``label``, or None when the market is shut that day."""
        day = self._to_label(label)
        i = int(np.searchsorted(self.labels, day))
        return self.session_at(i) if i < len(self.labels) and self.labels[i] == day else None

    def _to_label(self, value: DateLike) -> np.datetime64:
        if isinstance(value, str) and len(text := value.strip()) == 10:
            return np.datetime64(text, "D")
        if isinstance(value, date) and not isinstance(value, datetime):
            return np.datetime64(value, "D")
        stamp = ns_to_timestamp(to_ns(value)).tz_convert(self.tz)
        return np.datetime64(stamp.date(), "D")

    # ---- vectorised ---------------------------------------------------------
    def locate(self, ts_ns: np.ndarray, grace_ns: int = 0) -> np.ndarray:
        """Session index for each UTC ns time (-1 outside sessions), vectorised."""
        idx = np.searchsorted(self.opens_ns, ts_ns, side="right") - 1
        safe = np.maximum(idx, 0)
        inside = (idx >= 0) & (ts_ns < self.closes_ns[safe] + grace_ns)
        return np.where(inside, idx, -1)

    def session_labels(self, index: pd.DatetimeIndex | np.ndarray) -> np.ndarray:
        """The trading date (``datetime64[D]``) of the session each time falls in, NaT outside.

        Takes an aware DatetimeIndex or an int64 array of UTC nanoseconds; a
        million timestamps take a few tens of milliseconds.
        """
        idx = self.locate(index_to_ns(index))
        return np.where(idx >= 0, self.labels[np.maximum(idx, 0)], NAT_DAY)

    def is_open_many(self, index: pd.DatetimeIndex | np.ndarray) -> np.ndarray:
        """Vectorised ``is_open`` (lunch breaks count as closed)."""
        ts = index_to_ns(index)
        open_ = self.locate(ts) >= 0
        if self._breaks:
            starts = np.asarray(self._break_starts, dtype=np.int64)
            ends = np.asarray([e for _, e in self._breaks], dtype=np.int64)
            j = np.searchsorted(starts, ts, side="right") - 1
            in_break = (j >= 0) & (ts < ends[np.maximum(j, 0)])
            open_ &= ~in_break
        return open_


def ts_ns_text(ts_ns: int) -> str:
    try:
        return str(ns_to_timestamp(ts_ns))
    except (OverflowError, ValueError):
        return f"{ts_ns} ns"


# ---- registry ---------------------------------------------------------------
_cache: dict[str, MarketCalendar] = {}
_lock = threading.Lock()


def calendar_names() -> list[str]:
    """Every name ``get_calendar`` accepts (exchange_calendars' names and aliases)."""
    import exchange_calendars as xc

    return sorted(xc.get_calendar_names(include_aliases=True))


def get_calendar(name: str | MarketCalendar) -> MarketCalendar:
    """The calendar called ``name`` (``"XKRX"``, ``"XNYS"``, ``"24/7"``, ...), built once."""
    if isinstance(name, MarketCalendar):
        return name
    key = str(name).strip()
    cal = _cache.get(key)
    if cal is not None:
        return cal
    with _lock:
        cal = _cache.get(key)
        if cal is None:
            cal = _build(key)
            _cache[key] = _cache[cal.name] = cal
    return cal


def _canonical(key: str) -> str:
    import exchange_calendars as xc

    names = calendar_names()
    by_upper = {n.upper(): n for n in names}
    actual = by_upper.get(key.upper())
    if actual is None:
        preferred = ["XKRX", "XNYS", "24/7"]
        others = [n for n in names if n not in preferred]
        raise UnknownCalendarError(
            f"unknown market calendar {key!r}; valid names: {', '.join(preferred)} "
            f"(and from exchange_calendars: {', '.join(others)})"
        )
    return xc.resolve_alias(actual)


def _build(key: str) -> MarketCalendar:
    name = _canonical(key)
    cached = _load_cached(name)
    if cached is not None:
        return cached
    cal = _from_library(name)
    _save_cached(cal)
    return cal


def _from_library(name: str) -> MarketCalendar:
    import exchange_calendars as xc

    end = _ALWAYS_OPEN_END if name == "24/7" else None
    # The library still calls pandas APIs that pandas 3 deprecates; that noise is
    # not the user's business (the values are right, the tests check them).
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", category=FutureWarning)
        warnings.simplefilter("ignore", category=DeprecationWarning)
        try:
            xcal = xc.get_calendar(name, start=_HISTORY_START, end=end)
        except ValueError:  # the library's data starts later for this market: its default
            xcal = xc.get_calendar(name)
    sched = xcal.schedule

    def ns(col: str) -> np.ndarray:
        values = sched[col].dt.tz_convert("UTC").dt.as_unit("ns")
        return values.array.asi8.copy()  # NaT stays the int64 minimum

    has_breaks = bool(sched["break_start"].notna().any())
    return MarketCalendar(
        name=name,
        opens_ns=ns("open"),
        closes_ns=ns("close"),
        labels=sched.index.values.astype("datetime64[D]"),
        tz=ZoneInfo(str(xcal.tz)),
        break_starts_ns=ns("break_start") if has_breaks else None,
        break_ends_ns=ns("break_end") if has_breaks else None,
    )


# Building XKRX's lunar holidays takes exchange_calendars 5-20 s; the sessions it
# computes are stored once per library version, built on this day (the library
# schedules about a year ahead, so a cache older than a month is rebuilt).
_CACHE_MAX_AGE_S = 30 * 86_400


def _cache_file(name: str) -> Path:
    import exchange_calendars as xc

    safe = name.replace("/", "_")
    return cache_dir() / "calendars" / f"{safe}-xc{xc.__version__}-from{_HISTORY_START.date()}.npz"


def _load_cached(name: str) -> MarketCalendar | None:
    path = _cache_file(name)
    try:
        if time.time() - path.stat().st_mtime > _CACHE_MAX_AGE_S:
            return None
        with np.load(path, allow_pickle=False) as z:
            breaks = (z["break_starts"], z["break_ends"]) if "break_starts" in z else (None, None)
            return MarketCalendar(name, z["opens"], z["closes"], z["labels"].astype("datetime64[D]"),
                                  ZoneInfo(str(z["tz"])), *breaks)
    except (OSError, KeyError, ValueError):
        return None  # missing, stale or unreadable: rebuild from the library


def _save_cached(cal: MarketCalendar) -> None:
    path = _cache_file(cal.name)
    arrays = {"opens": cal.opens_ns, "closes": cal.closes_ns,
              "labels": cal.labels.astype("int64"), "tz": np.array(str(cal.tz))}
    if cal._breaks:
        arrays["break_starts"] = np.array([s for s, _ in cal._breaks], dtype=np.int64)
        arrays["break_ends"] = np.array([e for _, e in cal._breaks], dtype=np.int64)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp.npz")
        np.savez(tmp, **arrays)  # type: ignore[arg-type]  # the stub types **kwds as allow_pickle
        os.replace(tmp, path)
    except OSError as exc:  # a read-only home is no reason to fail: only slower next time
        log.info("calendar cache not written (%s): %s", path, exc)


def market_status(name: str | MarketCalendar, ts: TimeLike) -> MarketStatus:
    """Open/closed at ``ts`` and the next open and close, for the GUI status bar."""
    cal = get_calendar(name)
    ts_ns = to_ns(ts)
    return MarketStatus(
        calendar=cal.name,
        ts_ns=ts_ns,
        is_open=cal.is_open(ts_ns),
        session=cal.session_of(ts_ns),
        next_open=cal.next_open(ts_ns),
        next_close=cal.next_close(ts_ns),
        tz=cal.tz,
    )


__all__ = [
    "CalendarRangeError",
    "MarketCalendar",
    "MarketStatus",
    "Session",
    "UnknownCalendarError",
    "calendar_names",
    "get_calendar",
    "index_to_ns",
    "market_status",
    "to_ns",
]
