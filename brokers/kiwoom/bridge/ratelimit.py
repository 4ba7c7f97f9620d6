"""Rate limits enforced in the bridge before the control sees a request.

Kiwoom refuses data requests beyond 5 per second (and blocks an account that
keeps asking, after about 1,000 per hour) with -200, and orders beyond 5 per
second with -308. ``RateQueue`` holds requests back instead: each request runs
as soon as every window of its limiter has room, in arrival order, and a request
that has to wait is told how long it will probably wait (``on_queued``).

The windows used by the bridge are a little longer than Kiwoom's own (1.1 s for
"per second"), so timing jitter between us and the server never turns a queued
request into a refused one.
"""

from __future__ import annotations

import logging
import math
from bisect import bisect_right
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

log = logging.getLogger(__name__)

Window = tuple[float, int]  # (seconds, max requests in any such span)

# Kiwoom: 5 TR per second and about 1,000 per hour; 5 orders per second.
TR_WINDOWS: tuple[Window, ...] = ((1.1, 5), (3600.0, 1000))
ORDER_WINDOWS: tuple[Window, ...] = ((1.1, 5),)


class Handle(Protocol):
    def cancel(self) -> object: ...


class Scheduler(Protocol):
    """What the bridge needs from its event loop (asyncio or Qt)."""

    def now(self) -> float:
        """Monotonic seconds."""

    def call_later(self, delay: float, fn: Callable[[], None]) -> Handle: ...


class SlidingWindows:
    """Request times, and the earliest time the next request may go out."""

    def __init__(self, windows: Sequence[Window]) -> None:
        if not windows or any(span <= 0 or limit <= 0 for span, limit in windows):
            raise ValueError(f"rate windows must be positive (seconds, count) pairs: {windows}")
        self.windows = tuple(windows)
        self._span = max(span for span, _ in self.windows)
        self._stamps: deque[float] = deque()

    def _trim(self, now: float) -> None:
        horizon = now - self._span
        stamps = self._stamps
        while stamps and stamps[0] <= horizon:
            stamps.popleft()

    def earliest(self, now: float, extra: Sequence[float] = ()) -> float:
        """The first time >= now at which one more request fits in every window."""
        self._trim(now)
        stamps = list(self._stamps) + list(extra)
        t = now
        moved = True
        while moved:
            moved = False
            for span, limit in self.windows:
                # Requests inside (t - span, t]: the window is full if there are `limit`.
                inside = len(stamps) - bisect_right(stamps, t - span)
                if inside >= limit:
                    later = stamps[len(stamps) - limit] + span
                    # (a + span) - span can round below a, leaving a inside the window at
                    # t = a + span: step to the next float so that t always grows (the
                    # loop ended before only by luck, and at times never).
                    t = later if later > t else math.nextafter(t, math.inf)
                    moved = True
        return t

    def take(self, now: float) -> None:
        self._stamps.append(now)

    def count(self, now: float, span: float) -> int:
        self._trim(now)
        return len(self._stamps) - bisect_right(list(self._stamps), now - span)


@dataclass(eq=False)
class _Job:
    run: Callable[[], None]
    on_queued: Callable[[float, int], None] | None
    name: str


class RateQueue:
    """Runs jobs in order, each when the windows allow; never drops one.

    ``submit(job)`` runs ``job.run()`` at once if there is room and nothing is
    waiting, else queues it and calls ``on_queued(wait_seconds, jobs_ahead)``.
    ``pause(seconds)`` holds everything back (after the control itself refused
    with -200/-308, its server-side limit is the stricter one for a while).
    """

    def __init__(self, name: str, windows: Sequence[Window], scheduler: Scheduler) -> None:
        self.name = name
        self.limits = SlidingWindows(windows)
        self.scheduler = scheduler
        self._queue: deque[_Job] = deque()
        self._timer: Handle | None = None
        self._paused_until = 0.0
        self.sent = 0
        self.queued = 0
        self.max_wait = 0.0

    def __len__(self) -> int:
        return len(self._queue)

    def submit(self, run: Callable[[], None], on_queued: Callable[[float, int], None] | None = None,
               name: str = "", front: bool = False) -> None:
        job = _Job(run, on_queued, name)
        now = self.scheduler.now()
        if not self._queue and not front and self._ready_at(now) <= now:
            self._run(job, now)
            return
        if front:
            self._queue.appendleft(job)
        else:
            self._queue.append(job)
        self.queued += 1
        wait = self.estimate_wait(len(self._queue) - 1 if not front else 0)
        self.max_wait = max(self.max_wait, wait)
        if on_queued is not None:
            try:
                on_queued(wait, len(self._queue) - 1 if not front else 0)
            except Exception:
                log.exception("on_queued callback of %s failed", name or self.name)
        self._arm()

    def pause(self, seconds: float) -> None:
        self._paused_until = max(self._paused_until, self.scheduler.now() + seconds)
        self._arm()

    def estimate_wait(self, position: int) -> float:
        """Seconds until the job at ``position`` (0 = first in the queue) may run."""
        now = self.scheduler.now()
        planned: list[float] = []
        t = now
        for _ in range(position + 1):
            t = max(self.limits.earliest(now, planned), self._paused_until)
            planned.append(t)
        return max(0.0, t - now)

    def _ready_at(self, now: float) -> float:
        return max(self.limits.earliest(now), self._paused_until)

    def _run(self, job: _Job, now: float) -> None:
        self.limits.take(now)
        self.sent += 1
        try:
            job.run()
        except Exception:
            log.exception("rate-limited job %s failed", job.name or self.name)

    def _arm(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if not self._queue:
            return
        now = self.scheduler.now()
        delay = max(0.0, self._ready_at(now) - now)
        self._timer = self.scheduler.call_later(delay, self._drain)

    def _drain(self) -> None:
        self._timer = None
        now = self.scheduler.now()
        while self._queue and self._ready_at(now) <= now:
            self._run(self._queue.popleft(), now)
            now = self.scheduler.now()
        self._arm()
