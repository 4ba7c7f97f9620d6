"""WAL checkpoints of the journal's SQLite file, off the order path.

SQLite in WAL mode copies the log back into the database ("checkpoint") from
inside whichever commit pushes the log past 1,000 pages, fsyncs included. On
the OMS journal that commit is an order's or a fill's, which then takes
milliseconds instead of tens of microseconds: it was the whole p99 of a paper
order's round trip. ``WalCheckpointer`` takes that work to a background thread
(the sqlite3 module releases the GIL while SQLite works), and the journal's
connection turns automatic checkpoints off.

The thread checkpoints PASSIVE (it never waits for, nor blocks, the writer),
at most every ``every_s`` seconds and only after a commit asked for it, with a
connection it opens for the occasion, and it ends after ``idle_exit_s`` with
nothing to do, so a journal no one writes to leaves no thread behind; the next
``poke`` starts another. Durability is unchanged: with ``synchronous=NORMAL``
a commit in WAL mode never waited for the disk anyway.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from pathlib import Path

log = logging.getLogger(__name__)


class WalCheckpointer:
    """Checkpoints ``path``'s WAL on a daemon thread after ``poke()``; see the module doc."""

    def __init__(self, path: Path, *, every_s: float = 0.2, idle_exit_s: float = 5.0) -> None:
        self.path = path
        self.every_s = every_s
        self.idle_exit_s = idle_exit_s
        self.checkpoints = 0
        self._dirty = False
        self._running = False
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def poke(self) -> None:
        """A commit wrote to the WAL: checkpoint soon (cheap; call after every commit)."""
        self._dirty = True
        if not self._running:
            with self._lock:
                if not self._running and not self._stop.is_set():
                    self._running = True
                    self._thread = threading.Thread(target=self._run, daemon=True,
                                                    name=f"wal-checkpoint:{self.path.name}")
                    self._thread.start()

    def stop(self, final: bool = True) -> None:
        """End the thread; with ``final`` run one last checkpoint here."""
        self._stop.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=10)
        if final and self._dirty:
            self._dirty = False
            self._checkpoint()

    def _run(self) -> None:
        idle = 0.0
        while not self._stop.wait(self.every_s):
            if self._dirty:
                self._dirty = False
                idle = 0.0
                self._checkpoint()
                continue
            idle += self.every_s
            if idle >= self.idle_exit_s:
                with self._lock:
                    if not self._dirty:
                        self._running = False
                        return
        with self._lock:
            self._running = False

    def _checkpoint(self) -> None:
        try:
            # mode=rw: a file deleted meanwhile is not created again, empty.
            conn = sqlite3.connect(f"{self.path.resolve().as_uri()}?mode=rw", uri=True,
                                   timeout=1.0, isolation_level=None, check_same_thread=False)
        except sqlite3.Error as exc:
            log.debug("WAL checkpoint of %s: cannot open the file: %s", self.path, exc)
            return
        try:
            conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
            self.checkpoints += 1
        except sqlite3.Error as exc:  # busy or gone: the next one catches up
            log.debug("WAL checkpoint of %s skipped: %s", self.path, exc)
        finally:
            conn.close()
