"""The GUI application: a QApplication on a qasync event loop.

For now the main window is a placeholder layout; the real terminal (charts,
order book, ticket, tables, risk, kill switch) replaces it.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys


def _ensure_platform() -> None:
    # Without a display (CI, SSH, --screenshot on a server) use Qt's offscreen platform.
    if sys.platform.startswith("linux") and not os.environ.get("DISPLAY") \
            and not os.environ.get("WAYLAND_DISPLAY"):
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


def run_gui(args: argparse.Namespace) -> int:
    _ensure_platform()
    import qasync
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    from terminal.main_window import MainWindow

    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("Trading Terminal")
    app.setOrganizationName("trading-terminal")
    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)
    window = MainWindow()
    window.show()
    exit_code = 0
    if args.screenshot:
        def shoot() -> None:
            window.grab().save(args.screenshot, "PNG")
            app.quit()

        QTimer.singleShot(int(args.after * 1000), shoot)
    with loop:
        loop.run_until_complete(_until_quit(app))
    return exit_code


async def _until_quit(app) -> None:  # type: ignore[no-untyped-def]
    done = asyncio.Event()
    app.aboutToQuit.connect(done.set)
    await done.wait()
