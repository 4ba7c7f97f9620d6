"""The bridge's state in the terminal's status bar: connecting, connected, a crash, back."""

from __future__ import annotations

import asyncio

from engine.execution.journal import MemoryJournal
from engine.models import ConnectionStateChanged
from engine.trading import TradingEngine
from tests.brokers.kiwoom.harness import Harness, until
from widgets.bridge import EngineBridge
from widgets.context import AppContext
from widgets.status_bar import TerminalStatusBar


def test_the_status_bar_follows_the_bridge(qtbot):
    h = Harness()
    engine = TradingEngine(clock=h.clock, journal=MemoryJournal(), bus=h.bus)
    engine.add_broker(h.broker)
    bar = TerminalStatusBar(AppContext(engine, EngineBridge(h.bus), runner=None))
    qtbot.addWidget(bar)
    seen: list[tuple[str, str]] = []
    # Subscribed after the status bar: what it shows once each change is handled.
    h.bus.subscribe(ConnectionStateChanged,
                    lambda e: seen.append((bar.brokers.text(), bar.currentMessage())))

    async def scenario():
        await h.broker.connect()
        starts = h.broker.supervisor.starts
        h.launcher.kill()  # the bridge dies
        await until(lambda: h.broker.supervisor.starts == starts + 1
                    and h.broker.supervisor.is_up, timeout=5, what="a new bridge")
        await asyncio.sleep(0.05)
        text = bar.brokers.text()
        await h.broker.disconnect()
        return text

    final = asyncio.run(asyncio.wait_for(scenario(), 20))
    states = [text.split("kiwoom: ")[1] for text, _ in seen]
    assert states[:2] == ["connecting", "connected"]
    assert "reconnecting" in states[2:]
    assert "kiwoom: connected" in final
    messages = " | ".join(message for _, message in seen)
    assert "mock server, account 8012345611" in messages
    assert "restarting the bridge" in messages
    assert states[-1] == "disconnected"
    assert bar.mode.text() == "PAPER"  # the mock server never shows LIVE
