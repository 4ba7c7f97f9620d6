"""Clocks: the only place the engine learns what time it is.

``LiveClock`` reads the wall clock and schedules timers on the running asyncio
loop. ``SimulatedClock`` only moves when a replay or backtest advances it, and
fires the timers that fall due on the way, in time order, with ``now`` set to
each timer's own due time. Nothing else in the engine calls ``datetime.now()``.

Example::

    clock = SimulatedClock(start_ns=0)
    clock.every(60 * NS_PER_SECOND, lambda ts: print("minute", ts), name="minute")
    clock.advance_to(180 * NS_PER_SECOND)   # prints three times
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import logging
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field

import pandas as pd

from engine.models.market import NS_PER_SECOND, ns_to_timestamp

log = logging.getLogger(__name__)

TimerCallback = Callable[[int], object]


@dataclass(eq=False)
class Timer:
    """A scheduled callback; ``interval_ns`` > 0 makes it repeat."""

    name: str
    due_ns: int
    callback: TimerCallback
    interval_ns: int = 0
    cancelled: bool = False
    handle: asyncio.TimerHandle | None = field(default=None, repr=False)

    def cancel(self) -> None:
        self.cancelled = True
        if self.handle is not None:
            self.handle.cancel()


class Clock(ABC):
    """What time it is, and callbacks at a time or every interval."""

    @abstractmethod
    def now_ns(self) -> int:
        """Nanoseconds since the Unix epoch, UTC."""

    def now(self) -> pd.Timestamp:
        return ns_to_timestamp(self.now_ns())

    @abstractmethod
    def call_at(self, due_ns: int, callback: TimerCallback, name: str = "") -> Timer:
        """Call ``callback(now_ns)`` once at ``due_ns`` (at once if already past)."""

    @abstractmethod
    def every(self, interval_ns: int, callback: TimerCallback, name: str = "") -> Timer:
        """Call ``callback(now_ns)`` every ``interval_ns``, first one interval from now."""

    def call_later(self, delay_ns: int, callback: TimerCallback, name: str = "") -> Timer:
        return self.call_at(self.now_ns() + delay_ns, callback, name)

    @staticmethod
    def _run(timer: Timer, now_ns: int) -> None:
        try:
            timer.callback(now_ns)
        except Exception:
            log.exception("timer %s failed", timer.name or timer.callback)


class LiveClock(Clock):
    """Wall-clock time; timers run on the asyncio loop that is running."""

    def now_ns(self) -> int:
        return time.time_ns()

    def call_at(self, due_ns: int, callback: TimerCallback, name: str = "") -> Timer:
        timer = Timer(name=name, due_ns=due_ns, callback=callback)
        self._arm(timer)
        return timer

    def every(self, interval_ns: int, callback: TimerCallback, name: str = "") -> Timer:
        if interval_ns <= 0:
            raise ValueError(f"timer interval must be positive, got {interval_ns} ns")
        timer = Timer(name=name, due_ns=self.now_ns() + interval_ns, callback=callback,
                      interval_ns=interval_ns)
        self._arm(timer)
        return timer

    def _arm(self, timer: Timer) -> None:
        loop = asyncio.get_running_loop()
        delay = max(0.0, (timer.due_ns - self.now_ns()) / NS_PER_SECOND)
        timer.handle = loop.call_later(delay, self._fire, timer)

    def _fire(self, timer: Timer) -> None:
        if timer.cancelled:
            return
        self._run(timer, self.now_ns())
        if timer.interval_ns and not timer.cancelled:
            # Next due time follows the schedule, not the (late) firing time, so a
            # busy loop does not make a minute timer drift.
            timer.due_ns += timer.interval_ns
            now = self.now_ns()
            if timer.due_ns < now:
                missed = (now - timer.due_ns) // timer.interval_ns + 1
                timer.due_ns += missed * timer.interval_ns
            self._arm(timer)


class SimulatedClock(Clock):
    """Time that only moves forward when told to (replay and backtests)."""

    def __init__(self, start_ns: int = 0) -> None:
        self._now = start_ns
        self._heap: list[tuple[int, int, Timer]] = []
        self._seq = itertools.count()

    def now_ns(self) -> int:
        return self._now

    def call_at(self, due_ns: int, callback: TimerCallback, name: str = "") -> Timer:
        timer = Timer(name=name, due_ns=max(due_ns, self._now), callback=callback)
        heapq.heappush(self._heap, (timer.due_ns, next(self._seq), timer))
        return timer

    def every(self, interval_ns: int, callback: TimerCallback, name: str = "") -> Timer:
        if interval_ns <= 0:
            raise ValueError(f"timer interval must be positive, got {interval_ns} ns")
        timer = Timer(name=name, due_ns=self._now + interval_ns, callback=callback,
                      interval_ns=interval_ns)
        heapq.heappush(self._heap, (timer.due_ns, next(self._seq), timer))
        return timer

    @property
    def next_due_ns(self) -> int | None:
        while self._heap and self._heap[0][2].cancelled:
            heapq.heappop(self._heap)
        return self._heap[0][0] if self._heap else None

    def advance_to(self, ts_ns: int) -> None:
        """Move to ``ts_ns``, firing every timer due on the way in time order."""
        if ts_ns < self._now:
            raise ValueError(
                f"simulated time cannot go backwards: at {self._now}, asked for {ts_ns}"
            )
        heap = self._heap
        while heap and heap[0][0] <= ts_ns:
            due, _, timer = heapq.heappop(heap)
            if timer.cancelled:
                continue
            self._now = due
            self._run(timer, due)
            if timer.interval_ns and not timer.cancelled:
                timer.due_ns = due + timer.interval_ns
                heapq.heappush(heap, (timer.due_ns, next(self._seq), timer))
        self._now = ts_ns
