"""A typed publish/subscribe event bus for one asyncio event loop.

Handlers subscribe to a record type (``Tick``, ``OrderEvent``, ...) or a base
class of it (``object`` receives everything). Plain functions are called in the
publisher's call, which keeps backtests fast and deterministic; ``async def``
handlers get their own ordered queue served by a task on the running loop, so
a slow coroutine never holds up the publisher or the other handlers.

Guarantees:

* events from one publisher reach every handler in the order they were
  published, including events published from inside a handler (they queue
  behind the event being delivered instead of overtaking it);
* a handler that raises is logged with its name and the event type, counted in
  ``errors``, and the remaining handlers still receive the event.

Example::

    bus = EventBus()
    bus.subscribe(Bar, lambda bar: print(bar.close))
    bus.publish(bar)
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

log = logging.getLogger(__name__)

E = TypeVar("E")
Handler = Callable[[Any], Any]


@dataclass(eq=False)
class Subscription:
    event_type: type
    handler: Handler
    is_async: bool
    name: str
    # Only for async handlers: pending events and the task serving them.
    pending: deque[Any] = field(default_factory=deque)
    wakeup: asyncio.Event | None = None
    task: asyncio.Task[None] | None = None
    in_flight: int = 0  # queued or being handled
    active: bool = True


def _is_coroutine_handler(handler: Handler) -> bool:
    if inspect.iscoroutinefunction(handler):
        return True
    # A callable object whose __call__ is ``async def``.
    return not inspect.isroutine(handler) and inspect.iscoroutinefunction(type(handler).__call__)


class EventBus:
    """Typed publish/subscribe; see the module docstring for the guarantees."""

    def __init__(self) -> None:
        self._subs: dict[type, list[Subscription]] = {}
        self._routes: dict[type, tuple[Subscription, ...]] = {}
        # Per event type: the handlers to call in order when none is async (the common
        # case, and every handler in a backtest), else None for the general path.
        self._plain: dict[type, tuple[Handler, ...] | None] = {}
        self._queue: deque[Any] = deque()
        self._dispatching = False
        self.errors = 0
        self.published = 0

    # ---- subscription -------------------------------------------------------
    def subscribe(self, event_type: type[E], handler: Callable[[E], Any]) -> Subscription:
        """Call ``handler(event)`` for every published instance of ``event_type``."""
        sub = Subscription(
            event_type=event_type,
            handler=handler,
            is_async=_is_coroutine_handler(handler),
            name=getattr(handler, "__qualname__", repr(handler)),
        )
        self._subs.setdefault(event_type, []).append(sub)
        self._routes.clear()
        self._plain.clear()
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        subs = self._subs.get(sub.event_type, [])
        if sub in subs:
            subs.remove(sub)
            self._routes.clear()
            self._plain.clear()
        sub.active = False
        if sub.task is not None:
            sub.task.cancel()

    def handlers_for(self, event_type: type) -> tuple[Subscription, ...]:
        route = self._routes.get(event_type)
        if route is None:
            route = tuple(s for base in event_type.__mro__ for s in self._subs.get(base, ()))
            self._routes[event_type] = route
        return route

    def wants(self, event_type: type) -> bool:
        """Whether anything would receive an ``event_type``: publishers of costly,
        optional events (the OMS's per-order ``OrderEvent``s, which a backtest has no
        subscriber for) skip building them when nothing listens."""
        return bool(self.handlers_for(event_type))

    # ---- publication --------------------------------------------------------
    def publish(self, event: object) -> None:
        """Deliver ``event`` to every handler of its type and base types, in order."""
        self.published += 1
        if self._dispatching:
            self._queue.append(event)
            return
        self._dispatching = True
        try:
            self._deliver(event)
            queue = self._queue
            while queue:
                self._deliver(queue.popleft())
        finally:
            self._dispatching = False

    def _deliver(self, event: object) -> None:
        kind = type(event)
        try:
            handlers = self._plain[kind]
        except KeyError:
            route = self.handlers_for(kind)
            handlers = self._plain[kind] = (
                None if any(s.is_async for s in route) else tuple(s.handler for s in route))
        if handlers is not None:
            for handler in handlers:
                try:
                    handler(event)
                except Exception:
                    self._failed(kind, handler)
            return
        for sub in self.handlers_for(kind):
            if sub.is_async:
                self._enqueue(sub, event)
                continue
            try:
                sub.handler(event)
            except Exception:
                self._failed(kind, sub.handler)

    def _failed(self, kind: type, handler: Handler) -> None:
        self.errors += 1
        name = next((s.name for s in self.handlers_for(kind) if s.handler is handler),
                    getattr(handler, "__qualname__", repr(handler)))
        log.exception("event handler %s failed on %s", name, kind.__name__)

    def _enqueue(self, sub: Subscription, event: object) -> None:
        sub.pending.append(event)
        sub.in_flight += 1
        try:
            self._ensure_worker(sub)
        except RuntimeError:
            pass  # no running loop yet: delivered once one runs (see ``drain``)

    def _ensure_worker(self, sub: Subscription) -> None:
        if sub.task is None or sub.task.done():
            loop = asyncio.get_running_loop()
            sub.wakeup = asyncio.Event()
            sub.task = loop.create_task(self._serve(sub), name=f"bus:{sub.name}")
        assert sub.wakeup is not None
        sub.wakeup.set()

    async def _serve(self, sub: Subscription) -> None:
        assert sub.wakeup is not None
        while sub.active:
            while sub.pending:
                event = sub.pending.popleft()
                try:
                    await sub.handler(event)
                except asyncio.CancelledError:
                    raise
                except Exception:
                    self.errors += 1
                    log.exception(
                        "async event handler %s failed on %s", sub.name, type(event).__name__
                    )
                finally:
                    sub.in_flight -= 1
            sub.wakeup.clear()
            await sub.wakeup.wait()

    async def drain(self, timeout: float = 10.0) -> None:
        """Wait until every async handler has finished what was published so far."""
        async_subs = [s for subs in self._subs.values() for s in subs if s.is_async]
        for sub in async_subs:
            if sub.pending:
                self._ensure_worker(sub)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while any(s.in_flight for s in async_subs):
            if loop.time() > deadline:
                raise TimeoutError("event handlers did not finish within the timeout")
            await asyncio.sleep(0.0005)

    async def close(self) -> None:
        tasks: list[Awaitable[Any]] = []
        for subs in self._subs.values():
            for sub in subs:
                if sub.task is not None:
                    sub.task.cancel()
                    tasks.append(sub.task)
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
