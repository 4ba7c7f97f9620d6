"""The GUI application: a QApplication on a qasync event loop running the engine."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
import time
from typing import TYPE_CHECKING, cast

if TYPE_CHECKING:
    from PySide6.QtWidgets import QApplication

log = logging.getLogger(__name__)


def _ensure_platform() -> None:
    # Without a display (CI, SSH, --screenshot on a server) use Qt's offscreen platform.
    if sys.platform.startswith("linux") and not os.environ.get("DISPLAY") \
            and not os.environ.get("WAYLAND_DISPLAY"):
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


def _set_icon(app: QApplication) -> None:
    from importlib import resources

    from PySide6.QtGui import QIcon

    icon = resources.files("resources") / "icons" / "trading-terminal.png"
    with resources.as_file(icon) as path:
        app.setWindowIcon(QIcon(str(path)))


def run_gui(args: argparse.Namespace) -> int:
    _ensure_platform()
    import qasync
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    from terminal.composition import build_window
    from widgets.backtest.worker import gui_collector
    from widgets.theme import apply_theme

    # instance() is typed QCoreApplication; the one this process makes is a QApplication.
    app = cast(QApplication, QApplication.instance() or QApplication(sys.argv[:1]))
    app.setApplicationName("Trading Terminal")
    app.setOrganizationName("trading-terminal")
    app.setDesktopFileName("trading-terminal")
    _set_icon(app)
    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)
    apply_theme(app, "dark")
    app.setQuitOnLastWindowClosed(False)  # the session stops first, then the app quits
    window, services = build_window(args)
    # The GUI thread collects all cyclic garbage, as it does during a backtest: the
    # journal's writer thread allocates too, and a Qt object freed from it crashes Qt.
    gui_collector().acquire()
    window.closed.connect(services.request_quit)
    window.show()
    # The first turn of the loop after show(): what bench/bench_terminal.py times as launch.
    QTimer.singleShot(0, lambda: log.info("window shown (epoch %.3f)", time.time()))
    if args.screenshot:
        def shoot() -> None:
            window.grab().save(args.screenshot, "PNG")
            log.info("screenshot saved to %s", args.screenshot)
            window.close()

        QTimer.singleShot(int(args.after * 1000), shoot)
    with loop:
        loop.run_until_complete(services.run_until_quit(app))
    return 0
