"""Candles and volume that stay fast with a million bars.

Only what is visible is drawn. A picture is built for the visible window plus
one window of margin on each side and reused while the view pans inside it
(one QPicture of all bars would take over a second to build and half a second
to replay, even zoomed in). Beyond ``LOD_BARS`` visible bars the candles are
thinned to one high-low line per pixel column, coloured by that column's net
move, which looks the same at that zoom and costs a few milliseconds.

x is the bar's index (0 .. n-1), so closed sessions leave no gaps.
"""

from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QLineF, QRectF
from PySide6.QtGui import QColor, QPainter, QPen, QPicture

LOD_BARS = 3_000
BODY_WIDTH = 0.7


class BarSeries:
    """Growable OHLCV arrays (amortised appends for the live bar)."""

    def __init__(self) -> None:
        self.n = 0
        self._cap = 0
        self.ts = np.empty(0, dtype=np.int64)
        self.open = self.high = self.low = self.close = self.volume = np.empty(0)
        self.version = 0

    def set(self, ts: np.ndarray, o: np.ndarray, h: np.ndarray, low: np.ndarray,
            c: np.ndarray, v: np.ndarray) -> None:
        self.n = len(ts)
        self._cap = self.n
        self.ts = np.asarray(ts, dtype=np.int64).copy()
        self.open, self.high = np.asarray(o, float).copy(), np.asarray(h, float).copy()
        self.low, self.close = np.asarray(low, float).copy(), np.asarray(c, float).copy()
        self.volume = np.asarray(v, float).copy()
        self.version += 1

    def upsert_last(self, ts: int, o: float, h: float, low: float, c: float, v: float) -> bool:
        """Replace the last bar if ``ts`` is its time, else append. True if appended."""
        if self.n and ts == self.ts[self.n - 1]:
            i, appended = self.n - 1, False
        elif self.n and ts < self.ts[self.n - 1]:
            return False  # older than what we show: the stored history has it
        else:
            if self.n == self._cap:
                self._grow()
            i, appended = self.n, True
            self.n += 1
        self.ts[i], self.open[i], self.high[i] = ts, o, h
        self.low[i], self.close[i], self.volume[i] = low, c, v
        self.version += 1
        return appended

    def _grow(self) -> None:
        cap = max(1024, self._cap * 2)
        for name in ("ts", "open", "high", "low", "close", "volume"):
            old = getattr(self, name)
            new = np.empty(cap, dtype=old.dtype)
            new[: self.n] = old[: self.n]
            setattr(self, name, new)
        self._cap = cap

    def view(self, name: str) -> np.ndarray:
        return getattr(self, name)[: self.n]

    def visible(self, x0: float, x1: float) -> tuple[int, int]:
        i0 = max(0, int(math.floor(x0)))
        i1 = min(self.n, int(math.ceil(x1)) + 1)
        return i0, max(i0, i1)


class _WindowedItem(pg.GraphicsObject):
    """Draws [i0, i1) of a BarSeries through a cached picture of a wider window."""

    def __init__(self, series: BarSeries, up: str, down: str) -> None:
        super().__init__()
        self.series = series
        self.up_colour, self.down_colour = QColor(up), QColor(down)
        self._picture: QPicture | None = None
        self._key: tuple[int, int, int, int] | None = None
        self._bounds = QRectF(0, 0, 1, 1)
        self.builds = 0

    def set_colours(self, up: str, down: str) -> None:
        self.up_colour, self.down_colour = QColor(up), QColor(down)
        self.invalidate()

    def invalidate(self) -> None:
        self._picture = None
        self._key = None
        self.prepareGeometryChange()
        self._bounds = self._compute_bounds()
        self.update()

    def _compute_bounds(self) -> QRectF:
        return QRectF(0, 0, max(self.series.n, 1), 1)

    def boundingRect(self) -> QRectF:  # noqa: N802
        return self._bounds

    def paint(self, painter: QPainter, *args: object) -> None:
        s = self.series
        vb = self.getViewBox()
        if s.n == 0 or vb is None:
            return
        (x0, x1), _ = vb.viewRange()
        i0, i1 = s.visible(x0, x1)
        if i1 <= i0:
            return
        count = i1 - i0
        pixels = max(1, int(vb.width()))
        lod = count > LOD_BARS
        step = max(1, count // pixels) if lod else 1
        key_ok = self._key is not None and self._picture is not None
        if key_ok:
            k0, k1, kstep, kver = self._key  # type: ignore[misc]
            key_ok = k0 <= i0 and i1 <= k1 and kstep == step and kver == s.version
        if not key_ok:
            margin = count
            w0, w1 = max(0, i0 - margin), min(s.n, i1 + margin)
            self._picture = self._build(w0, w1, step, lod)
            self._key = (w0, w1, step, s.version)
            self.builds += 1
        assert self._picture is not None
        self._picture.play(painter)

    def _build(self, i0: int, i1: int, step: int, lod: bool) -> QPicture:
        raise NotImplementedError


class CandlestickItem(_WindowedItem):
    def _compute_bounds(self) -> QRectF:
        s = self.series
        if s.n == 0:
            return QRectF(0, 0, 1, 1)
        lo, hi = float(np.nanmin(s.view("low"))), float(np.nanmax(s.view("high")))
        return QRectF(-1, lo, s.n + 1, max(hi - lo, 1e-9))

    def extend_bounds(self, low: float, high: float) -> None:
        """Cheap bounds update for the live bar (no full min/max over the history)."""
        b = self._bounds
        lo, hi = min(b.top(), low), max(b.bottom(), high)
        self.prepareGeometryChange()
        self._bounds = QRectF(-1, lo, self.series.n + 1, max(hi - lo, 1e-9))
        self._picture = None
        self.update()

    def _build(self, i0: int, i1: int, step: int, lod: bool) -> QPicture:
        s = self.series
        picture = QPicture()
        p = QPainter(picture)
        o, h, low, c = (s.open[i0:i1], s.high[i0:i1], s.low[i0:i1], s.close[i0:i1])
        if lod:
            starts = np.arange(0, i1 - i0, step)
            hi = np.maximum.reduceat(h, starts)
            lo = np.minimum.reduceat(low, starts)
            first = o[starts]
            last = c[np.minimum(starts + step, i1 - i0) - 1]
            xs = starts + i0 + step / 2
            for colour, mask in ((self.up_colour, last >= first), (self.down_colour, last < first)):
                p.setPen(QPen(colour, 0))
                p.drawLines([QLineF(x, a, x, b) for x, a, b in zip(xs[mask], lo[mask], hi[mask],
                                                                    strict=True)])
        else:
            xs = np.arange(i0, i1, dtype=float)
            up = c >= o
            half = BODY_WIDTH / 2
            for colour, mask in ((self.up_colour, up), (self.down_colour, ~up)):
                pen = QPen(colour, 0)
                p.setPen(pen)
                p.setBrush(colour)
                p.drawLines([QLineF(x, a, x, b) for x, a, b in zip(xs[mask], low[mask], h[mask],
                                                                    strict=True)])
                tops, bottoms = np.maximum(o[mask], c[mask]), np.minimum(o[mask], c[mask])
                p.drawRects([QRectF(x - half, b, BODY_WIDTH, max(t - b, 1e-12))
                             for x, t, b in zip(xs[mask], tops, bottoms, strict=True)])
        p.end()
        return picture


class VolumeItem(_WindowedItem):
    def _compute_bounds(self) -> QRectF:
        s = self.series
        top = float(np.nanmax(s.view("volume"))) if s.n else 1.0
        return QRectF(-1, 0, max(s.n, 1) + 1, max(top, 1e-9))

    def _build(self, i0: int, i1: int, step: int, lod: bool) -> QPicture:
        s = self.series
        picture = QPicture()
        p = QPainter(picture)
        v, o, c = s.volume[i0:i1], s.open[i0:i1], s.close[i0:i1]
        if lod:
            starts = np.arange(0, i1 - i0, step)
            top = np.maximum.reduceat(v, starts)
            xs = starts + i0 + step / 2
            p.setPen(QPen(self.up_colour.darker(150), 0))
            p.drawLines([QLineF(x, 0, x, t) for x, t in zip(xs, top, strict=True)])
        else:
            xs = np.arange(i0, i1, dtype=float)
            up = c >= o
            half = BODY_WIDTH / 2
            for colour, mask in ((self.up_colour, up), (self.down_colour, ~up)):
                faded = QColor(colour)
                faded.setAlpha(140)
                p.setPen(QPen(faded, 0))
                p.setBrush(faded)
                p.drawRects([QRectF(x - half, 0, BODY_WIDTH, t)
                             for x, t in zip(xs[mask], v[mask], strict=True)])
        p.end()
        return picture


def visible_range(series: BarSeries, name_low: str, name_high: str,
                  i0: int, i1: int) -> tuple[float, float] | None:
    if i1 <= i0:
        return None
    lo = float(np.nanmin(getattr(series, name_low)[i0:i1]))
    hi = float(np.nanmax(getattr(series, name_high)[i0:i1]))
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return None
    return lo, hi


__all__ = ["BarSeries", "CandlestickItem", "LOD_BARS", "VolumeItem", "visible_range"]
