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
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, QThread, Signal

from engine.backtest.runner import BacktestCancelled
from engine.errors import UserError

log = logging.getLogger(__name__)
MAX_PROGRESS_HZ = 20.0

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
