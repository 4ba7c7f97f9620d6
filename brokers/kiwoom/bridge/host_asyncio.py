"""The bridge on a plain asyncio loop, hosting the fake control (Linux, CI, demos).

``start_fake_bridge`` runs the bridge inside the caller's loop (fast tests);
``serve_fake`` is what ``python -m brokers.kiwoom.bridge --fake`` runs: it prints
the ready line and serves until shutdown or until its stdin closes (the
terminal that started it has gone).
"""

from __future__ import annotations

import asyncio
import logging
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from brokers.kiwoom import protocol as P
from brokers.kiwoom.bridge.control import ControlApi
from brokers.kiwoom.bridge.core import BridgeCore, BridgeLimits
from brokers.kiwoom.bridge.server import BridgeServer
from brokers.kiwoom.fake.control import FakeKiwoomControl
from brokers.kiwoom.fake.server import FakeKiwoomServer

log = logging.getLogger(__name__)


class AsyncioScheduler:
    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop

    def now(self) -> float:
        return self.loop.time()

    def call_later(self, delay: float, fn: Callable[[], None]) -> asyncio.TimerHandle:
        return self.loop.call_later(max(0.0, delay), fn)


@dataclass
class RunningBridge:
    port: int
    token: str
    core: BridgeCore
    control: FakeKiwoomControl
    venue: FakeKiwoomServer
    server: BridgeServer
    stopped: asyncio.Event

    async def close(self) -> None:
        await self.server.close()
        self.stopped.set()


async def start_fake_bridge(token: str, *, venue: FakeKiwoomServer | None = None,
                            state_path: str | Path | None = None,
                            fake_options: dict[str, Any] | None = None,
                            venue_options: dict[str, Any] | None = None,
                            limits: BridgeLimits | None = None, port: int = 0) -> RunningBridge:
    """Bridge + fake control + fake venue on the running loop, listening on loopback."""
    loop = asyncio.get_running_loop()
    scheduler = AsyncioScheduler(loop)
    venue = venue or FakeKiwoomServer(state_path=state_path, **(venue_options or {}))
    control = FakeKiwoomControl(scheduler, venue, **(fake_options or {}))
    stopped = asyncio.Event()
    core = BridgeCore(ControlApi(control), scheduler, control_kind="fake", limits=limits,
                      sim=control.sim, on_shutdown=stopped.set)
    server = BridgeServer(token, post=loop.call_soon, on_request=core.handle,
                          on_client=lambda up: core.client_connected() if up
                          else core.client_disconnected(), port=port)
    core.send = server.send
    bound = await server.start()
    return RunningBridge(bound, token, core, control, venue, server, stopped)


def _watch_stdin(loop: asyncio.AbstractEventLoop, stopped: asyncio.Event) -> None:
    """Stop when stdin reaches end of file: the process that started us is gone."""
    def wait() -> None:
        try:
            while sys.stdin.buffer.read(4096):
                pass
        except (OSError, ValueError):
            pass
        loop.call_soon_threadsafe(stopped.set)

    threading.Thread(target=wait, name="stdin-watch", daemon=True).start()


async def serve_fake(token: str, *, state_path: str | None, fake_options: dict[str, Any],
                     venue_options: dict[str, Any], limits: BridgeLimits | None = None,
                     watch_stdin: bool = True) -> int:
    import os

    bridge = await start_fake_bridge(token, state_path=state_path, fake_options=fake_options,
                                     venue_options=venue_options, limits=limits)
    print(P.ready_line(bridge.port, os.getpid()), flush=True)
    if watch_stdin:
        _watch_stdin(asyncio.get_running_loop(), bridge.stopped)
    await bridge.stopped.wait()
    await bridge.server.close()
    return 0
