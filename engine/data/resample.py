"""Resampling OHLCV frames to a coarser timeframe, session by session.

Buckets are cut exactly as the live ``BarAggregator`` cuts them (they share
``Bucketing``): aligned to each session's open, never spanning two sessions,
the last bucket of a session possibly shorter (NYSE hourly bars are 09:30,
10:30, ..., 15:30-16:00), and ``1d`` is one bar per session labelled with the
session's open time. A source bar goes to the bucket holding its open time.

Example::

    five = resample(one_minute, "5m", "XKRX")
    daily = resample(one_minute, "1d", "XNYS")
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from engine.calendars import MarketCalendar, index_to_ns
from engine.data.bars import DEFAULT_CLOSE_GRACE_NS, DROPPED, Bucketing
from engine.errors import DataValidationError
from engine.models import Timeframe

log = logging.getLogger(__name__)

PRICE_COLUMNS = ("open", "high", "low", "close")
REQUIRED_COLUMNS = (*PRICE_COLUMNS, "volume")


def resample(df: pd.DataFrame, timeframe: str | Timeframe,
             calendar: str | MarketCalendar | None = None, *,
             extended_hours: bool = False,
             close_grace_ns: int = DEFAULT_CLOSE_GRACE_NS,
             source_timeframe: str | Timeframe | None = None) -> pd.DataFrame:
    """``df`` (finer OHLCV bars, UTC index of bar open times) cut into ``timeframe`` bars.

    open=first, high=max, low=min, close=last, volume=sum, trades=sum (if present),
    vwap volume-weighted (if present). Rows outside the calendar's sessions are
    dropped (kept on the UTC grid with ``extended_hours``); rows with a missing
    price are skipped. ``calendar=None`` means 24/7. Source bars must not straddle
    a target bucket (1m bars fit every target); pass ``source_timeframe`` to have
    that checked (the spacing of the rows cannot tell: quiet minutes have no row).
    """
    tf = Timeframe.parse(timeframe)
    _validate(df, tf, Timeframe.parse(source_timeframe) if source_timeframe else None)
    bucketing = Bucketing(tf, calendar, extended_hours=extended_hours,
                          close_grace_ns=close_grace_ns)
    ts = index_to_ns(df.index)
    cols = {c: df[c].to_numpy(dtype=np.float64) for c in REQUIRED_COLUMNS}
    if "trades" in df.columns:
        cols["trades"] = np.nan_to_num(df["trades"].to_numpy(dtype=np.float64)).astype(np.int64)
    if "vwap" in df.columns:
        cols["vwap"] = df["vwap"].to_numpy(dtype=np.float64)
    labels = bucketing.bucket_labels(ts)
    keep = labels != DROPPED
    for c in PRICE_COLUMNS:
        keep &= ~np.isnan(cols[c])
    dropped = int(len(keep) - np.count_nonzero(keep))
    if dropped:
        log.info("resample to %s on %s: skipped %d rows outside sessions or without prices",
                 tf.name, bucketing.calendar.name, dropped)
        labels = labels[keep]
        cols = {c: v[keep] for c, v in cols.items()}
    out = _aggregate(labels, cols)
    out.attrs["dropped_rows"] = dropped
    return out


def _aggregate(labels: np.ndarray, cols: dict[str, np.ndarray]) -> pd.DataFrame:
    """Reduce runs of equal (sorted) labels to one bar each."""
    n = len(labels)
    change = np.ones(n, dtype=bool)
    if n > 1:
        np.not_equal(labels[1:], labels[:-1], out=change[1:])
    starts = np.flatnonzero(change)
    ends = np.append(starts[1:], n) - 1
    out: dict[str, np.ndarray] = {}
    if n == 0:
        out = {c: v[:0] for c, v in cols.items()}
    else:
        volume = cols["volume"]
        vol = np.add.reduceat(volume, starts)
        out = {
            "open": cols["open"][starts],
            "high": np.maximum.reduceat(cols["high"], starts),
            "low": np.minimum.reduceat(cols["low"], starts),
            "close": cols["close"][ends],
            "volume": vol,
        }
        if "trades" in cols:
            out["trades"] = np.add.reduceat(cols["trades"], starts)
        if "vwap" in cols:
            pv = np.add.reduceat(np.where(volume > 0, cols["vwap"] * volume, 0.0), starts)
            safe = np.where(vol > 0, vol, 1.0)
            out["vwap"] = np.where(vol > 0, pv / safe, out["close"])
    index = pd.DatetimeIndex(labels[starts].astype("datetime64[ns]"), name="time")
    return pd.DataFrame(out, index=index.tz_localize("UTC"))


def _validate(df: pd.DataFrame, tf: Timeframe, source: Timeframe | None) -> None:
    if source is not None and not tf.is_daily and (source.ns > tf.ns or tf.ns % source.ns):
        raise DataValidationError(
            f"cannot resample {source.name} bars into {tf.name} bars: the target must be a "
            f"whole multiple of the source bar length"
        )
    if not isinstance(df, pd.DataFrame):
        raise DataValidationError(f"resample needs an OHLCV DataFrame, got {type(df).__name__}")
    missing = [c for c in REQUIRED_COLUMNS if c not in df.columns]
    if missing:
        raise DataValidationError(
            f"OHLCV frame is missing column(s) {', '.join(missing)}; "
            f"needs {', '.join(REQUIRED_COLUMNS)} (optional trades, vwap)"
        )
    index = df.index
    if not isinstance(index, pd.DatetimeIndex) or index.tz is None:
        raise DataValidationError(
            "OHLCV frame needs a timezone-aware DatetimeIndex of bar open times (UTC)"
        )
    if len(index) < 2:
        return
    ts = index.as_unit("ns").asi8
    steps = np.diff(ts)
    if (steps <= 0).any():
        at = int(np.argmax(steps <= 0)) + 1
        raise DataValidationError(
            f"OHLCV index must be sorted ascending and unique; row {at} ({index[at]}) "
            f"is not after the row before it"
        )
