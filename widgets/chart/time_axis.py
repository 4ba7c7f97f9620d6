"""A time axis over bar indices, in the market's timezone, with no gaps.

The x coordinate is the bar index, so nights, weekends and holidays take no
space; this axis only turns indices back into wall-clock labels.
"""

from __future__ import annotations

from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import pyqtgraph as pg


class IndexTimeAxis(pg.AxisItem):
    def __init__(self, tz: str | ZoneInfo = "UTC", **kwargs: object) -> None:
        super().__init__(orientation="bottom", **kwargs)
        self.ts = np.empty(0, dtype=np.int64)
        self.n = 0
        self.tz = ZoneInfo(str(tz)) if isinstance(tz, str) else tz

    def set_times(self, ts: np.ndarray, n: int, tz: str | ZoneInfo | None = None) -> None:
        self.ts, self.n = ts, n
        if tz is not None:
            self.tz = ZoneInfo(str(tz)) if isinstance(tz, str) else tz
        self.picture = None
        self.update()

    def label_for(self, index: int, spacing_ns: int | None = None) -> str:
        if not 0 <= index < self.n:
            return ""
        stamp = pd.Timestamp(int(self.ts[index]), unit="ns", tz="UTC").tz_convert(self.tz)
        if spacing_ns is None or spacing_ns >= 86_400 * 10**9:
            return stamp.strftime("%Y-%m-%d")
        if spacing_ns >= 3_600 * 10**9:
            return stamp.strftime("%m-%d %H:%M")
        return stamp.strftime("%H:%M")

    def tickStrings(self, values: list[float], scale: float, spacing: float) -> list[str]:  # noqa: N802
        if self.n < 2:
            return ["" for _ in values]
        step = max(1, int(round(spacing)))
        typical = int(np.median(np.diff(self.ts[: min(self.n, 200)]))) if self.n > 1 else 60 * 10**9
        return [self.label_for(int(round(v)), typical * step) for v in values]
