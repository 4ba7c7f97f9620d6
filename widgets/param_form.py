"""A form generated from a strategy's declared parameters.

int -> spin box with the declared range, float -> double spin box, bool ->
check box, declared choices -> combo box. ``values()`` returns the parameters
validated by the strategy class itself, so the form can never hand a strategy
a value outside its range.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QSpinBox,
    QWidget,
)

from engine.strategy.base import Strategy
from engine.strategy.params import Param


class ParamForm(QWidget):
    def __init__(self, strategy_cls: type[Strategy], values: Mapping[str, Any] | None = None,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.strategy_cls = strategy_cls
        self.editors: dict[str, QWidget] = {}
        layout = QFormLayout(self)
        current = {**{n: p.default for n, p in strategy_cls.params.items()}, **(values or {})}
        for name, param in strategy_cls.params.items():
            editor = self._editor(param, current[name])
            editor.setToolTip(param.help)
            self.editors[name] = editor
            layout.addRow(name.replace("_", " "), editor)

    @staticmethod
    def _editor(param: Param, value: Any) -> QWidget:
        if param.choices is not None:
            box = QComboBox()
            box.addItems([str(c) for c in param.choices])
            box.setCurrentText(str(value))
            return box
        if param.kind is bool:
            check = QCheckBox()
            check.setChecked(bool(value))
            return check
        if param.kind is int:
            spin = QSpinBox()
            spin.setRange(int(param.low if param.low is not None else -10**9),
                          int(param.high if param.high is not None else 10**9))
            spin.setValue(int(value))
            return spin
        dspin = QDoubleSpinBox()
        dspin.setDecimals(6)
        dspin.setRange(float(param.low if param.low is not None else -1e12),
                       float(param.high if param.high is not None else 1e12))
        dspin.setSingleStep(float(param.step or 0.1))
        dspin.setValue(float(value))
        return dspin

    def raw_values(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name, editor in self.editors.items():
            if isinstance(editor, QComboBox):
                out[name] = editor.currentText()
            elif isinstance(editor, QCheckBox):
                out[name] = editor.isChecked()
            elif isinstance(editor, QSpinBox | QDoubleSpinBox):
                out[name] = editor.value()
        return out

    def values(self) -> dict[str, Any]:
        """The entered values, parsed and range-checked by the strategy's declarations."""
        return self.strategy_cls.validate_params(self.raw_values())
