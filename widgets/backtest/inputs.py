"""What to backtest: strategy, symbols, timeframe, dates, cash, commission, parameters.

``RunInputs`` is shared by the panel's backtest and optimisation tabs. Its
``request()`` snapshots the form into a frozen ``RunRequest`` on the GUI
thread; ``load_data(request, loader)`` runs in the worker thread and returns
every chosen symbol's bars of the range as one ``RunData`` (a ``UserError``
naming the symbol, the range and what exists if one has none).

Symbols: the Symbol box is the primary one (its currency is the account's);
"Also trade" adds others quoted in that currency, as ``backtest --data AAPL
MSFT`` does: one account, each symbol traded by its own strategy instance
unless the strategy is ``multi_symbol``. A strategy that cannot trade the set
(``check_symbols``) is refused by ``request()``, before any thread starts.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
from PySide6.QtCore import QDate, Signal
from PySide6.QtGui import QAction, QMouseEvent
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDateEdit,
    QDoubleSpinBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QMenu,
    QSizePolicy,
    QSpinBox,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from engine.backtest.data_source import DataSet, parse_range, warmup_history
from engine.backtest.run_data import RunData
from engine.backtest.runner import BacktestConfig, default_instrument
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
    symbols: tuple[str, ...]  # the primary symbol first
    timeframe: str
    start: str  # YYYY-MM-DD, UTC, inclusive
    end: str  # YYYY-MM-DD, UTC, the whole day included
    cash: float
    commission: float | None  # fraction per side; None = the instrument's schedule
    params: Mapping[str, Any] = field(default_factory=dict)
    # The terminal's instruments of the symbols it knows (others: the runner's default).
    instruments: Mapping[str, Instrument] = field(default_factory=dict)
    origins: Mapping[str, str] = field(default_factory=dict)  # by symbol, for the stored run

    @property
    def symbol(self) -> str:
        """The primary symbol (the one in the Symbol box)."""
        return self.symbols[0]

    @property
    def label(self) -> str:
        return ",".join(self.symbols)

    def config(self, data: RunData, params: Mapping[str, Any] | None = None
               ) -> BacktestConfig:
        """The engine's config for ``data`` (already cut to the range): every symbol, from
        the earliest first bar to the latest last bar."""
        frames = [data.frames[s] for s in self.symbols]
        return BacktestConfig(
            strategy=self.strategy, symbols=self.symbols,
            params=dict(self.params if params is None else params), timeframe=self.timeframe,
            start=_naive_utc(min(f.index[0] for f in frames)),
            end=_naive_utc(max(f.index[-1] for f in frames)), cash=self.cash,
            commission=self.commission)


def _naive_utc(ts: pd.Timestamp) -> str:
    # Naive UTC text: the runner reads a zone-less start/end as UTC, and the stored run
    # then shows the same text whatever the machine's zone.
    stamp = ts.tz_convert("UTC") if ts.tzinfo is not None else ts
    return stamp.tz_localize(None).isoformat()


def load_data(request: RunRequest, loader: Loader) -> RunData:
    """Every symbol's bars of ``request``'s timeframe and dates, with the warm-up history
    before them (worker thread)."""
    span = parse_range(request.start, request.end)
    sets = []
    for symbol in request.symbols:
        frame = loader(symbol, request.timeframe)
        chosen = span.select(frame) if len(frame) else frame
        if chosen.empty:
            have = (f"{frame.index[0]:%Y-%m-%d %H:%M} .. {frame.index[-1]:%Y-%m-%d %H:%M} UTC"
                    if len(frame) else "no bars at all")
            raise UserError(f"no {request.timeframe} bars of {symbol} {span.text} "
                            f"(UTC); the terminal has {have}")
        sets.append(DataSet(symbol, request.timeframe, chosen,
                            request.origins.get(symbol, f"terminal bars of {symbol}"),
                            request.instruments.get(symbol),
                            history=warmup_history(frame[frame.index < chosen.index[0]])))
    return RunData.of(sets)


def quote_currency(ctx: AppContext, symbol: str) -> str:
    """The currency ``symbol`` is quoted in: the terminal's instrument, else the runner's
    default for its shape (what a backtest of it would use)."""
    inst = ctx.engine.instruments.find(symbol) or default_instrument(symbol)
    return inst.currency


class StayOpenMenu(QMenu):
    """A menu whose checkable actions toggle without closing it: several symbols are
    ticked in one visit."""

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        action = self.activeAction()
        if action is not None and action.isEnabled() and action.isCheckable():
            action.trigger()
            return
        super().mouseReleaseEvent(event)


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
        self.symbol.addItems(self.all_symbols())
        # Further symbols in the primary's currency: a button with a menu of tick boxes
        # (a list would take rows the narrow form does not have).
        self.also = QToolButton()
        self.also.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        self.also.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.also_menu = StayOpenMenu(self.also)
        self.also.setMenu(self.also_menu)
        self.also_actions: dict[str, QAction] = {}
        self.currency = ""  # the primary symbol's, so the account's
        self.timeframe = QComboBox()
        self.timeframe.addItems(TIMEFRAMES)
        self.start = self._date_edit()
        self.end = self._date_edit()
        self.full_range = QToolButton()
        self.full_range.setText("All")
        self.full_range.setToolTip("Reset the dates to all the bars the terminal has of "
                                   "the chosen symbols")
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
        form.addRow("Also trade", self.also)
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
        currency = self.currency = quote_currency(self.ctx, symbol) if symbol else ""
        self.cash.setValue(DEFAULT_CASH.get(currency, 100_000.0))
        self.cash.setPrefix(f"{currency} " if currency else "")
        self._offer_others(symbol, currency)
        self.reset_range()

    def _offer_others(self, primary: str, currency: str) -> None:
        """The "Also trade" menu: the other symbols quoted in ``currency`` (one account holds
        one currency); those ticked before stay ticked."""
        kept = set(self.extra_symbols())
        self.also_menu.clear()
        self.also_actions = {}
        for symbol in self.all_symbols():
            if symbol == primary or not primary or quote_currency(self.ctx, symbol) != currency:
                continue
            action = self.also_menu.addAction(symbol)
            action.setCheckable(True)
            action.setChecked(symbol in kept)
            action.toggled.connect(self._show_extra)
            self.also_actions[symbol] = action
        self.also.setEnabled(bool(self.also_actions))
        self._show_extra()

    def _show_extra(self, *_: Any) -> None:
        extra = self.extra_symbols()
        if not self.also_actions:
            text = f"none other in {self.currency}" if self.currency else "none"
        elif not extra:
            text = "none"
        elif len(extra) <= 2:
            text = ", ".join(extra)
        else:
            text = f"{', '.join(extra[:2])} +{len(extra) - 2}"
        self.also.setText(text)
        self.also.setToolTip(
            "Backtest these symbols too, in one account (only symbols quoted in the primary "
            "symbol's currency)" + (f": {', '.join(extra)}" if extra else ""))

    def all_symbols(self) -> list[str]:
        return list(self.ctx.symbols or self.ctx.engine.instruments.symbols())

    def extra_symbols(self) -> list[str]:
        """The ticked "Also trade" symbols, in the terminal's order."""
        return [s for s, a in self.also_actions.items() if a.isChecked()]

    def symbols(self) -> tuple[str, ...]:
        """The primary symbol, then the others ticked (empty: no symbol at all)."""
        primary = self.symbol.currentText()
        return (primary, *self.extra_symbols()) if primary else ()

    def choose_symbols(self, symbols: Sequence[str]) -> None:
        """Make ``symbols[0]`` the primary and tick the rest (those offered)."""
        if symbols:
            self.symbol.setCurrentText(symbols[0])
        for symbol, action in self.also_actions.items():
            action.setChecked(symbol in symbols[1:])

    def reset_range(self) -> None:
        """From/to: the first and last day of the bars the terminal has for the chosen
        symbols (the earliest first bar to the latest last bar)."""
        firsts, lasts = [], []
        for symbol in self.symbols():
            frame = self.ctx.load_bars(symbol, "1m")
            if len(frame):
                firsts.append(frame.index[0])
                lasts.append(frame.index[-1])
        if firsts:
            first, last = min(firsts), max(lasts)
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
        symbols = self.symbols()
        if not symbols:
            raise UserError("no symbol to backtest: the terminal has no bars loaded")
        strategy = self.strategy.currentText()
        get_strategy(strategy).check_symbols(symbols)
        start = self.start.date().toString("yyyy-MM-dd")
        end = self.end.date().toString("yyyy-MM-dd")
        if self.start.date() > self.end.date():
            raise UserError(f"the start date {start} is after the end date {end}")
        commission = self.commission.value()
        found = {s: self.ctx.engine.instruments.find(s) for s in symbols}
        return RunRequest(
            strategy=strategy, symbols=symbols,
            timeframe=self.timeframe.currentText(), start=start, end=end,
            cash=self.cash.value(),
            commission=None if commission <= INSTRUMENT_FEES else commission / 100,
            params=self.form.values(),
            instruments={s: i for s, i in found.items() if i is not None},
            origins={s: self._origin(s) for s in symbols})

    def _origin(self, symbol: str) -> str:
        label = self.ctx.data_labels.get(symbol, "")
        return f"terminal bars of {symbol}" + (f" ({label})" if label else "")
