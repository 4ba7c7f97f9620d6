"""The main window: dockable panels around the chart, the kill switch always in view.

Panels are described by ``PanelSpec`` (``terminal/panels.py`` lists them); each
becomes a dock that can be moved, floated, tabbed or closed. The layout is
saved on exit and restored on start; "Reset layout" returns to the default.
The KILL SWITCH is a toolbar button that cannot be hidden, plus a global
shortcut (Ctrl+Shift+K); a red banner shows while it is latched.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, cast

from PySide6.QtCore import QByteArray, QSettings, Qt, Signal
from PySide6.QtGui import QAction, QCloseEvent, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QApplication,
    QDockWidget,
    QLabel,
    QMainWindow,
    QMessageBox,
    QToolBar,
    QVBoxLayout,
    QWidget,
)

from widgets.context import AppContext
from widgets.kill_switch import KILL_SHORTCUT, KillSwitchBanner, KillSwitchButton
from widgets.status_bar import TerminalStatusBar
from widgets.theme import apply_theme, current_theme

if TYPE_CHECKING:
    from engine.settings.model import Settings
    from widgets.notifications import Notifier
    from widgets.replay_controls import ReplayControls

log = logging.getLogger(__name__)
LAYOUT_VERSION = 1

PanelFactory = Callable[[AppContext], QWidget]


@dataclass(frozen=True)
class PanelSpec:
    name: str  # object name: stable, used by the saved layout
    title: str
    factory: PanelFactory
    area: Qt.DockWidgetArea = Qt.DockWidgetArea.RightDockWidgetArea
    tab_with: str = ""  # tabify with this panel by default


class MainWindow(QMainWindow):
    closed = Signal()  # after the layout is saved: the terminal stops the session
    # Set by terminal.composition._wire; replay_controls in paper mode only.
    notifier: Notifier
    replay_controls: ReplayControls
    def __init__(
        self,
        ctx: AppContext,
        *,
        central: PanelFactory | None = None,
        panels: list[PanelSpec] = (),  # type: ignore[assignment]
        layout_file: Path | None = None,
        calendar: str = "",
    ) -> None:
        super().__init__()
        self.ctx = ctx
        self.setObjectName("mainWindow")
        self.setWindowTitle(self._title())
        self.resize(1600, 950)
        self.setDockOptions(QMainWindow.DockOption.AnimatedDocks
                            | QMainWindow.DockOption.AllowTabbedDocks
                            | QMainWindow.DockOption.AllowNestedDocks)
        self.panels: dict[str, QWidget] = {}
        self.docks: dict[str, QDockWidget] = {}
        self._layout_file = layout_file
        self._build_central(central)
        self._build_toolbar()
        for spec in panels:
            self._add_panel(spec)
        self.status = TerminalStatusBar(ctx, calendar=calendar, parent=self)
        self.setStatusBar(self.status)
        self._build_menus()
        self._default_state = self.saveState(LAYOUT_VERSION)
        self.layout_restored = self.restore_layout()
        ctx.bridge.kill_switch.connect(self._update_title)

    # ---- construction -----------------------------------------------------------
    def _update_title(self, _state: object = None) -> None:
        self.setWindowTitle(self._title())

    def _title(self) -> str:
        mode = "LIVE" if self.ctx.live else "PAPER"
        latched = " - KILL SWITCH LATCHED" if self.ctx.engine.kill_switch.latched else ""
        return f"Trading Terminal [{mode}]{latched}"

    def _build_central(self, central: PanelFactory | None) -> None:
        holder = QWidget()
        layout = QVBoxLayout(holder)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        self.banner = KillSwitchBanner(self.ctx)
        layout.addWidget(self.banner)
        body = self._make(central, "Chart") if central else QLabel("Chart")
        self.panels["chart"] = body
        layout.addWidget(body, 1)
        self.setCentralWidget(holder)

    def _build_toolbar(self) -> None:
        bar = QToolBar("Trading", self)
        bar.setObjectName("tradingToolbar")
        bar.setMovable(False)
        bar.toggleViewAction().setEnabled(False)  # the kill switch is always visible
        self.kill_button = KillSwitchButton(self.ctx)
        bar.addWidget(self.kill_button)
        self.addToolBar(Qt.ToolBarArea.TopToolBarArea, bar)
        self.kill_shortcut = QShortcut(QKeySequence(KILL_SHORTCUT), self)
        self.kill_shortcut.setContext(Qt.ShortcutContext.ApplicationShortcut)
        self.kill_shortcut.activated.connect(lambda: self.kill_button.fire("shortcut"))
        self.toolbar = bar

    def _make(self, factory: PanelFactory, title: str) -> QWidget:
        try:
            return factory(self.ctx)
        except Exception as exc:  # one broken panel must not stop the terminal
            log.exception("panel %s failed to start", title)
            label = QLabel(f"{title} could not start:\n{exc}")
            label.setAlignment(Qt.AlignmentFlag.AlignCenter)
            return label

    def _add_panel(self, spec: PanelSpec) -> None:
        widget = self._make(spec.factory, spec.title)
        dock = QDockWidget(spec.title, self)
        dock.setObjectName(spec.name)
        dock.setWidget(widget)
        self.addDockWidget(spec.area, dock)
        if spec.tab_with and spec.tab_with in self.docks:
            self.tabifyDockWidget(self.docks[spec.tab_with], dock)
        self.panels[spec.name] = widget
        self.docks[spec.name] = dock

    def _build_menus(self) -> None:
        menu = self.menuBar()
        file_menu = menu.addMenu("&File")
        settings_action = QAction("&Settings…", self,
                                  shortcut=QKeySequence(QKeySequence.StandardKey.Preferences))
        settings_action.triggered.connect(self.open_settings)
        file_menu.addAction(settings_action)
        quit_action = QAction("&Quit", self, shortcut=QKeySequence(QKeySequence.StandardKey.Quit))
        quit_action.triggered.connect(self.close)
        file_menu.addAction(quit_action)
        self.file_menu = file_menu

        view = menu.addMenu("&View")
        for dock in self.docks.values():
            view.addAction(dock.toggleViewAction())
        view.addSeparator()
        reset = QAction("&Reset layout", self)
        reset.triggered.connect(self.reset_layout)
        view.addAction(reset)
        theme = QAction("Toggle &dark/light theme", self)
        theme.triggered.connect(self.toggle_theme)
        view.addAction(theme)
        self.view_menu = view

        trading = menu.addMenu("&Trading")
        kill = QAction("KILL SWITCH", self)
        kill.setShortcut(QKeySequence(KILL_SHORTCUT))
        kill.setShortcutContext(Qt.ShortcutContext.WidgetShortcut)  # the QShortcut owns the key
        kill.triggered.connect(lambda: self.kill_button.fire("menu"))
        trading.addAction(kill)
        rearm = QAction("Re-arm kill switch…", self)
        rearm.triggered.connect(self.banner.ask_rearm)
        trading.addAction(rearm)
        trading.addSeparator()
        cancel_all = QAction("Cancel all orders", self)
        cancel_all.triggered.connect(lambda: self.ctx.engine.cancel_all())
        trading.addAction(cancel_all)
        flatten = QAction("Flatten all positions", self)
        flatten.triggered.connect(self._confirm_flatten)
        trading.addAction(flatten)
        self.trading_menu = trading

    # ---- actions ----------------------------------------------------------------
    def open_settings(self) -> None:
        """Broker accounts (keyring), risk limits, data folder, theme; saved to the user file."""
        from widgets.settings_dialog import SettingsDialog

        if self.ctx.settings is None:
            QMessageBox.information(self, "Settings", "This window runs without settings.")
            return
        dialog = SettingsDialog(self.ctx.settings, parent=self)
        dialog.settings_changed.connect(self._settings_saved)
        dialog.exec()

    def _settings_saved(self, settings: Settings) -> None:
        from engine.settings import portfolio_limits, risk_limits

        self.ctx.settings = settings
        # Limits apply at once: a trader who tightens a limit means now.
        self.ctx.engine.risk.limits = risk_limits(settings)
        if self.ctx.monitor is not None:
            self.ctx.monitor.limits = portfolio_limits(settings)
        log.info("settings saved; risk limits applied now")
        self.statusBar().showMessage(
            "Settings saved. Risk limits apply now; brokers and data on the next start.", 10_000)

    def _confirm_flatten(self) -> None:
        answer = QMessageBox.question(self, "Flatten all", "Send market orders closing every position?")
        if answer == QMessageBox.StandardButton.Yes:
            self.ctx.engine.flatten()

    def toggle_theme(self) -> None:
        app = QApplication.instance()
        if isinstance(app, QApplication):
            apply_theme(app, "light" if current_theme() == "dark" else "dark")

    # ---- layout -------------------------------------------------------------------
    def _settings(self) -> QSettings | None:
        if self._layout_file is None:
            return None
        self._layout_file.parent.mkdir(parents=True, exist_ok=True)
        return QSettings(str(self._layout_file), QSettings.Format.IniFormat)

    def save_layout(self) -> None:
        store = self._settings()
        if store is None:
            return
        store.setValue("geometry", self.saveGeometry())
        store.setValue("state", self.saveState(LAYOUT_VERSION))
        store.setValue("layout_version", LAYOUT_VERSION)
        store.sync()

    def restore_layout(self) -> bool:
        store = self._settings()
        if store is None:
            return False
        # QSettings.value() is typed object: an INI file gives the number back as text.
        version = cast("str | int", store.value("layout_version", 0) or 0)
        if int(version) != LAYOUT_VERSION:
            return False
        geometry, state = store.value("geometry"), store.value("state")
        if isinstance(geometry, QByteArray):
            self.restoreGeometry(geometry)
        return isinstance(state, QByteArray) and self.restoreState(state, LAYOUT_VERSION)

    def set_default_layout(self, arrange: Callable[[MainWindow], None]) -> None:
        """Arrange the docks for a first start; "Reset layout" returns to this too."""
        restored = self.layout_restored and self.saveState(LAYOUT_VERSION)
        self.restoreState(self._default_state, LAYOUT_VERSION)
        arrange(self)
        self._default_state = self.saveState(LAYOUT_VERSION)
        if restored:
            self.restoreState(restored, LAYOUT_VERSION)

    def reset_layout(self) -> None:
        self.restoreState(self._default_state, LAYOUT_VERSION)
        for dock in self.docks.values():
            dock.setFloating(False)
            dock.show()

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802
        self.save_layout()
        super().closeEvent(event)
        self.closed.emit()
