"""The terminal's default panels: where each dock starts and what builds it.

A panel that fails to build shows its error in its dock and is logged; the
rest of the terminal starts anyway (see ``MainWindow._make``).
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QWidget

from terminal.main_window import PanelSpec
from widgets.context import AppContext

RIGHT = Qt.DockWidgetArea.RightDockWidgetArea
BOTTOM = Qt.DockWidgetArea.BottomDockWidgetArea
LEFT = Qt.DockWidgetArea.LeftDockWidgetArea


def _book(ctx: AppContext) -> QWidget:
    from widgets.order_book import OrderBookPanel

    levels = int(ctx.settings.gui.book_levels) if ctx.settings is not None else 10
    return OrderBookPanel(ctx, levels=levels)


def _ticket(ctx: AppContext) -> QWidget:
    from widgets.order_ticket import OrderTicket

    return OrderTicket(ctx)


def _rows(ctx: AppContext) -> int:
    return int(ctx.settings.gui.max_table_rows) if ctx.settings is not None else 1000


def _orders(ctx: AppContext) -> QWidget:
    from widgets.orders_table import OrdersTable

    return OrdersTable(ctx, row_cap=_rows(ctx))


def _positions(ctx: AppContext) -> QWidget:
    from widgets.positions_table import PositionsTable

    return PositionsTable(ctx, row_cap=_rows(ctx))


def _fills(ctx: AppContext) -> QWidget:
    from widgets.fills_table import FillsTable

    return FillsTable(ctx, row_cap=_rows(ctx))


def _account(ctx: AppContext) -> QWidget:
    from widgets.account_panel import AccountPanel

    return AccountPanel(ctx)


def _risk(ctx: AppContext) -> QWidget:
    from widgets.risk_panel import RiskPanel

    return RiskPanel(ctx)


def _strategies(ctx: AppContext) -> QWidget:
    from widgets.strategies_panel import StrategiesPanel

    return StrategiesPanel(ctx)


def _log(ctx: AppContext) -> QWidget:
    from widgets.log_panel import LogPanel

    return LogPanel(ctx)


def _backtest(ctx: AppContext) -> QWidget:
    from PySide6.QtWidgets import QScrollArea

    from widgets.backtest_panel import BacktestPanel

    # Scrolled: its full form and plots must not force the bottom docks to grow.
    scroll = QScrollArea()
    scroll.setWidgetResizable(True)
    scroll.setWidget(BacktestPanel(ctx))
    return scroll


def default_panels() -> list[PanelSpec]:
    return [
        PanelSpec("book", "Order book", _book, RIGHT),
        PanelSpec("risk", "Risk", _risk, LEFT),
        PanelSpec("strategies", "Strategies", _strategies, LEFT, tab_with="risk"),
        PanelSpec("ticket", "Order ticket", _ticket, LEFT),
        PanelSpec("orders", "Open orders", _orders, BOTTOM),
        PanelSpec("positions", "Positions", _positions, BOTTOM, tab_with="orders"),
        PanelSpec("fills", "Fills", _fills, BOTTOM, tab_with="orders"),
        PanelSpec("account", "Account", _account, BOTTOM, tab_with="orders"),
        PanelSpec("backtest", "Backtest", _backtest, BOTTOM, tab_with="orders"),
        PanelSpec("log", "Log", _log, BOTTOM, tab_with="orders"),
    ]
