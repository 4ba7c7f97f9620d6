"""Drawdown: how far equity is below its running peak, and for how long.

``DrawdownTracker`` follows equity value by value in O(1); ``drawdown_curve``
and ``max_drawdown_duration`` do the same over a whole series (backtests).
Both agree: the tracker's ``max_drawdown_pct`` after a series equals the
series' deepest point of ``drawdown_curve`` (tested).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd


def drawdown_curve(equity: pd.Series) -> pd.Series:
    """Drawdown in percent (<= 0) from the running peak of ``equity``."""
    peak = equity.cummax()
    return (equity / peak - 1.0) * 100.0


def max_drawdown_duration(equity: pd.Series) -> pd.Timedelta:
    """Longest stretch from a peak until equity is back at that peak (or the last value)."""
    values = equity.to_numpy()
    if len(values) == 0:
        return pd.Timedelta(0)
    at_peak = values >= np.maximum.accumulate(values)
    peaks = np.flatnonzero(at_peak)
    times = equity.index
    recovered = np.append(peaks[1:], len(values) - 1)
    underwater = np.diff(np.append(peaks, len(values))) > 1
    if not underwater.any():
        return pd.Timedelta(0)
    spans = times[recovered[underwater]] - times[peaks[underwater]]
    return pd.Timedelta(spans.max())


@dataclass
class DrawdownTracker:
    """Running peak, current and maximum drawdown (percent) and their durations."""

    peak: float = float("-inf")
    current_pct: float = 0.0
    max_pct: float = 0.0
    peak_ns: int = 0
    underwater_since_ns: int | None = None
    max_duration_ns: int = 0
    updates: int = 0
    last_ns: int = 0

    def update(self, equity: float, ts_ns: int = 0) -> float:
        """Feed one equity value; returns the current drawdown in percent (>= 0)."""
        self.updates += 1
        self.last_ns = ts_ns
        if equity >= self.peak:
            if self.underwater_since_ns is not None:
                self.max_duration_ns = max(self.max_duration_ns, ts_ns - self.peak_ns)
            self.peak, self.peak_ns = equity, ts_ns
            self.underwater_since_ns = None
            self.current_pct = 0.0
            return 0.0
        if self.underwater_since_ns is None:
            self.underwater_since_ns = ts_ns
        self.current_pct = (1.0 - equity / self.peak) * 100.0 if self.peak > 0 else 0.0
        self.max_pct = max(self.max_pct, self.current_pct)
        self.max_duration_ns = max(self.max_duration_ns, ts_ns - self.peak_ns)
        return self.current_pct

    @property
    def current_duration_ns(self) -> int:
        """Time since the peak while below it (0 at a peak)."""
        return 0 if self.underwater_since_ns is None else self.last_ns - self.peak_ns
