"""The engine->Qt bridge coalesces bursts and never delays safety events."""

from __future__ import annotations

from engine.bus import EventBus
from engine.clock import SimulatedClock
from engine.execution.journal import MemoryJournal
from engine.models import BookLevel, OrderBook, Tick
from engine.risk.kill_switch import KillSwitch
from widgets.bridge import MAX_TICKS_PER_FLUSH, EngineBridge


def test_a_burst_becomes_one_signal_per_kind(qtbot):
    bus = EventBus()
    bridge = EngineBridge(bus, rate_hz=1)  # the timer will not fire during the burst
    got: dict[str, list] = {"ticks": [], "books": [], "refreshed": []}
    bridge.ticks.connect(got["ticks"].append)
    bridge.books.connect(got["books"].append)
    bridge.refreshed.connect(lambda: got["refreshed"].append(1))
    for i in range(10_000):
        bus.publish(Tick("A", i, 100.0 + i % 7, 1.0))
        if i % 20 == 0:
            bus.publish(OrderBook("A", i, (BookLevel(99.0 + i, 1.0),), (BookLevel(101.0 + i, 1.0),)))
    bridge.flush()
    assert len(got["ticks"]) == 1 and len(got["ticks"][0]) == MAX_TICKS_PER_FLUSH
    assert got["ticks"][0][-1].ts_ns == 9_999  # the newest are kept
    assert len(got["books"]) == 1 and got["books"][0]["A"].ts_ns == 9_980
    bridge.flush()  # nothing new: no data signals, only the refresh tick
    assert len(got["ticks"]) == 1 and len(got["refreshed"]) == 2
    bridge.close()


def test_kill_switch_is_emitted_at_once(qtbot):
    bus = EventBus()
    bridge = EngineBridge(bus, rate_hz=1)
    states = []
    bridge.kill_switch.connect(states.append)
    KillSwitch(MemoryJournal(), SimulatedClock(5), bus).latch("test", "user", "button")
    assert states and states[0].latched and states[0].reason == "test"
    bridge.close()


def test_timer_flushes_at_the_configured_rate(qtbot):
    bus = EventBus()
    bridge = EngineBridge(bus, rate_hz=50)
    with qtbot.waitSignal(bridge.ticks, timeout=1000) as blocker:
        bus.publish(Tick("A", 1, 1.0, 1.0))
    assert blocker.args[0][0].price == 1.0
    bridge.close()
