"""The backtest panel: settings on the left, a backtest tab and an optimisation tab.

Every run happens in a ``TaskThread`` (the GUI thread, where the asyncio loop
runs too, only builds the request and shows the outcome). A completed
backtest is stored with ``engine.backtest.store.save_run`` when the context
has a database; a cancelled one never completes, so it is never stored.
Selecting a trade emits ``trade_selected(entry time ns)`` and, with a chart
attached, shows the run's trades on it and centres the chart on the entry.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QCloseEvent
from PySide6.QtWidgets import QApplication, QScrollArea, QSplitter, QTabWidget, QVBoxLayout, QWidget

from engine.backtest.optimize import OptimizationResult, optimize
from engine.backtest.payload import timeline
from engine.backtest.runner import BacktestResult, run_backtest
from engine.backtest.store import save_run
from engine.backtest.trades import RoundTrip
from engine.backtest.walkforward import WalkForwardResult, walk_forward
from engine.errors import UserError
from engine.strategy.registry import get_strategy
from widgets.backtest.controls import RunBar
from widgets.backtest.inputs import Loader, RunInputs, RunRequest, load_data
from widgets.backtest.results import BacktestTab
from widgets.backtest.search import OPTIMISE, SearchSettings, SearchTab, walk_forward_spans
from widgets.backtest.worker import Report, TaskThread
from widgets.context import AppContext

log = logging.getLogger(__name__)
SHUTDOWN_WAIT_MS = 5_000


class TradeChart(Protocol):
    """What the panel needs of a chart (``widgets.chart.ChartWidget`` has it)."""

    def jump_to(self, ts_ns: int, width: int | None = None) -> int: ...

    def show_trades(self, trades: Sequence[RoundTrip]) -> None: ...


@dataclass(frozen=True)
class RunOutcome:
    """A completed backtest and whether it was stored."""

    result: BacktestResult
    run_id: int | None
    save_error: str
    origin: str


# ---- jobs (worker thread: no widgets here) ------------------------------------------------


def backtest_job(request: RunRequest, loader: Loader, database: Any) -> Callable[..., RunOutcome]:
    def job(report: Report, cancelled: Callable[[], bool]) -> RunOutcome:
        data = load_data(request, loader)
        n = sum(len(f) for f in data.frames.values())
        result = run_backtest(request.config(data), data.frames,
                              instruments=data.instruments,
                              progress=lambda f: report(f, f"{int(f * n):,} of {n:,} bars"),
                              cancel=cancelled, warmup=data.history or None)
        run_id, save_error = None, ""
        if database is not None:
            try:
                run_id = save_run(database, result, origin=data.origin)
            except Exception as exc:  # noqa: BLE001 - the result is still shown
                log.exception("could not store the backtest run")
                save_error = f"{type(exc).__name__}: {exc}"
        return RunOutcome(result, run_id, save_error, data.origin)
    return job


def search_job(request: RunRequest, settings: SearchSettings, loader: Loader
               ) -> Callable[..., OptimizationResult | WalkForwardResult]:
    def job(report: Report, cancelled: Callable[[], bool]) -> Any:
        data = load_data(request, loader)
        config = request.config(data, params={})
        fixed = {k: v for k, v in request.params.items() if k not in settings.space}

        def progress(done: int, total: int, best: Any) -> None:
            text = f"{done:,} of {total:,} runs"
            if best is not None:
                shown = ", ".join(f"{k}={best.params[k]}" for k in settings.space)
                text += f"; best {settings.metric} {best.value:.3g} ({shown})"
            report(done / total if total else 1.0, text)

        common: dict[str, Any] = dict(
            method=settings.method, n_iter=settings.n_iter, workers=settings.workers,
            progress=progress, cancel=cancelled, config=config, fixed=fixed)
        if settings.mode == OPTIMISE:
            return optimize(request.strategy, data, settings.space, settings.metric, **common)
        # Windows count the run's distinct bar times (all symbols' together).
        train, test = walk_forward_spans(len(timeline(data.frames)), settings.windows,
                                         settings.train_fraction)
        return walk_forward(request.strategy, data, settings.space, settings.metric,
                            train=train, test=test, anchored=settings.anchored, **common)
    return job


# ---- the panel ------------------------------------------------------------------------------


class BacktestPanel(QWidget):
    """``BacktestPanel(ctx, parent=None, chart=None)``: a dockable backtest and optimiser."""

    trade_selected = Signal(object)  # the selected round trip's entry time, ns since epoch

    def __init__(self, ctx: AppContext, parent: QWidget | None = None,
                 chart: TradeChart | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.chart = chart
        self.result: BacktestResult | None = None
        self.outcome: RunOutcome | None = None
        self._thread: TaskThread | None = None
        self._bar: RunBar | None = None  # the run bar of the job in progress
        self.inputs = RunInputs(ctx)
        self.backtest = BacktestTab()
        self.search = SearchTab()
        self.search.set_strategy(get_strategy(self.inputs.strategy.currentText()))
        self.tabs = QTabWidget()
        self.tabs.addTab(self.backtest, "Backtest")
        self.tabs.addTab(self.search, "Optimise / walk-forward")
        scroll = QScrollArea()
        scroll.setWidget(self.inputs)
        scroll.setWidgetResizable(True)
        scroll.setMinimumWidth(290)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        split = QSplitter(Qt.Orientation.Horizontal)
        split.addWidget(scroll)
        split.addWidget(self.tabs)
        split.setStretchFactor(1, 1)
        split.setSizes([300, 1200])
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.addWidget(split)
        self._wire()

    def _wire(self) -> None:
        self.backtest.run_bar.run_button.clicked.connect(self.run_backtest)
        self.search.run_bar.run_button.clicked.connect(self.run_search)
        for bar in (self.backtest.run_bar, self.search.run_bar):
            bar.cancel_button.clicked.connect(self.cancel)
        self.inputs.strategy_changed.connect(
            lambda name: self.search.set_strategy(get_strategy(name)))
        self.search.params_chosen.connect(self._params_chosen)
        self.backtest.trades.selectionModel().selectionChanged.connect(self._trade_chosen)
        app = QApplication.instance()
        if app is not None:
            app.aboutToQuit.connect(self.shutdown)

    def set_chart(self, chart: TradeChart | None) -> None:
        """The chart that selected trades are shown on (None: none)."""
        self.chart = chart

    @property
    def running(self) -> bool:
        return self._thread is not None

    # ---- starting and stopping --------------------------------------------------------------
    def run_backtest(self) -> None:
        """Run the form's backtest in a worker thread (nothing happens if a job runs)."""
        bar = self.backtest.run_bar
        try:
            request = self.inputs.request()
        except UserError as exc:
            self._refused(bar, str(exc))
            return
        job = backtest_job(request, self.ctx.load_bars, self.ctx.database)
        if self._start(job, bar, f"backtest {request.strategy} {request.label}"):
            bar.status(f"running {request.strategy} on {request.label} {request.timeframe} "
                       f"{request.start} .. {request.end}…")

    def run_search(self) -> None:
        """Run the optimisation or walk-forward the search tab describes."""
        bar = self.search.run_bar
        try:
            request = self.inputs.request()
            settings = self.search.settings()
        except UserError as exc:
            self._refused(bar, str(exc))
            return
        job = search_job(request, settings, self.ctx.load_bars)
        if self._start(job, bar, f"{settings.mode} {request.strategy} {request.label}"):
            bar.status(f"{settings.mode.lower()}: {request.strategy} on {request.label}, "
                       f"{', '.join(settings.space)} by {settings.metric}…")

    def cancel(self) -> None:
        if self._thread is not None:
            self._thread.cancel()
            if self._bar is not None:
                self._bar.status("cancelling…")

    def shutdown(self) -> None:
        """Cancel a running job and wait for its thread (the app is closing)."""
        thread = self._thread
        if thread is not None:
            thread.cancel()
            thread.wait(SHUTDOWN_WAIT_MS)

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802
        self.shutdown()
        super().closeEvent(event)

    def _refused(self, bar: RunBar, text: str) -> None:
        log.warning("backtest panel: %s", text)
        bar.status(text, error=True)

    def _start(self, job: Callable[..., Any], bar: RunBar, name: str) -> bool:
        if self._thread is not None:
            bar.status("another run is in progress; cancel it first", error=True)
            return False
        thread = TaskThread(job, name=name)
        thread.progressed.connect(self._progressed)
        thread.succeeded.connect(self._succeeded)
        thread.cancelled.connect(self._cancelled)
        thread.failed.connect(self._failed)
        thread.finished.connect(self._finished)
        self._thread, self._bar = thread, bar
        for b in (self.backtest.run_bar, self.search.run_bar):
            b.run_button.setEnabled(False)
        bar.busy(True)
        thread.start()
        return True

    # ---- outcomes (GUI thread, queued from the worker) ----------------------------------------
    def _progressed(self, fraction: float, text: str) -> None:
        if self._bar is not None:
            self._bar.set_progress(fraction, text)

    def _succeeded(self, outcome: Any) -> None:
        if isinstance(outcome, RunOutcome):
            self._show_backtest(outcome)
        elif isinstance(outcome, OptimizationResult):
            self._show_search(outcome)
        elif isinstance(outcome, WalkForwardResult):
            self._show_walk(outcome)

    def _cancelled(self, text: str) -> None:
        if self._bar is not None:
            self._bar.status(text if "cancel" in text else f"cancelled: {text}")

    def _failed(self, text: str) -> None:
        if self._bar is not None:
            self._bar.status(text, error=True)

    def _finished(self) -> None:
        thread, bar = self._thread, self._bar
        self._thread = self._bar = None
        if bar is not None:
            bar.busy(False)
        for b in (self.backtest.run_bar, self.search.run_bar):
            b.run_button.setEnabled(True)
        if thread is not None:
            # ``finished`` is emitted from the worker thread just before it ends; the last
            # Python reference owns the QThread, so wait for the end before dropping it
            # (destroying a QThread that still runs aborts the process).
            thread.wait()

    def _show_backtest(self, outcome: RunOutcome) -> None:
        result = outcome.result
        self.outcome, self.result = outcome, result
        self.backtest.show_result(result)
        text = f"done: {len(result.trades):,} trades"
        symbols = result.config.symbols
        if len(symbols) > 1:  # which symbols traded, and how much: "(AAPL 12, MSFT 9)"
            per = {s: 0 for s in symbols}
            for trade in result.trades:
                per[trade.symbol] = per.get(trade.symbol, 0) + 1
            text += f" ({', '.join(f'{s} {n:,}' for s, n in per.items())})"
        text += f" over {result.bars:,} bars in {result.elapsed_s:.2f} s"
        if outcome.run_id is not None:
            text += f"; saved as run #{outcome.run_id}"
        if outcome.save_error:
            text += f"; not saved ({outcome.save_error})"
        if result.warnings:
            text += f"; {len(result.warnings)} warning(s) (hover to read)"
        self.backtest.run_bar.status(text, error=bool(outcome.save_error),
                                     tooltip="\n".join(result.warnings[:20]))
        if self.chart is not None:
            self._chart_symbol(result.config.symbols[0])
            self.chart.show_trades(result.trades)

    def _show_search(self, result: OptimizationResult) -> None:
        self.search.show_search(result)
        best = result.best
        text = f"{result.done:,} of {result.planned:,} points"
        if result.skipped:
            text += f" ({result.skipped} skipped by constraints)"
        text += f" in {result.elapsed_s:.1f} s on {result.backend}"
        if best is not None:
            text += f"; best {result.metric} {best.value:.4g}"
        if result.failed:
            text += f"; {result.failed} failed"
        self.search.run_bar.status(("cancelled after " if result.cancelled else "done: ") + text)

    def _show_walk(self, result: WalkForwardResult) -> None:
        self.search.show_walk(result)
        text = (f"{len(result.windows)} windows in {result.elapsed_s:.1f} s; out-of-sample "
                f"{result.metric} {getattr(result.metrics, result.metric):.4g}, return "
                f"{result.metrics.total_return_pct:.2f} %")
        noted = [w for w in result.windows if w.note]
        if noted:  # e.g. no finite Sharpe on a short train window: the first trial was taken
            text += f"; {len(noted)} window(s): {noted[0].note}"
        self.search.run_bar.status(("cancelled after " if result.cancelled else "done: ") + text)

    # ---- trades and the chart -----------------------------------------------------------------
    def _trade_chosen(self, *_: Any) -> None:
        rows = self.backtest.trades.selected_records()
        if not rows:
            return
        trade: RoundTrip = rows[0].trade
        self.trade_selected.emit(int(trade.entry_ns))
        if self.chart is not None and self.result is not None:
            if self._chart_symbol(trade.symbol):
                self.chart.show_trades(self.result.trades)
            self.chart.jump_to(int(trade.entry_ns))

    def _chart_symbol(self, symbol: str) -> bool:
        """Switch a ``ChartWidget`` to ``symbol`` if it shows another; True if switched."""
        box = getattr(self.chart, "symbol_box", None)
        if box is None or box.currentText() == symbol or box.findText(symbol) < 0:
            return False
        box.setCurrentText(symbol)  # reloads the chart, which clears its trade marks
        return True

    def _params_chosen(self, values: dict[str, Any]) -> None:
        self.inputs.set_params(values)
        self.tabs.setCurrentWidget(self.backtest)
        shown = ", ".join(f"{k}={v}" for k, v in values.items())
        self.backtest.run_bar.status(f"parameters from the search: {shown}")
