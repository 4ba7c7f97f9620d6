"""Running the coroutines the engine starts (broker commands) live or inline.

Live, a broker command is a task on the running asyncio loop; the engine never
waits for it. In a backtest there is no loop worth the cost, and the paper
venue's commands never suspend, so ``InlineRunner`` drives each coroutine to
completion on the spot. One engine code path serves both.
"""

from __future__ import annotations

import asyncio
import logging
from abc import ABC, abstractmethod
from collections.abc import Callable, Coroutine
from typing import Any

log = logging.getLogger(__name__)

ErrorHandler = Callable[[BaseException], None]


class TaskRunner(ABC):
    @abstractmethod
    def spawn(self, coro: Coroutine[Any, Any, Any], what: str,
              on_error: ErrorHandler | None = None) -> None:
        """Run ``coro``; report an exception to ``on_error`` (and the log), never raise."""

    async def wait_idle(self, timeout: float = 10.0) -> None:
        """Wait until every spawned command has finished (nothing to wait for inline)."""
        return None


class LoopRunner(TaskRunner):
    """Tasks on the running loop; keeps references so they are not collected early."""

    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[Any]] = set()

    def spawn(self, coro: Coroutine[Any, Any, Any], what: str,
              on_error: ErrorHandler | None = None) -> None:
        task = asyncio.get_running_loop().create_task(coro, name=what)
        self._tasks.add(task)
        task.add_done_callback(lambda t: self._done(t, what, on_error))

    def _done(self, task: asyncio.Task[Any], what: str, on_error: ErrorHandler | None) -> None:
        self._tasks.discard(task)
        if task.cancelled():
            return
        exc = task.exception()
        if exc is not None:
            _report(exc, what, on_error)

    @property
    def pending(self) -> int:
        return len(self._tasks)

    async def wait_idle(self, timeout: float = 10.0) -> None:
        """Wait until every spawned task has finished (tests, shutdown)."""
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=timeout)


class InlineRunner(TaskRunner):
    """Drive each coroutine to completion immediately; it must not suspend."""

    def spawn(self, coro: Coroutine[Any, Any, Any], what: str,
              on_error: ErrorHandler | None = None) -> None:
        try:
            coro.send(None)
        except StopIteration:
            return
        except Exception as exc:
            _report(exc, what, on_error)
            return
        coro.close()
        _report(RuntimeError(f"{what} suspended; inline (backtest) mode needs commands that "
                             "complete without waiting"), what, on_error)


class SingleFlight:
    """At most one run of a coroutine at a time: a caller that arrives while one runs
    waits for it instead of starting another (a broker's reconciliation).

    The run is shielded, so a caller that is cancelled does not cancel it for the others.
    """

    def __init__(self) -> None:
        self.task: asyncio.Task[None] | None = None

    async def run(self, start: Callable[[], Coroutine[Any, Any, None]]) -> None:
        if self.task is None or self.task.done():
            self.task = asyncio.get_running_loop().create_task(start())
        await asyncio.shield(self.task)


def _report(exc: BaseException, what: str, on_error: ErrorHandler | None) -> None:
    if on_error is not None:
        try:
            on_error(exc)
            return
        except Exception:
            log.exception("error handler for %s failed", what)
    log.error("%s failed: %s", what, exc)
