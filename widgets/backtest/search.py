"""The optimisation tab: the search space, the method, Run/Cancel, and the results.

Two modes share the controls. *Optimise* ranks every point of the search by
the chosen metric (table) and maps it over two parameters (heatmap).
*Walk-forward* cuts the bars into windows (count and train fraction), chooses
parameters on each train part and trades the test part after it: one table
row per window, and the stitched out-of-sample metrics and equity.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from typing import Any

import pandas as pd
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSpinBox,
    QSplitter,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from engine.backtest.optimize import RANKABLE, OptimizationResult
from engine.backtest.walkforward import WalkForwardResult
from engine.errors import UserError
from engine.strategy.base import Strategy
from widgets.backtest.controls import RunBar
from widgets.backtest.heatmap import Heatmap
from widgets.backtest.plots import EquityPlots
from widgets.backtest.space import SearchSpaceEditor
from widgets.backtest.tables import FrameTable, MetricsTable

OPTIMISE, WALK_FORWARD = "Optimise", "Walk-forward"
# Shown after the searched parameters in the results table; every metric is in the CSV.
SHOWN_METRICS = ("total_return_pct", "sharpe", "sortino", "max_drawdown_pct", "trades",
                 "win_rate_pct", "profit_factor", "expectancy")


@dataclass(frozen=True)
class SearchSettings:
    """The tab's choices, taken on the GUI thread."""

    mode: str
    space: dict[str, str | None]
    metric: str
    method: str  # grid | random
    n_iter: int
    workers: int
    windows: int
    train_fraction: float
    anchored: bool


def walk_forward_spans(bars: int, windows: int, train_fraction: float) -> tuple[int, int]:
    """(train, test) bar counts giving exactly ``windows`` rolling windows over ``bars``:
    each window is train + test long with train / (train + test) = ``train_fraction``."""
    if not 0 < train_fraction < 1:
        raise UserError(f"train fraction must be between 0 and 1, got {train_fraction}")
    if windows < 1:
        raise UserError(f"walk-forward needs at least 1 window, got {windows}")
    length = bars / (train_fraction + windows * (1 - train_fraction))
    train = max(2, int(round(train_fraction * length)))
    test = math.ceil((bars - train) / windows) if bars > train else 0
    if test < 1 or train + (windows - 1) * test >= bars:
        raise UserError(f"{bars} bars are too few for {windows} walk-forward windows with a "
                        f"train fraction of {train_fraction:g}")
    return train, test


class SearchTab(QWidget):
    """Emits ``params_chosen(dict)`` when the user takes a result's parameters."""

    params_chosen = Signal(dict)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.run_bar = RunBar("Run search")
        self.space = SearchSpaceEditor()
        self.space.limit_reached.connect(lambda text: self.run_bar.status(text, error=True))
        self.mode = QComboBox()
        self.mode.addItems([OPTIMISE, WALK_FORWARD])
        self.metric_box = QComboBox()
        self.metric_box.addItems(RANKABLE)
        self.metric_box.setCurrentText("sharpe")
        self.method = QComboBox()
        self.method.addItems(["grid", "random"])
        self.n_iter = QSpinBox()
        self.n_iter.setRange(1, 100_000)
        self.n_iter.setValue(50)
        self.n_iter.setPrefix("n = ")
        self.workers = QSpinBox()
        cpus = os.cpu_count() or 1
        self.workers.setRange(1, cpus)
        self.workers.setValue(max(1, cpus - 1))
        self.workers.setToolTip("1 runs in the worker thread; more use a process pool")
        self.windows = QSpinBox()
        self.windows.setRange(1, 100)
        self.windows.setValue(4)
        self.train_fraction = QDoubleSpinBox()
        self.train_fraction.setRange(0.05, 0.95)
        self.train_fraction.setSingleStep(0.05)
        self.train_fraction.setValue(0.7)
        self.anchored = QCheckBox("anchored")
        self.use_best = QPushButton("Use best parameters")
        self.use_best.setEnabled(False)
        self.use_best.clicked.connect(self._use_best)
        self._build_results()
        self._layout()
        self.mode.currentTextChanged.connect(self._mode_changed)
        self.method.currentTextChanged.connect(
            lambda m: self.n_iter.setEnabled(m == "random"))
        self._mode_changed(OPTIMISE)
        self.n_iter.setEnabled(False)
        self.result: OptimizationResult | None = None
        self.walk: WalkForwardResult | None = None

    def _build_results(self) -> None:
        self.trials = FrameTable()
        self.trials.doubleClicked.connect(self._row_chosen)
        self.heatmap = Heatmap()
        self.x_param = QComboBox()
        self.y_param = QComboBox()
        for box in (self.x_param, self.y_param):
            box.currentTextChanged.connect(self.redraw_heatmap)
        axes = QHBoxLayout()
        axes.addWidget(QLabel("Heatmap x"))
        axes.addWidget(self.x_param)
        axes.addWidget(QLabel("y"))
        axes.addWidget(self.y_param)
        axes.addStretch(1)
        heat = QWidget()
        heat_layout = QVBoxLayout(heat)
        heat_layout.setContentsMargins(0, 0, 0, 0)
        heat_layout.addLayout(axes)
        heat_layout.addWidget(self.heatmap, 1)
        search_page = QSplitter(Qt.Orientation.Horizontal)
        search_page.addWidget(self.trials)
        search_page.addWidget(heat)
        search_page.setSizes([600, 450])
        self.windows_table = FrameTable()
        self.oos_metrics = MetricsTable()
        self.oos_plots = EquityPlots()
        lower = QSplitter(Qt.Orientation.Horizontal)
        lower.addWidget(self.oos_metrics)
        lower.addWidget(self.oos_plots)
        lower.setSizes([280, 700])
        walk_page = QSplitter(Qt.Orientation.Vertical)
        walk_page.addWidget(self.windows_table)
        walk_page.addWidget(lower)
        self.pages = QStackedWidget()
        self.pages.addWidget(search_page)
        self.pages.addWidget(walk_page)

    def _layout(self) -> None:
        form = QFormLayout()
        form.addRow("Mode", self.mode)
        method = QHBoxLayout()
        method.addWidget(self.method)
        method.addWidget(self.n_iter)
        form.addRow("Method", method)
        form.addRow("Rank by", self.metric_box)
        form.addRow("Workers", self.workers)
        walk = QHBoxLayout()
        walk.addWidget(QLabel("windows"))
        walk.addWidget(self.windows)
        walk.addWidget(QLabel("train fraction"))
        walk.addWidget(self.train_fraction)
        walk.addWidget(self.anchored)
        self.walk_row = QWidget()
        self.walk_row.setLayout(walk)
        walk.setContentsMargins(0, 0, 0, 0)
        form.addRow("Walk-forward", self.walk_row)
        settings = QGroupBox("Search")
        top = QHBoxLayout(settings)
        top.addWidget(self.space, 3)
        side = QVBoxLayout()
        side.addLayout(form)
        side.addWidget(self.use_best)
        side.addStretch(1)
        top.addLayout(side, 2)
        body = QSplitter(Qt.Orientation.Vertical)
        body.addWidget(settings)
        body.addWidget(self.pages)
        body.setStretchFactor(1, 3)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.addWidget(self.run_bar)
        layout.addWidget(body, 1)

    def _mode_changed(self, mode: str) -> None:
        self.walk_row.setEnabled(mode == WALK_FORWARD)
        self.pages.setCurrentIndex(0 if mode == OPTIMISE else 1)

    def set_strategy(self, cls: type[Strategy]) -> None:
        self.space.set_strategy(cls)

    def settings(self) -> SearchSettings:
        space = self.space.space()
        if not space:
            raise UserError("tick at least one parameter to search")
        return SearchSettings(
            mode=self.mode.currentText(), space=space, metric=self.metric_box.currentText(),
            method=self.method.currentText(), n_iter=self.n_iter.value(),
            workers=self.workers.value(), windows=self.windows.value(),
            train_fraction=self.train_fraction.value(), anchored=self.anchored.isChecked())

    # ---- results ---------------------------------------------------------------------------
    def show_search(self, result: OptimizationResult) -> None:
        self.result = result
        ranked = result.ranked()
        failed = result.trials[result.trials["error"] != ""]
        columns = [*result.names, result.metric,
                   *(m for m in SHOWN_METRICS if m != result.metric), "error"]
        frame = pd.concat([ranked, failed]) if len(failed) else ranked
        self.trials.show_frame(frame[columns], index_name="trial")
        self.trials.sortByColumn(self.trials.column_of(result.metric),
                                 Qt.SortOrder.DescendingOrder if result.maximize
                                 else Qt.SortOrder.AscendingOrder)
        names = list(result.names)
        for box, default in ((self.x_param, 0), (self.y_param, 1)):
            box.blockSignals(True)
            box.clear()
            box.addItems(names if box is self.x_param else ["(none)", *names])
            box.setCurrentIndex(default if box is self.x_param else
                                (2 if len(names) > 1 else 0))
            box.blockSignals(False)
        self.redraw_heatmap()
        self.use_best.setEnabled(result.best is not None)
        self.pages.setCurrentIndex(0)

    def redraw_heatmap(self, *_: Any) -> None:
        result = self.result
        x = self.x_param.currentText()
        if result is None or not x or result.trials.empty:
            return
        y = self.y_param.currentText()
        self.heatmap.show_grid(result.trials, x, None if y in ("", "(none)", x) else y,
                               result.metric, result.maximize)

    def show_walk(self, result: WalkForwardResult) -> None:
        self.walk = result
        self.windows_table.show_frame(result.table(), index_name="window")
        self.oos_metrics.show_metrics(result.metrics.as_dict(),
                                      {"Windows": len(result.windows),
                                       "Run time s": round(result.elapsed_s, 2)})
        self.oos_plots.show_curves(result.equity, result.drawdown)
        self.pages.setCurrentIndex(1)

    def _use_best(self) -> None:
        if self.result is not None and self.result.best is not None:
            self.params_chosen.emit(dict(self.result.best.params))

    def _row_chosen(self, index: Any) -> None:
        if self.result is None:
            return
        row = self.trials.records.record(self.trials.proxy.mapToSource(index).row())
        trial = self.result.trials.loc[row[0]]
        self.params_chosen.emit({n: _plain(trial[n]) for n in self.result.param_columns})


def _plain(value: Any) -> Any:
    return value.item() if hasattr(value, "item") else value
