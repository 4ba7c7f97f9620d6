"""Which parameters to search and over what: a table built from the declared Params.

Numbers get low / high / step boxes (start: the declared range, a step giving
about five points, like ``Param.grid``); booleans and declared choices are
searched over all their values. Free-text parameters cannot be searched and
are not listed. At most ``MAX_SEARCHED`` parameters can be ticked.
"""

from __future__ import annotations

import math
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QAbstractSpinBox,
    QDoubleSpinBox,
    QHeaderView,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QWidget,
)

from engine.strategy.base import Strategy
from engine.strategy.params import Param

MAX_SEARCHED = 3
_NUMBER_LIMIT = 1e12


def searchable(param: Param) -> bool:
    return param.choices is not None or param.kind in (bool, int, float)


def default_step(param: Param) -> float:
    """A step giving about five grid points over the declared range (1 for a small int one)."""
    if param.step:
        return float(param.step)
    lo, hi = param.low, param.high
    if lo is None or hi is None or hi <= lo:
        return 1.0
    if param.kind is int:
        return float(max(1, int((hi - lo) // 4)))
    raw = (hi - lo) / 4
    return float(f"{raw:.2g}")


class SearchSpaceEditor(QTableWidget):
    """Tick up to ``MAX_SEARCHED`` rows; ``space()`` gives ``optimize``'s {name: spec}."""

    limit_reached = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(0, 4, parent)
        self.setHorizontalHeaderLabels(["Search", "Low", "High", "Step"])
        self.verticalHeader().setVisible(False)
        self.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.params: dict[str, Param] = {}
        self.rows: dict[str, int] = {}
        self.itemChanged.connect(self._ticked)

    def set_strategy(self, cls: type[Strategy], values: dict[str, Any] | None = None) -> None:
        """List ``cls``'s searchable parameters (ranges centred on nothing: the declaration)."""
        self.blockSignals(True)
        self.setRowCount(0)
        self.params = {n: p for n, p in cls.params.items() if searchable(p)}
        self.rows = {}
        for row, (name, param) in enumerate(self.params.items()):
            self.insertRow(row)
            self.rows[name] = row
            item = QTableWidgetItem(name)
            item.setFlags(Qt.ItemFlag.ItemIsUserCheckable | Qt.ItemFlag.ItemIsEnabled)
            item.setCheckState(Qt.CheckState.Unchecked)
            item.setToolTip(param.help)
            self.setItem(row, 0, item)
            if param.choices is not None or param.kind is bool:
                values_text = ", ".join(map(str, param.grid()))
                for col in (1, 2, 3):
                    cell = QTableWidgetItem(values_text if col == 1 else "")
                    cell.setFlags(Qt.ItemFlag.ItemIsEnabled)
                    self.setItem(row, col, cell)
                continue
            lo = param.low if param.low is not None else -_NUMBER_LIMIT
            hi = param.high if param.high is not None else _NUMBER_LIMIT
            self.setCellWidget(row, 1, self._spin(param, lo, hi, lo))
            self.setCellWidget(row, 2, self._spin(param, lo, hi, hi))
            self.setCellWidget(row, 3, self._spin(param, 0, hi - lo if hi > lo else 1,
                                                  default_step(param), step=True))
        self.blockSignals(False)
        self.resizeColumnsToContents()

    @staticmethod
    def _spin(param: Param, lo: float, hi: float, value: float, step: bool = False
              ) -> QAbstractSpinBox:
        if param.kind is int:
            spin = QSpinBox()
            spin.setRange(int(max(lo, -2**31 + 1)) if not step else 1,
                          int(min(hi, 2**31 - 1)))
            spin.setValue(int(value))
            return spin
        dspin = QDoubleSpinBox()
        dspin.setDecimals(4)
        dspin.setRange(lo if not step else 1e-4, hi)
        dspin.setValue(value)
        dspin.setSingleStep(default_step(param) / 5 if step else default_step(param))
        return dspin

    def _ticked(self, item: QTableWidgetItem) -> None:
        if item.column() != 0 or item.checkState() != Qt.CheckState.Checked:
            return
        if len(self.selected()) > MAX_SEARCHED:
            self.blockSignals(True)
            item.setCheckState(Qt.CheckState.Unchecked)
            self.blockSignals(False)
            self.limit_reached.emit(f"search at most {MAX_SEARCHED} parameters at once")

    # ---- reading and setting -------------------------------------------------------------
    def _check_item(self, name: str) -> QTableWidgetItem:
        item = self.item(self.rows[name], 0)
        assert item is not None  # every row gets one in set_strategy
        return item

    def selected(self) -> list[str]:
        return [n for n in self.rows
                if self._check_item(n).checkState() == Qt.CheckState.Checked]

    def choose(self, name: str, low: float | None = None, high: float | None = None,
               step: float | None = None) -> None:
        """Tick ``name`` and set its range (what a user does by hand)."""
        row = self.rows[name]
        for col, value in ((1, low), (2, high), (3, step)):
            widget = self.cellWidget(row, col)
            if value is not None and isinstance(widget, QSpinBox | QDoubleSpinBox):
                widget.setValue(value)  # type: ignore[arg-type]
        self._check_item(name).setCheckState(Qt.CheckState.Checked)

    def space(self) -> dict[str, str | None]:
        """{name: "low:high:step"} for numbers, None (every value) for choices."""
        out: dict[str, str | None] = {}
        for name in self.selected():
            row = self.rows[name]
            boxes = [self.cellWidget(row, c) for c in (1, 2, 3)]
            spins = [w for w in boxes if isinstance(w, QSpinBox | QDoubleSpinBox)]
            if len(spins) != 3:  # a boolean or declared choices: every value
                out[name] = None
                continue
            out[name] = ":".join(_number(w.value()) for w in spins)
        return out


def _number(value: float) -> str:
    if isinstance(value, int) or (math.isfinite(value) and value == int(value)):
        return str(int(value))
    return repr(float(value))
