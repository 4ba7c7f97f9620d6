"""Reconnecting streams: backoff with jitter, and one health state for all of them.

ccxt does not reconnect by itself: when a socket drops, every pending
``watch_*`` raises a NetworkError and the *next* call dials again and
resubscribes. ``Stream.run`` is that next call, made on a schedule the adapter
owns: after a failure it waits (exponential backoff with "equal jitter",
``[d/2, d]`` for ``d = initial * 2**n`` capped at ``maximum``), then watches
again; the first success after a failure runs the stream's recovery (book
snapshot, candle back-fill, reconciliation) before normal processing.

``Health`` folds the streams into the broker's connection state: any stream
down -> RECONNECTING, all up -> CONNECTED.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable

import ccxt

log = logging.getLogger(__name__)


class Backoff:
    """Exponential backoff with equal jitter; ``reset`` after a success."""

    def __init__(self, initial: float, maximum: float, rng: random.Random | None = None) -> None:
        self.initial = initial
        self.maximum = maximum
        self.attempts = 0
        self._rng = rng or random.Random()

    def next(self, floor: float = 0.0) -> float:
        ceiling = min(self.maximum, self.initial * (2 ** min(self.attempts, 30)))
        self.attempts += 1
        return max(floor, self._rng.uniform(ceiling / 2, ceiling))

    def reset(self) -> None:
        self.attempts = 0


class Health:
    """Which streams are down; calls ``on_change(healthy, detail)`` when that flips."""

    def __init__(self, on_change: Callable[[bool, str], None]) -> None:
        self.on_change = on_change
        self.down_since: dict[str, str] = {}

    @property
    def healthy(self) -> bool:
        return not self.down_since

    def down(self, name: str, reason: str) -> None:
        was = self.healthy
        self.down_since[name] = reason
        if was:
            self.on_change(False, f"{name}: {reason}")

    def up(self, name: str) -> None:
        if self.down_since.pop(name, None) is not None and self.healthy:
            self.on_change(True, "")

    def forget(self, name: str) -> None:
        self.up(name)


Step = Callable[[bool], Awaitable[None]]
Probe = Callable[[], bool]


class StreamReset(Exception):
    """A stream's socket was closed on purpose (resynchronisation); not an outage."""


class Stream:
    """One ``watch_*`` loop: ``step(recovering)`` awaits one update and handles it."""

    def __init__(self, name: str, step: Step, health: Health, backoff: Backoff, *,
                 describe: Callable[[BaseException], str] = str,
                 on_error: Callable[[str, BaseException], None] | None = None,
                 before_retry: Callable[[], None] | None = None,
                 probe: Probe | None = None) -> None:
        self.name = name
        self.step = step
        self.health = health
        self.backoff = backoff
        self.describe = describe
        self.on_error = on_error
        self.before_retry = before_retry
        self.probe = probe
        self.failures = 0
        self.updates = 0
        self.task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self.task = asyncio.get_running_loop().create_task(self.run(), name=self.name)

    async def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()
            await asyncio.gather(self.task, return_exceptions=True)
            self.task = None
        self.health.forget(self.name)

    async def run(self) -> None:
        recovering = True  # the first update also back-fills / snapshots
        while True:
            try:
                await self._once(recovering)
            except asyncio.CancelledError:
                task = asyncio.current_task()
                if task is not None and task.cancelling():
                    raise
                # ccxt cancels pending futures when a socket is closed under them
                recovering = True
                await asyncio.sleep(0.01)  # never a hot loop, whatever keeps cancelling
                continue
            except StreamReset:
                recovering = True
                await asyncio.sleep(0.01)
                continue
            except ccxt.ChecksumError as exc:
                # a sequence gap in the book: ccxt dropped it; resubscribe at once
                log.warning("%s: %s; resubscribing", self.name, exc)
                recovering = True
                if self.on_error is not None:
                    self.on_error(self.name, exc)
                continue
            except Exception as exc:
                self._failed(exc)
                recovering = True
                await asyncio.sleep(self.backoff.next())
                if self.before_retry is not None:
                    self.before_retry()
                continue
            self._recovered()
            self.updates += 1
            recovering = False

    async def _once(self, recovering: bool) -> None:
        if not self.failures or self.probe is None:
            await self.step(recovering)
            return
        # After an outage the stream is up once its socket is open again, even if a quiet
        # market sends nothing for a while (a trade stream may wait minutes for a print).
        task = asyncio.ensure_future(self.step(recovering))
        try:
            while not task.done():
                if self.probe():
                    self._recovered()
                    break
                await asyncio.wait({task}, timeout=0.02)
            await task
        finally:
            if not task.done():
                task.cancel()

    def _recovered(self) -> None:
        if self.failures:
            log.info("%s recovered after %d failure(s)", self.name, self.failures)
            self.failures = 0
            self.backoff.reset()
            self.health.up(self.name)

    def _failed(self, exc: BaseException) -> None:
        self.failures += 1
        reason = self.describe(exc)
        if self.failures == 1:
            log.warning("%s failed: %s; reconnecting with backoff", self.name, reason)
        self.health.down(self.name, reason)
        if self.on_error is not None:
            self.on_error(self.name, exc)
