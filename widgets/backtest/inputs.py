"""What to backtest: strategy, symbol, timeframe, dates, cash, commission, parameters.

``RunInputs`` is shared by the panel's backtest and optimisation tabs. Its
``request()`` snapshots the form into a frozen ``RunRequest`` on the GUI
thread; ``load_data(request, loader)`` runs in the worker thread and returns
the bars of the chosen range (a ``UserError`` naming symbol, range and what
exists if there are none).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
from PySide6.QtCore import QDate, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDateEdit,
    QDoubleSpinBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QSpinBox,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from engine.backtest.data_source import DataSet, parse_range, warmup_history
from engine.backtest.runner import BacktestConfig
from engine.errors import UserError
from engine.models import Instrument
from engine.strategy.registry import get_strategy, strategy_names
from widgets.context import AppContext
from widgets.param_form import ParamForm

TIMEFRAMES = ("1m", "5m", "15m", "1h", "1d")
DEFAULT_STRATEGY = "sma_cross"
# Starting cash by account currency; anything else gets 100,000.
DEFAULT_CASH = {"KRW": 100_000_000.0, "JPY": 10_000_000.0}
# The commission box at its minimum means "the instrument's own fee schedule".
INSTRUMENT_FEES = -0.001

Loader = Callable[[str, str], pd.DataFrame]


@dataclass(frozen=True)
class RunRequest:
    """One backtest's settings, taken from the form on the GUI thread."""

    strategy: str
    symbol: str
    timeframe: str
    start: str  # YYYY-MM-DD, UTC, inclusive
    end: str  # YYYY-MM-DD, UTC, the whole day included
    cash: float
    commission: float | None  # fraction per side; None = the instrument's schedule
    params: Mapping[str, Any] = field(default_factory=dict)
    instrument: Instrument | None = None
    origin: str = ""

    def config(self, frame: pd.DataFrame, params: Mapping[str, Any] | None = None
               ) -> BacktestConfig:
        """The engine's config for ``frame`` (already cut to the range)."""
        return BacktestConfig(
            strategy=self.strategy, symbols=(self.symbol,),
            params=dict(self.params if params is None else params), timeframe=self.timeframe,
            start=_naive_utc(frame.index[0]), end=_naive_utc(frame.index[-1]), cash=self.cash,
            commission=self.commission)

    @property
    def instruments(self) -> dict[str, Instrument]:
        return {self.symbol: self.instrument} if self.instrument is not None else {}


def _naive_utc(ts: pd.Timestamp) -> str:
    # Naive UTC text: the runner reads a zone-less start/end as UTC, and the stored run
    # then shows the same text whatever the machine's zone.
    stamp = ts.tz_convert("UTC") if ts.tzinfo is not None else ts
    return stamp.tz_localize(None).isoformat()


def load_data(request: RunRequest, loader: Loader) -> DataSet:
    """The bars of ``request``'s symbol, timeframe and dates (worker thread)."""
    span = parse_range(request.start, request.end)
    frame = loader(request.symbol, request.timeframe)
    chosen = span.select(frame) if len(frame) else frame
    if chosen.empty:
        have = (f"{frame.index[0]:%Y-%m-%d %H:%M} .. {frame.index[-1]:%Y-%m-%d %H:%M} UTC"
                if len(frame) else "no bars at all")
        raise UserError(f"no {request.timeframe} bars of {request.symbol} {span.text} "
                        f"(UTC); the terminal has {have}")
    return DataSet(request.symbol, request.timeframe, chosen, request.origin,
                   request.instrument,
                   history=warmup_history(frame[frame.index < chosen.index[0]]))


def _qdate(ts: pd.Timestamp) -> QDate:
    return QDate(ts.year, ts.month, ts.day)


class RunInputs(QGroupBox):
    """The form; ``strategy_changed`` fires after the parameter form is rebuilt."""

    strategy_changed = Signal(str)

    def __init__(self, ctx: AppContext, parent: QWidget | None = None) -> None:
        super().__init__("Backtest settings", parent)
        self.ctx = ctx
        self.strategy = QComboBox()
        self.strategy.addItems(strategy_names())
        if DEFAULT_STRATEGY in strategy_names():
            self.strategy.setCurrentText(DEFAULT_STRATEGY)
        self.symbol = QComboBox()
        self.symbol.addItems(ctx.symbols or ctx.engine.instruments.symbols())
        self.timeframe = QComboBox()
        self.timeframe.addItems(TIMEFRAMES)
        self.start = self._date_edit()
        self.end = self._date_edit()
        self.full_range = QToolButton()
        self.full_range.setText("All")
        self.full_range.setToolTip("Reset the dates to all the bars the terminal has")
        self.full_range.clicked.connect(self.reset_range)
        self.cash = QDoubleSpinBox()
        self.cash.setRange(1.0, 1e15)
        self.cash.setDecimals(0)
        self.cash.setGroupSeparatorShown(True)
        self.cash.setSingleStep(10_000)
        self.commission = QDoubleSpinBox()
        self.commission.setDecimals(3)
        self.commission.setRange(INSTRUMENT_FEES, 10.0)
        self.commission.setSingleStep(0.01)
        self.commission.setSuffix(" %")
        self.commission.setSpecialValueText("instrument fees")
        self.commission.setValue(INSTRUMENT_FEES)
        self.commission.setToolTip("Per side, in percent of the traded value; at the minimum "
                                   "the instrument's own fee schedule (and taxes) apply")
        to_row = QHBoxLayout()
        to_row.setContentsMargins(0, 0, 0, 0)
        to_row.addWidget(self.end, 1)
        to_row.addWidget(self.full_range)
        form = QFormLayout()
        form.addRow("Strategy", self.strategy)
        form.addRow("Symbol", self.symbol)
        form.addRow("Timeframe", self.timeframe)
        form.addRow("From (UTC)", self.start)
        form.addRow("To (UTC)", to_row)
        form.addRow("Cash", self.cash)
        form.addRow("Commission", self.commission)
        self.params_box = QGroupBox("Parameters")
        self._params_layout = QVBoxLayout(self.params_box)
        self._params_layout.setContentsMargins(4, 4, 4, 4)
        self.form: ParamForm = ParamForm(get_strategy(self.strategy.currentText()))
        self._params_layout.addWidget(self.form)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.params_box)
        layout.addStretch(1)
        self.strategy.currentTextChanged.connect(self._rebuild_params)
        self.symbol.currentTextChanged.connect(self._symbol_changed)
        self._symbol_changed(self.symbol.currentText())

    @staticmethod
    def _date_edit() -> QDateEdit:
        edit = QDateEdit()
        edit.setDisplayFormat("yyyy-MM-dd")
        edit.setCalendarPopup(True)
        return edit

    # ---- reactions -----------------------------------------------------------------------
    def _rebuild_params(self, name: str) -> None:
        self._params_layout.removeWidget(self.form)
        self.form.deleteLater()
        self.form = ParamForm(get_strategy(name))
        self._params_layout.addWidget(self.form)
        self.strategy_changed.emit(name)

    def _symbol_changed(self, symbol: str) -> None:
        inst = self.ctx.engine.instruments.find(symbol)
        currency = inst.currency if inst is not None else ""
        self.cash.setValue(DEFAULT_CASH.get(currency, 100_000.0))
        self.cash.setPrefix(f"{currency} " if currency else "")
        self.reset_range()

    def reset_range(self) -> None:
        """From/to: the first and last day of the bars the terminal has for the symbol."""
        symbol = self.symbol.currentText()
        frame = self.ctx.load_bars(symbol, "1m") if symbol else pd.DataFrame()
        if len(frame):
            first, last = frame.index[0], frame.index[-1]
        else:
            first = last = pd.Timestamp.now(tz="UTC")
        self.start.setDate(_qdate(first))
        self.end.setDate(_qdate(last))

    def set_params(self, values: Mapping[str, Any]) -> None:
        """Put ``values`` into the parameter form (e.g. an optimisation's best point)."""
        for name, value in values.items():
            editor = self.form.editors.get(name)
            if isinstance(editor, QComboBox):
                editor.setCurrentText(str(value))
            elif isinstance(editor, QCheckBox):
                editor.setChecked(bool(value))
            elif isinstance(editor, QSpinBox):
                editor.setValue(int(value))
            elif isinstance(editor, QDoubleSpinBox):
                editor.setValue(float(value))

    # ---- the snapshot --------------------------------------------------------------------
    def request(self) -> RunRequest:
        """The form's values, checked (``UserError`` naming the field otherwise)."""
        symbol = self.symbol.currentText()
        if not symbol:
            raise UserError("no symbol to backtest: the terminal has no bars loaded")
        start = self.start.date().toString("yyyy-MM-dd")
        end = self.end.date().toString("yyyy-MM-dd")
        if self.start.date() > self.end.date():
            raise UserError(f"the start date {start} is after the end date {end}")
        commission = self.commission.value()
        label = self.ctx.data_labels.get(symbol, "")
        return RunRequest(
            strategy=self.strategy.currentText(), symbol=symbol,
            timeframe=self.timeframe.currentText(), start=start, end=end,
            cash=self.cash.value(),
            commission=None if commission <= INSTRUMENT_FEES else commission / 100,
            params=self.form.values(), instrument=self.ctx.engine.instruments.find(symbol),
            origin=f"terminal bars of {symbol}" + (f" ({label})" if label else ""))
