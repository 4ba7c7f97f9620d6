"""Long jobs (a backtest, a parameter search) off the GUI thread, reported by Qt signals.

The asyncio loop (qasync) and every widget live on the GUI thread, so a job
that takes seconds must never run there. ``TaskThread`` runs one plain
function in a ``QThread``; the function gets a ``report(fraction, text)``
callable and an ``is_cancelled()`` callable and touches no widget. Its
signals are emitted from the worker thread and, because the ``TaskThread``
object itself lives on the GUI thread, Qt queues them to the GUI thread's
slots.

Progress is throttled to ``MAX_PROGRESS_HZ`` so a search with thousands of
tiny jobs cannot flood the event loop; the last report (1.0) always goes out.

Garbage: Python's cyclic collector runs in whichever thread happens to
allocate, and a backtest allocates a lot. Left alone it would free unreachable
Qt objects of the GUI thread (a closed dialog, a lambda-connected widget) from
the worker thread, and Qt crashes. While a job runs, ``GuiThreadCollector``
switches automatic collection off and collects on the GUI thread instead, on
a timer: the young generations often, everything every few seconds.
"""

from __future__ import annotations

import gc
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, QThread, QTimer, Signal

from engine.backtest.runner import BacktestCancelled
from engine.errors import UserError

log = logging.getLogger(__name__)
MAX_PROGRESS_HZ = 20.0
COLLECT_EVERY_MS = 250  # young generations, on the GUI thread, while a job runs
FULL_COLLECT_EVERY = 40  # ticks: a full collection every 10 s

Report = Callable[[float, str], None]
Job = Callable[[Report, Callable[[], bool]], Any]


class Throttle:
    """Lets a call through at most ``hz`` times a second (the final one always)."""

    def __init__(self, hz: float = MAX_PROGRESS_HZ, clock: Callable[[], float] = time.monotonic
                 ) -> None:
        self.interval = 1.0 / hz
        self.clock = clock
        self._last = float("-inf")

    def ready(self, final: bool = False) -> bool:
        now = self.clock()
        if final or now - self._last >= self.interval:
            self._last = now
            return True
        return False


class GuiThreadCollector(QObject):
    """Cyclic garbage collection on the GUI thread only, while any worker job runs."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.jobs = 0
        self._was_enabled = False
        self._ticks = 0
        self._timer = QTimer(self)
        self._timer.setInterval(COLLECT_EVERY_MS)
        self._timer.timeout.connect(self._tick)

    def acquire(self) -> None:
        if self.jobs == 0:
            self._was_enabled = gc.isenabled()
            gc.collect(1)  # the young garbage the GUI thread left goes now, here
            # Older objects are frozen for the job: the periodic collections then walk
            # only what is new, and a big heap costs the GUI no pause (a full
            # collection here took 1-1.5 s in a long-running process).
            gc.freeze()
            gc.disable()
            self._ticks = 0
            self._timer.start()
        self.jobs += 1

    def release(self) -> None:
        self.jobs = max(0, self.jobs - 1)
        if self.jobs == 0:
            self._timer.stop()
            gc.unfreeze()
            if self._was_enabled:
                gc.enable()

    def _tick(self) -> None:
        self._ticks += 1
        gc.collect(2 if self._ticks % FULL_COLLECT_EVERY == 0 else 1)


_collector: GuiThreadCollector | None = None


def gui_collector() -> GuiThreadCollector:
    """The process's collector (created on first use, on the GUI thread)."""
    global _collector
    if _collector is None:
        _collector = GuiThreadCollector()
    return _collector


class TaskThread(QThread):
    """Runs ``job(report, is_cancelled)`` once; exactly one of the outcome signals fires.

    * ``succeeded(result)``: the job returned (a search cancelled half-way
      returns its finished trials, flagged ``cancelled``: the caller decides);
    * ``cancelled(text)``: the job raised ``BacktestCancelled``;
    * ``failed(text)``: it raised; a ``UserError`` gives its message (the user
      can fix it), anything else its type and message, and is logged with the
      traceback (never shown in a dialog).
    """

    progressed = Signal(float, str)
    succeeded = Signal(object)
    cancelled = Signal(str)
    failed = Signal(str)

    def __init__(self, job: Job, name: str = "task", parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.job = job
        self.setObjectName(name)
        self._cancel = threading.Event()
        self._throttle = Throttle()
        self._collecting = False
        self.finished.connect(self._release)

    def start(self, priority: QThread.Priority = QThread.Priority.InheritPriority) -> None:
        """Start the job (GUI thread); garbage is collected on this thread until it ends."""
        if not self._collecting:
            gui_collector().acquire()
            self._collecting = True
        super().start(priority)

    def _release(self) -> None:
        if self._collecting:
            self._collecting = False
            gui_collector().release()

    def cancel(self) -> None:
        """Ask the job to stop at its next check (a backtest checks every few thousand bars)."""
        self._cancel.set()

    def is_cancelled(self) -> bool:
        return self._cancel.is_set()

    def _report(self, fraction: float, text: str = "") -> None:
        if self._throttle.ready(final=fraction >= 1.0):
            self.progressed.emit(float(fraction), text)

    def run(self) -> None:  # the worker thread
        # Make this Qt thread known to Python's threading module, so code that asks how
        # many threads exist (the optimiser picks fork vs forkserver by it) is not misled.
        threading.current_thread()
        try:
            result = self.job(self._report, self._cancel.is_set)
        except BacktestCancelled as exc:
            self.cancelled.emit(str(exc) or "cancelled")
        except UserError as exc:
            log.warning("%s: %s", self.objectName(), exc)
            self.failed.emit(str(exc))
        except Exception as exc:  # noqa: BLE001 - shown beside the Run button, logged in full
            log.exception("%s failed", self.objectName())
            self.failed.emit(f"{type(exc).__name__}: {exc}")
        else:
            self.succeeded.emit(result)
