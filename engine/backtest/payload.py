"""What every job of a search needs, sent once: the run settings and every symbol's bars.

A search or walk-forward job runs on a slice ``lo:hi`` of the run's *timeline*:
the sorted bar open times of all its symbols together. With one symbol that is
simply its bars; with several (``funding_arbitrage``'s perpetual and spot, a
basket) a window is a span of time, and each symbol trades the bars it has in
it. Each job warms up on the bars before its slice (the stored history first),
as a backtest that started there would, and the perpetuals' funding rates are
settled inside it.

    >>> payload = make_payload("sma_cross", run_data, config)   # doctest: +SKIP
    >>> payload.window(0, 500)      # {symbol: its bars in the first 500 timeline points}
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd

from engine.backtest.data_source import HISTORY_BARS, DataSet, warmup_history
from engine.backtest.run_data import RunData
from engine.backtest.runner import BacktestCancelled, BacktestConfig, run_backtest
from engine.errors import UserError
from engine.models import Instrument
from engine.strategy.registry import get_strategy


def timeline(frames: Mapping[str, pd.DataFrame]) -> pd.DatetimeIndex:
    """Every distinct bar open time of ``frames``, sorted: what search windows count."""
    stamps = np.unique(np.concatenate([f.index.as_unit("ns").asi8 for f in frames.values()]))
    return pd.DatetimeIndex(stamps.view("M8[ns]"), tz="UTC", name="time")


@dataclass(frozen=True)
class Payload:
    """The run settings (params aside), each symbol's bars, warm-up history and funding."""

    config: BacktestConfig
    frames: Mapping[str, pd.DataFrame]
    instruments: Mapping[str, Instrument] = field(default_factory=dict)
    history: Mapping[str, pd.DataFrame] = field(default_factory=dict)  # bars before ``frames``
    funding: Mapping[str, pd.Series] = field(default_factory=dict)  # perpetual -> its rates
    ticks: Mapping[str, pd.DataFrame] = field(default_factory=dict)  # trades, where given
    times: pd.DatetimeIndex = field(init=False)  # the timeline that ``lo:hi`` count

    def __post_init__(self) -> None:
        object.__setattr__(self, "times", timeline(self.frames))

    def _bounds(self, lo: int, hi: int | None) -> tuple[int | None, int | None]:
        """``lo:hi`` on the timeline as open times in ns (None: unbounded)."""
        ts = self.times.asi8
        start = int(ts[lo]) if 0 < lo < len(ts) else (None if lo <= 0 else int(ts[-1]) + 1)
        end = None if hi is None or hi >= len(ts) else int(ts[max(hi, 0)])
        return start, end

    def window(self, lo: int = 0, hi: int | None = None) -> dict[str, pd.DataFrame]:
        """Every symbol's bars that open within timeline points ``lo:hi``."""
        return _slice(self.frames, *self._bounds(lo, hi))

    def before(self, lo: int) -> dict[str, pd.DataFrame] | None:
        """Each symbol's bars before timeline point ``lo`` (its history first): a run on
        ``lo:`` warms up on them."""
        start, _ = self._bounds(lo, None)
        out = {}
        for symbol, frame in self.frames.items():
            earlier = None
            if start is not None:
                b = int(np.searchsorted(frame.index.as_unit("ns").asi8, start, "left"))
                earlier = frame.iloc[max(0, b - HISTORY_BARS):b]
            warm = warmup_history(self.history.get(symbol), earlier)
            if warm is not None:
                out[symbol] = warm
        return out or None

    def span(self, lo: int, hi: int) -> pd.DatetimeIndex:
        """The timeline points ``lo:hi`` (a window's bar open times)."""
        return self.times[lo:hi]


def _slice(frames: Mapping[str, pd.DataFrame], start: int | None,
           end: int | None) -> dict[str, pd.DataFrame]:
    """Each frame's rows stamped in ``[start, end)`` (None: unbounded)."""
    out = {}
    for symbol, frame in frames.items():
        ts = frame.index.as_unit("ns").asi8
        a = 0 if start is None else int(np.searchsorted(ts, start, "left"))
        b = len(ts) if end is None else int(np.searchsorted(ts, end, "left"))
        out[symbol] = frame.iloc[a:b]
    return out


def make_payload(strategy_name: str, data: RunData | DataSet | pd.DataFrame,
                 config: BacktestConfig | None,
                 funding: Mapping[str, pd.Series] | None = None) -> Payload:
    """The run settings and bars: ``config`` as given, or one built from the data;
    ``UserError`` up front if the strategy cannot trade its symbols."""
    if isinstance(data, DataSet):
        data = RunData.of([data])
    if isinstance(data, RunData):
        base = config or BacktestConfig(strategy_name, data.symbols, timeframe=data.timeframe)
        payload = Payload(replace(base, strategy=strategy_name, params={}), dict(data.frames),
                          dict(data.instruments), dict(data.history), dict(funding or {}),
                          dict(data.ticks))
    elif config is None:
        raise ValueError("pass config= (symbols, timeframe) with a bare DataFrame, or a DataSet")
    else:
        if len(config.symbols) != 1:
            raise UserError("one DataFrame given for several symbols; pass RunData")
        payload = Payload(replace(config, strategy=strategy_name, params={}),
                          {config.symbols[0]: data}, funding=dict(funding or {}))
    get_strategy(strategy_name).check_symbols(payload.config.symbols)
    return payload


def evaluate(payload: Payload, params: Mapping[str, Any], lo: int = 0, hi: int | None = None,
             cancel: Any = None) -> dict[str, Any]:
    """One backtest of ``params`` on timeline points ``lo:hi``: {"metrics": {...}} or
    {"error": text}."""
    try:
        result = run_window(payload, params, lo, hi, cancel=cancel)
    except BacktestCancelled:
        raise
    except Exception as exc:  # one bad point must not end the search; the row says why
        return {"error": f"{type(exc).__name__}: {exc}"}
    return {"metrics": result.metrics.as_dict()}


def run_window(payload: Payload, params: Mapping[str, Any], lo: int, hi: int | None, *,
               cash: float | None = None, cancel: Any = None) -> Any:
    """The full ``BacktestResult`` of ``params`` on timeline points ``lo:hi``.

    A symbol with no bars in the window (listed later, delisted earlier) sits it
    out when the strategy trades each symbol on its own; a strategy that needs
    them all together (a perpetual and its spot) cannot run there: ``UserError``.
    """
    config = replace(payload.config, params=dict(params))
    if cash is not None:
        config = replace(config, cash=cash)
    frames = payload.window(lo, hi)
    absent = [s for s, f in frames.items() if f.empty]
    if absent:
        if get_strategy(config.strategy).multi_symbol or len(absent) == len(frames):
            span = payload.times[max(lo, 0):hi]
            when = f"{span[0]} .. {span[-1]}" if len(span) else "this window"
            raise UserError(f"no bars of {', '.join(absent)} in {when}")
        frames = {s: f for s, f in frames.items() if not f.empty}
        config = replace(config, symbols=tuple(s for s in config.symbols if s in frames))
    # The run keeps each symbol's trades inside its bars of the window.
    ticks = {s: t for s, t in payload.ticks.items() if s in frames}
    return run_backtest(config, frames, instruments=payload.instruments, cancel=cancel,
                        warmup=payload.before(lo), funding=payload.funding or None,
                        ticks=ticks or None)
