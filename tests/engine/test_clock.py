"""Clocks: simulated time fires timers in order; live timers run on the loop."""

from __future__ import annotations

import asyncio

import pytest

from engine.clock import LiveClock, SimulatedClock

S = 1_000_000_000


def test_simulated_clock_fires_timers_in_time_order_with_their_own_now():
    clock = SimulatedClock(start_ns=0)
    fired: list[tuple[str, int, int]] = []
    clock.every(60 * S, lambda ts: fired.append(("minute", ts, clock.now_ns())), name="minute")
    clock.call_at(90 * S, lambda ts: fired.append(("once", ts, clock.now_ns())))
    clock.advance_to(180 * S)
    assert fired == [
        ("minute", 60 * S, 60 * S),
        ("once", 90 * S, 90 * S),
        ("minute", 120 * S, 120 * S),
        ("minute", 180 * S, 180 * S),
    ]
    assert clock.now_ns() == 180 * S


def test_simulated_clock_refuses_to_go_backwards():
    clock = SimulatedClock(start_ns=10)
    with pytest.raises(ValueError, match="cannot go backwards"):
        clock.advance_to(5)


def test_cancelled_timer_does_not_fire_and_failing_timer_does_not_stop_others():
    clock = SimulatedClock()
    fired: list[int] = []
    t = clock.call_at(5, lambda ts: fired.append(-1))
    t.cancel()
    clock.call_at(6, lambda ts: 1 / 0)
    clock.call_at(7, fired.append)
    clock.advance_to(10)
    assert fired == [7]


def test_live_clock_runs_timers_on_the_loop():
    async def scenario() -> list[int]:
        clock = LiveClock()
        ticks: list[int] = []
        timer = clock.every(int(0.01 * S), ticks.append)
        once = asyncio.get_running_loop().create_future()
        clock.call_later(int(0.005 * S), lambda ts: once.set_result(ts))
        await once
        await asyncio.sleep(0.055)
        timer.cancel()
        return ticks

    ticks = asyncio.run(scenario())
    assert 3 <= len(ticks) <= 7
    assert ticks == sorted(ticks)
