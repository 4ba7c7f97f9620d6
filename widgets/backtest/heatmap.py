"""A metric over two searched parameters as a heatmap (pyqtgraph ImageItem).

``grid_matrix`` turns a search's trials into a matrix: one cell per (x, y)
pair of values, the cell's value the metric of that point, or, when more than
two parameters were searched, the best value over the others (so the map
shows what each pair can reach). Cells no trial covered (a constraint skipped
them, the search was cancelled, the run failed) are NaN and drawn empty.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
import pyqtgraph as pg
from PySide6.QtWidgets import QWidget

from widgets.theme import colours

MAX_CELL_LABELS = 144  # beyond this many cells the numbers would not fit


def _ordered(values: pd.Series) -> list[Any]:
    unique = list(dict.fromkeys(v.item() if isinstance(v, np.generic) else v
                                for v in values.dropna()))
    try:
        return sorted(unique)
    except TypeError:
        return unique


def _key(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


def grid_matrix(trials: pd.DataFrame, x: str, y: str | None, metric: str, maximize: bool
                ) -> tuple[list[Any], list[Any], np.ndarray]:
    """(x values, y values, matrix[x index, y index]) of ``metric`` over successful trials;
    ``y=None`` gives a single row (one searched parameter)."""
    ok = trials[trials["error"] == ""] if "error" in trials else trials
    xs = _ordered(trials[x])
    ys = _ordered(trials[y]) if y is not None else [""]
    matrix = np.full((len(xs), len(ys)), np.nan)
    xi = {v: i for i, v in enumerate(xs)}
    yi = {v: i for i, v in enumerate(ys)}
    y_values = ok[y] if y is not None else pd.Series([""] * len(ok), index=ok.index)
    for xv, yv, value in zip(ok[x], y_values, ok[metric], strict=True):
        try:
            v = float(value)
        except (TypeError, ValueError):
            continue
        if not math.isfinite(v):
            continue
        i, j = xi[_key(xv)], yi[_key(yv)]
        old = matrix[i, j]
        if math.isnan(old) or (v > old if maximize else v < old):
            matrix[i, j] = v
    return xs, ys, matrix


class Heatmap(pg.GraphicsLayoutWidget):
    """``show_grid(trials, x, y, metric, maximize)``; ``image.image`` is the drawn matrix."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setBackground(colours().background)
        self.plot = self.addPlot(row=0, col=0)
        self.plot.setMenuEnabled(False)
        self.plot.hideButtons()
        self.plot.setMouseEnabled(x=False, y=False)
        self.image = pg.ImageItem(axisOrder="col-major")
        self.plot.addItem(self.image)
        self.colour_map = pg.colormap.get("viridis")
        self.bar = pg.ColorBarItem(colorMap=self.colour_map, interactive=False, width=14)
        self.bar.setImageItem(self.image, insert_in=self.plot)
        self.xs: list[Any] = []
        self.ys: list[Any] = []
        self.matrix = np.zeros((0, 0))
        self.levels = (0.0, 1.0)
        self._labels: list[pg.TextItem] = []

    def show_grid(self, trials: pd.DataFrame, x: str, y: str | None, metric: str,
                  maximize: bool) -> None:
        """Draw ``metric`` over ``x`` (columns) and ``y`` (rows)."""
        self.xs, self.ys, self.matrix = grid_matrix(trials, x, y, metric, maximize)
        finite = self.matrix[np.isfinite(self.matrix)]
        lo, hi = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
        if lo == hi:
            lo, hi = lo - 0.5, hi + 0.5
        self.levels = (lo, hi)
        self.image.setImage(self.matrix, levels=(lo, hi), autoLevels=False)
        self.image.setRect(-0.5, -0.5, len(self.xs), len(self.ys))
        self.bar.setLevels((lo, hi))
        self._axis_labels(x, y, metric)
        self._cell_labels()
        self.plot.setRange(xRange=(-0.5, len(self.xs) - 0.5),
                           yRange=(-0.5, max(len(self.ys), 1) - 0.5), padding=0)

    def _axis_labels(self, x: str, y: str | None, metric: str) -> None:
        self.plot.setLabel("bottom", x)
        self.plot.setLabel("left", y or "")
        self.plot.setTitle(f"{metric} by {x}" + (f" and {y}" if y else ""))
        self.plot.getAxis("bottom").setTicks([[(i, _short(v)) for i, v in enumerate(self.xs)]])
        self.plot.getAxis("left").setTicks([[(j, _short(v)) for j, v in enumerate(self.ys)]])

    def _cell_labels(self) -> None:
        for item in self._labels:
            self.plot.removeItem(item)
        self._labels = []
        if self.matrix.size > MAX_CELL_LABELS:
            return
        lo, hi = self.levels
        for (i, j), v in np.ndenumerate(self.matrix):
            if math.isfinite(v):
                # viridis is light at the top: dark text there, white below.
                light = hi > lo and (v - lo) / (hi - lo) > 0.6
                text = pg.TextItem(f"{v:.3g}", color="k" if light else "w", anchor=(0.5, 0.5))
                text.setPos(i, j)
                self.plot.addItem(text)
                self._labels.append(text)


def _short(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)
