"""A light grid at the axes' major ticks.

pyqtgraph's own grid (``showGrid``) is drawn by the axis items across the
whole plot with alpha blending and costs tens of milliseconds a frame in
software rendering; these are a few opaque cosmetic lines, well under one.
"""

from __future__ import annotations

import pyqtgraph as pg
from PySide6.QtCore import QLineF, QRectF
from PySide6.QtGui import QColor, QPainter, QPen


class GridLines(pg.GraphicsObject):
    def __init__(self, plot: pg.PlotItem, colour: str, *, vertical: bool = True,
                 horizontal: bool = True) -> None:
        super().__init__()
        self.plot = plot
        self.pen = QPen(QColor(colour), 0)
        self.vertical = vertical
        self.horizontal = horizontal
        self.setZValue(-100)

    def set_colour(self, colour: str) -> None:
        self.pen = QPen(QColor(colour), 0)
        self.update()

    def boundingRect(self) -> QRectF:  # noqa: N802
        vb = self.getViewBox()
        if vb is None:
            return QRectF()
        (x0, x1), (y0, y1) = vb.viewRange()
        return QRectF(x0, y0, x1 - x0, y1 - y0)

    def _major(self, axis: str, lo: float, hi: float, size: float) -> list[float]:
        levels = self.plot.getAxis(axis).tickValues(lo, hi, size)
        return list(levels[0][1]) if levels else []

    def paint(self, painter: QPainter, *args: object) -> None:
        vb = self.getViewBox()
        if vb is None:
            return
        (x0, x1), (y0, y1) = vb.viewRange()
        painter.setPen(self.pen)
        lines = []
        if self.vertical:
            lines += [QLineF(x, y0, x, y1) for x in self._major("bottom", x0, x1, vb.width())]
        if self.horizontal:
            lines += [QLineF(x0, y, x1, y) for y in self._major("left", y0, y1, vb.height())]
        if lines:
            painter.drawLines(lines)

    def viewRangeChanged(self) -> None:  # noqa: N802
        self.prepareGeometryChange()
        self.update()
