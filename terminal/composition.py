"""Builds the running terminal: settings, session (engine, journal, brokers, replay), window.

The engine side is ``engine.session.TradingSession``, the same one the headless
``paper`` command runs; this module adds the Qt side: the bridge that turns bus
events into coalesced signals, the panels, replay controls, notifications, and
the tasks that run on the qasync loop until the window closes.
"""

from __future__ import annotations

import argparse
import asyncio
import linecache
import logging
from dataclasses import dataclass, field
from typing import Any

from engine.paths import data_dir
from engine.session import SessionOptions, TradingSession
from engine.settings import load_settings
from engine.settings.model import Settings
from terminal.main_window import MainWindow
from terminal.panels import default_panels
from widgets.bridge import EngineBridge
from widgets.context import AppContext

log = logging.getLogger(__name__)


@dataclass
class Services:
    """What runs behind the window: the session and its tasks on the event loop."""

    ctx: AppContext
    session: TradingSession | None = None
    tasks: list[asyncio.Task[Any]] = field(default_factory=list)
    _done: asyncio.Event = field(default_factory=asyncio.Event)

    async def start(self) -> None:
        if self.session is not None:
            await self.session.start()

    def request_quit(self) -> None:
        """The window closed: stop the session (journal flushed), then leave the loop."""
        self._done.set()

    async def run_until_quit(self, app: Any) -> None:
        try:
            await self.start()
        except Exception:  # the window stays up to show what failed
            log.exception("the trading session could not start")
        await self._done.wait()
        await self.stop()

    async def stop(self) -> None:
        for task in self.tasks:
            task.cancel()
        if self.session is not None:
            try:
                await self.session.stop()
            finally:
                self.session.close()


def build_session(settings: Settings, args: argparse.Namespace | None = None) -> TradingSession:
    """The paper session on the replay of stored (or bundled) bars."""
    speed = getattr(args, "speed", None)
    options = SessionOptions(
        speed=speed, strategies=("hybrid",), start_strategies=False,
        strategy_symbols=tuple(settings.replay.symbols[:1]))
    return TradingSession(settings, options)


def build_context(settings: Settings, session: TradingSession) -> AppContext:
    rate = float(settings.gui.book_hz)
    bridge = EngineBridge(session.engine.bus, rate_hz=max(rate, 10.0))
    return AppContext(
        engine=session.engine, bridge=bridge, runner=session.runner, settings=settings,
        database=session.database, monitor=session.monitor, replay=session.feed,
        symbols=list(session.symbols), bar_loader=session.bars,
        data_labels={s: d.label for s, d in session.market.items()})


def build_window(args: argparse.Namespace) -> tuple[MainWindow, Services]:
    from widgets.chart import ChartPanel

    settings = load_settings(getattr(args, "config", None))
    session = build_session(settings, args)
    ctx = build_context(settings, session)
    first = session.market[session.symbols[0]].instrument
    window = MainWindow(ctx, central=ChartPanel, panels=default_panels(),
                        layout_file=data_dir() / "layout.ini", calendar=first.calendar)
    _wire(window)
    # PySide6 reads the source of every module imported after it (to look for its
    # "__feature__" imports), which leaves ~20 MB of text in linecache for nothing.
    linecache.clearcache()
    services = Services(ctx, session)
    return window, services


def _wire(window: MainWindow) -> None:
    """Connect panels to each other: book clicks fill the ticket, the chart follows."""
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QScrollArea

    from widgets.notifications import Notifier
    from widgets.order_ticket import OrderTicket
    from widgets.replay_controls import ReplayControls

    book, ticket = window.panels.get("book"), window.panels.get("ticket")
    if not isinstance(ticket, OrderTicket):
        ticket = None  # absent, or a panel that failed to start (shown as its error)
    chart, backtest = window.panels.get("chart"), window.panels.get("backtest")
    if isinstance(backtest, QScrollArea):
        backtest = backtest.widget()  # the panel scrolls inside its dock
    if book is not None and ticket is not None and hasattr(book, "price_clicked"):
        book.price_clicked.connect(ticket.set_price)
        ladder = getattr(book, "ladder", None)
        if ladder is not None:
            ladder.symbol.currentTextChanged.connect(ticket.set_symbol)
    if chart is not None and hasattr(chart, "symbol_box") and ticket is not None:
        chart.symbol_box.currentTextChanged.connect(ticket.set_symbol)
    if backtest is not None and hasattr(backtest, "set_chart") and chart is not None:
        backtest.set_chart(chart)
    window.notifier = Notifier(window.ctx, status_bar=window.status, parent=window,
                               icon=window.windowIcon())
    if ticket is not None and window.ctx.symbols:
        ticket.set_symbol(window.ctx.symbols[0])
    # Dock sizes only apply to a shown window: arrange once the loop runs.
    QTimer.singleShot(0, lambda: window.set_default_layout(_default_sizes))
    if window.ctx.replay is not None:
        window.toolbar.addSeparator()
        window.replay_controls = ReplayControls(window.ctx.replay)
        window.toolbar.addWidget(window.replay_controls)


def _default_sizes(window: MainWindow) -> None:
    """A first-start layout that gives the chart and the book room (then the user's)."""
    from PySide6.QtCore import Qt

    docks = window.docks
    for name in ("orders", "risk"):  # the tabs in front on first start
        if name in docks:
            docks[name].raise_()
    if "risk" in docks and "ticket" in docks:
        window.resizeDocks([docks["risk"], docks["ticket"]], [300, 420], Qt.Orientation.Vertical)
    if "book" in docks:
        window.resizeDocks([docks["book"]], [560], Qt.Orientation.Horizontal)
    if "orders" in docks:
        window.resizeDocks([docks["orders"]], [230], Qt.Orientation.Vertical)
    if "risk" in docks:
        window.resizeDocks([docks["risk"]], [330], Qt.Orientation.Horizontal)
