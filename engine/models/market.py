"""Market data records: trades (ticks), bars and order books.

Market data is observational and hot, so prices and sizes are ``float`` here;
anything that moves money converts them with ``Instrument.snap_price`` or
``to_decimal`` first. Timestamps are integer nanoseconds since the Unix epoch,
UTC (``ts_ns``); ``.time`` gives a timezone-aware pandas Timestamp.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

import pandas as pd

from engine.models.enums import Side
from engine.models.fast_init import fast_init

NS_PER_SECOND = 1_000_000_000


def ns_to_timestamp(ts_ns: int) -> pd.Timestamp:
    return pd.Timestamp(ts_ns, unit="ns", tz="UTC")


@dataclass(frozen=True, slots=True)
class Timeframe:
    """A bar length such as ``1m``, ``5m``, ``1h`` or ``1d``.

    Intraday timeframes are fixed buckets of ``seconds`` aligned to the session
    open; ``1d`` is one trading session, however long the session is.
    """

    name: str
    seconds: int

    @classmethod
    def parse(cls, text: str | Timeframe) -> Timeframe:
        if isinstance(text, Timeframe):
            return text
        return _parse_timeframe(str(text).strip().lower())

    @property
    def is_daily(self) -> bool:
        return self.seconds >= 86_400

    @property
    def ns(self) -> int:
        return self.seconds * NS_PER_SECOND

    def __str__(self) -> str:
        return self.name


_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86_400}
SUPPORTED_TIMEFRAMES = ("1m", "3m", "5m", "15m", "30m", "1h", "1d")


@lru_cache(maxsize=64)
def _parse_timeframe(text: str) -> Timeframe:
    match = re.fullmatch(r"(\d+)\s*([smhd])", text)
    if not match or int(match.group(1)) <= 0:
        raise ValueError(
            f"timeframe {text!r} is not valid; use a number and a unit s/m/h/d, "
            f"e.g. {', '.join(SUPPORTED_TIMEFRAMES)}"
        )
    count, unit = int(match.group(1)), match.group(2)
    if unit == "d" and count != 1:
        raise ValueError(f"timeframe {text!r} is not supported; the daily timeframe is '1d'")
    return Timeframe(name=f"{count}{unit}", seconds=count * _UNITS[unit])


@fast_init
@dataclass(frozen=True, slots=True)
class Tick:
    """One trade print. ``aggressor`` is the side that crossed the spread, if known."""

    symbol: str
    ts_ns: int
    price: float
    size: float
    aggressor: Side | None = None
    trade_id: str = ""

    @property
    def time(self) -> pd.Timestamp:
        return ns_to_timestamp(self.ts_ns)


@fast_init
@dataclass(frozen=True, slots=True)
class Bar:
    """OHLCV over ``[ts_ns, ts_ns + timeframe)``; ``ts_ns`` is the bucket's open time.

    ``vwap`` is the volume-weighted average trade price inside the bar (the close
    when the bar had no volume) and ``trades`` the number of prints.
    """

    symbol: str
    timeframe: str
    ts_ns: int
    open: float
    high: float
    low: float
    close: float
    volume: float
    trades: int = 0
    vwap: float = float("nan")

    @property
    def time(self) -> pd.Timestamp:
        return ns_to_timestamp(self.ts_ns)


@fast_init
@dataclass(frozen=True, slots=True)
class BookLevel:
    price: float
    size: float
    orders: int = 0


@dataclass(frozen=True, slots=True)
class OrderBook:
    """A depth snapshot: ``bids`` best (highest) first, ``asks`` best (lowest) first."""

    symbol: str
    ts_ns: int
    bids: tuple[BookLevel, ...]
    asks: tuple[BookLevel, ...]

    @property
    def best_bid(self) -> BookLevel | None:
        return self.bids[0] if self.bids else None

    @property
    def best_ask(self) -> BookLevel | None:
        return self.asks[0] if self.asks else None

    @property
    def mid(self) -> float | None:
        if not self.bids or not self.asks:
            return None
        return (self.bids[0].price + self.asks[0].price) / 2

    @property
    def spread(self) -> float | None:
        if not self.bids or not self.asks:
            return None
        return self.asks[0].price - self.bids[0].price

    @property
    def is_crossed(self) -> bool:
        return bool(self.bids and self.asks and self.bids[0].price >= self.asks[0].price)

    @property
    def time(self) -> pd.Timestamp:
        return ns_to_timestamp(self.ts_ns)
