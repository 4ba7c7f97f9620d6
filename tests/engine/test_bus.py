"""Event bus: typed routing, ordering, failure isolation, async handlers."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from hypothesis import given
from hypothesis import strategies as st

from engine.bus import EventBus


@dataclass(frozen=True)
class Base:
    n: int


@dataclass(frozen=True)
class Child(Base):
    pass


@dataclass(frozen=True)
class Other:
    n: int


def test_routes_by_type_and_base_type():
    bus = EventBus()
    seen: list[tuple[str, object]] = []
    bus.subscribe(Base, lambda e: seen.append(("base", e)))
    bus.subscribe(Child, lambda e: seen.append(("child", e)))
    bus.subscribe(object, lambda e: seen.append(("all", e)))
    bus.publish(Child(1))
    bus.publish(Other(2))
    assert [k for k, _ in seen] == ["child", "base", "all", "all"]


def test_failing_handler_is_logged_and_others_still_run(caplog):
    bus = EventBus()
    got: list[int] = []

    def broken(event: Base) -> None:
        raise RuntimeError("boom")

    bus.subscribe(Base, broken)
    bus.subscribe(Base, lambda e: got.append(e.n))
    with caplog.at_level(logging.ERROR):
        bus.publish(Base(1))
        bus.publish(Base(2))
    assert got == [1, 2]
    assert bus.errors == 2
    assert "broken" in caplog.text and "boom" in caplog.text


def test_events_published_inside_a_handler_queue_behind_the_current_one():
    bus = EventBus()
    order: list[str] = []

    def first(e: Base) -> None:
        order.append(f"first:{e.n}")
        if e.n == 1:
            bus.publish(Base(2))

    bus.subscribe(Base, first)
    bus.subscribe(Base, lambda e: order.append(f"second:{e.n}"))
    bus.publish(Base(1))
    # Event 2 must not overtake event 1 at the second handler.
    assert order == ["first:1", "second:1", "first:2", "second:2"]


@given(st.lists(st.integers(), max_size=50))
def test_one_publisher_order_is_preserved_for_every_handler(values):
    bus = EventBus()
    a: list[int] = []
    b: list[int] = []
    bus.subscribe(Base, lambda e: a.append(e.n))
    bus.subscribe(object, lambda e: b.append(e.n))
    for v in values:
        bus.publish(Base(v))
    assert a == values and b == values


def test_async_handlers_get_events_in_order_without_blocking_the_publisher():
    async def scenario() -> None:
        bus = EventBus()
        got: list[int] = []
        sync_seen: list[int] = []

        async def slow(e: Base) -> None:
            await asyncio.sleep(0.001 * (5 - e.n % 5))  # later events finish faster
            got.append(e.n)

        async def broken(e: Base) -> None:
            raise ValueError("nope")

        bus.subscribe(Base, slow)
        bus.subscribe(Base, broken)
        bus.subscribe(Base, lambda e: sync_seen.append(e.n))
        for i in range(20):
            bus.publish(Base(i))
        assert sync_seen == list(range(20))  # delivered synchronously
        assert got == []  # the publisher did not wait for the coroutine
        await bus.drain()
        assert got == list(range(20))
        assert bus.errors == 20
        await bus.close()

    asyncio.run(scenario())


def test_unsubscribe_stops_delivery():
    bus = EventBus()
    got: list[int] = []
    sub = bus.subscribe(Base, lambda e: got.append(e.n))
    bus.publish(Base(1))
    bus.unsubscribe(sub)
    bus.publish(Base(2))
    assert got == [1]
