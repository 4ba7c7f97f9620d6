"""The bars of every symbol of one backtest, and each perpetual's funding rates.

``resolve_data`` gives one symbol's bars (``DataSet``); a backtest over several
symbols (``backtest --data AAPL MSFT``, or a perpetual and its spot for
``funding_arbitrage``) runs on ``RunData.of(sets)``. Funding rates come from a
CSV of ``time,rate`` (``read_funding``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from engine.backtest.data_source import DataSet
from engine.errors import UserError
from engine.models import Instrument

TIME_COLUMNS = ("time", "timestamp", "funding_time", "fundingtime", "date")
RATE_COLUMNS = ("rate", "funding_rate", "fundingrate")


@dataclass(frozen=True)
class RunData:
    symbols: tuple[str, ...]
    timeframe: str
    frames: dict[str, pd.DataFrame]
    instruments: dict[str, Instrument]
    history: dict[str, pd.DataFrame]  # warm-up bars before the range, by symbol
    origin: str
    ticks: dict[str, pd.DataFrame] = field(default_factory=dict)  # trades, where given

    @classmethod
    def of(cls, sets: list[DataSet]) -> RunData:
        """The sets of one run: distinct symbols on one timeframe."""
        symbols = [d.symbol for d in sets]
        twice = sorted({s for s in symbols if symbols.count(s) > 1})
        if twice:
            raise UserError(f"--data names {twice[0]} more than once")
        frames = {d.timeframe for d in sets}
        if len(frames) > 1:
            listed = ", ".join(f"{d.symbol} {d.timeframe}" for d in sets)
            raise UserError(f"the data are on different timeframes ({listed}); give "
                            "--timeframe to resample them to one")
        return cls(tuple(symbols), sets[0].timeframe, {d.symbol: d.frame for d in sets},
                   {s: i for d in sets for s, i in d.instruments().items()},
                   {d.symbol: d.history for d in sets if d.history is not None},
                   "; ".join(d.origin for d in sets),
                   {d.symbol: d.ticks for d in sets if d.ticks is not None})

    @property
    def label(self) -> str:
        return ",".join(self.symbols)


def read_funding(path: str | Path) -> pd.Series:
    """A perpetual's funding rates from a CSV with a time and a rate column.

    Times are ISO text (UTC unless they say otherwise) or Unix milliseconds (as
    exchanges export them); rates are fractions per interval (0.0001 = 0.01%).
    """
    path = Path(path)
    if not path.is_file():
        raise UserError(f"funding file {path}: no such file")
    try:
        raw = pd.read_csv(path)
    except (ValueError, pd.errors.ParserError) as exc:
        raise UserError(f"funding file {path}: not a CSV ({exc})") from None
    columns = {c.strip().lower(): c for c in raw.columns}
    time_col = next((columns[c] for c in TIME_COLUMNS if c in columns), None)
    rate_col = next((columns[c] for c in RATE_COLUMNS if c in columns), None)
    if time_col is None or rate_col is None:
        raise UserError(f"funding file {path}: needs a time column ({', '.join(TIME_COLUMNS)}) "
                        f"and a rate column ({', '.join(RATE_COLUMNS)}); it has "
                        f"{', '.join(map(str, raw.columns))}")
    times = [_time(path, line, value) for line, value in enumerate(raw[time_col], start=2)]
    rates = [_rate(path, line, value) for line, value in enumerate(raw[rate_col], start=2)]
    series = pd.Series(rates, index=pd.DatetimeIndex(times), name="rate").sort_index()
    if series.index.has_duplicates:
        when = series.index[series.index.duplicated()][0]
        raise UserError(f"funding file {path}: two rates at {when}")
    return series


def _time(path: Path, line: int, value: object) -> pd.Timestamp:
    try:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return pd.Timestamp(int(value), unit="ms", tz="UTC")
        ts = pd.Timestamp(str(value))
        return ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")
    except (ValueError, TypeError, OverflowError):
        raise UserError(f"funding file {path}, line {line}: {value!r} is not a time") from None


def _rate(path: Path, line: int, value: object) -> float:
    try:
        rate = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        rate = math.nan
    if not math.isfinite(rate) or abs(rate) >= 1:
        raise UserError(f"funding file {path}, line {line}: rate {value!r} is not a fraction "
                        "between -1 and 1 (0.0001 is 0.01%)")
    return rate
