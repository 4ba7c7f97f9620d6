"""Cyclic garbage made on the GUI thread dies on the GUI thread, however much another
thread allocates (a Qt object freed from another thread crashes Qt)."""

from __future__ import annotations

import gc
import threading

from PySide6.QtCore import QObject, QTimer

from widgets.backtest.worker import gui_collector


def test_qt_garbage_is_collected_on_the_gui_thread_while_held(qtbot):
    collector = gui_collector()
    collector.acquire()
    try:
        died_on: list[str] = []
        obj = QObject()
        obj.timer = QTimer(obj)  # type: ignore[attr-defined]
        obj.timer.start(1_000)  # type: ignore[attr-defined]
        obj.cycle = obj  # type: ignore[attr-defined]  # only the collector can free it
        obj.destroyed.connect(lambda: died_on.append(threading.current_thread().name))
        del obj

        def churn() -> None:  # enough allocations to trigger many automatic collections
            junk = []
            for i in range(300_000):
                junk.append([i])
                junk[-1].append(junk[-1])  # cycles of its own

        worker = threading.Thread(target=churn, name="churn")
        worker.start()
        worker.join()
        assert not gc.isenabled()
        assert died_on == []  # the other thread freed nothing
        qtbot.waitUntil(lambda: died_on != [], timeout=3_000)  # the GUI thread's tick did
        assert died_on == [threading.main_thread().name]
    finally:
        collector.release()
