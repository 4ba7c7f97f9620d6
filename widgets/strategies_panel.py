"""Strategies panel: each strategy's state; start, stop, and edit parameters."""

from __future__ import annotations

from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QLineEdit,
    QMessageBox,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from engine.errors import UserError
from engine.strategy.base import Strategy
from engine.strategy.registry import get_strategy, strategy_names
from engine.strategy.signals import StrategyStateChanged
from widgets.context import AppContext
from widgets.param_form import ParamForm
from widgets.record_table import Column, RecordModel, RecordTable


def _params_text(s: Strategy) -> str:
    return ", ".join(f"{k}={v}" for k, v in s.parameters.items())


class StrategiesPanel(QWidget):
    def __init__(self, ctx: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        runner = ctx.runner
        columns = [
            Column("Id", lambda s: s.strategy_id),
            Column("Strategy", lambda s: s.name or type(s).__name__),
            Column("Symbols", lambda s: ", ".join(s.symbols)),
            Column("State", lambda s: runner.state(s.strategy_id),
                   colour=lambda st: {"running": "#26a69a", "error": "#ef5350",
                                      "halted": "#ef5350"}.get(st)),
            Column("Parameters", _params_text),
        ]
        self.model = RecordModel(columns, key=lambda s: s.strategy_id, row_cap=500)
        self.table = RecordTable(self.model)
        self.start_button = QPushButton("Start")
        self.stop_button = QPushButton("Stop")
        self.edit_button = QPushButton("Parameters…")
        self.add_button = QPushButton("Add…")
        self.start_button.clicked.connect(self.start_selected)
        self.stop_button.clicked.connect(self.stop_selected)
        self.edit_button.clicked.connect(self.edit_selected)
        self.add_button.clicked.connect(self.add_dialog)
        buttons = QHBoxLayout()
        for b in (self.start_button, self.stop_button, self.edit_button, self.add_button):
            buttons.addWidget(b)
        buttons.addStretch(1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.addLayout(buttons)
        layout.addWidget(self.table)
        ctx.bridge.strategy_states.connect(self.on_states)
        self.reload()

    def reload(self) -> None:
        self.model.replace_all(self.ctx.runner.strategies())

    def on_states(self, _events: list[StrategyStateChanged]) -> None:
        self.model.upsert(self.ctx.runner.strategies())

    def _selected(self) -> list[Strategy]:
        return self.table.selected_records()

    def start_selected(self) -> None:
        for s in self._selected():
            try:
                self.ctx.runner.start(s.strategy_id)
            except RuntimeError as exc:
                QMessageBox.warning(self, "Cannot start", str(exc))
                return
        self.model.upsert(self.ctx.runner.strategies())

    def stop_selected(self) -> None:
        for s in self._selected():
            self.ctx.runner.stop(s.strategy_id)
        self.model.upsert(self.ctx.runner.strategies())

    def edit_selected(self) -> None:
        selected = self._selected()
        if not selected:
            return
        strategy = selected[0]
        dialog = ParamDialog(type(strategy), strategy.parameters, self)
        if dialog.exec() == QDialog.DialogCode.Accepted:
            self.apply_params(strategy, dialog.form.values())

    def apply_params(self, strategy: Strategy, values: dict[str, object]) -> None:
        """New parameters take effect on the next start (a running strategy restarts)."""
        running = self.ctx.runner.state(strategy.strategy_id) == "running"
        if running:
            self.ctx.runner.stop(strategy.strategy_id)
        strategy.__dict__["_params"] = strategy.validate_params(values)
        if running:
            self.ctx.runner.start(strategy.strategy_id)
        self.model.upsert([strategy])

    def add_dialog(self) -> None:
        dialog = AddStrategyDialog(self.ctx, self)
        if dialog.exec() == QDialog.DialogCode.Accepted and dialog.created is not None:
            self.ctx.runner.add(dialog.created)
            self.reload()


class ParamDialog(QDialog):
    def __init__(self, strategy_cls: type[Strategy], values: dict[str, object],
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(f"Parameters - {strategy_cls.name}")
        self.form = ParamForm(strategy_cls, values)
        box = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok
                               | QDialogButtonBox.StandardButton.Cancel)
        box.accepted.connect(self._accept)
        box.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.form)
        layout.addWidget(box)

    def _accept(self) -> None:
        try:
            self.form.values()
        except UserError as exc:
            QMessageBox.warning(self, "Invalid parameter", str(exc))
            return
        self.accept()


class AddStrategyDialog(QDialog):
    def __init__(self, ctx: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.created: Strategy | None = None
        self.setWindowTitle("Add strategy")
        self.kind = QComboBox()
        self.kind.addItems(strategy_names())
        self.symbol = QComboBox()
        self.symbol.setEditable(True)
        self.symbol.addItems(ctx.symbols or sorted(i.symbol for i in ctx.engine.instruments))
        self.strategy_id = QLineEdit()
        self.strategy_id.setPlaceholderText("optional id")
        form = QFormLayout()
        form.addRow("Strategy", self.kind)
        form.addRow("Symbol", self.symbol)
        form.addRow("Id", self.strategy_id)
        box = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok
                               | QDialogButtonBox.StandardButton.Cancel)
        box.accepted.connect(self._accept)
        box.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(box)

    def _accept(self) -> None:
        try:
            cls = get_strategy(self.kind.currentText())
            self.created = cls(self.ctx.engine, self.symbol.currentText(),
                               strategy_id=self.strategy_id.text().strip())
        except UserError as exc:
            QMessageBox.warning(self, "Cannot add strategy", str(exc))
            return
        self.accept()
