"""Starting, watching and restarting the bridge process (the terminal's side).

``BridgeSupervisor`` starts the bridge through a launcher, connects a
``BridgeClient``, pings it every few seconds, and when the bridge dies (or
stops answering, or its socket drops) starts a new one after a backoff that
doubles up to a cap (reset once a bridge has stayed up for a while). It tells
its owner through callbacks: ``on_state(state, detail)`` for the status bar,
``on_up(client)`` once a fresh bridge is connected (the adapter logs in and
reconciles there), ``on_down(reason)`` when it is gone.

Launchers:

* ``SubprocessLauncher``: the real thing, ``<python32> -m brokers.kiwoom.bridge``
  with the session token in the environment, stdout read for the ready line,
  stderr appended to ``<data dir>/logs/kiwoom-bridge.log``. Plain ``Popen`` and
  threads, so it works under any event loop (qasync included).
* ``InProcessLauncher``: the bridge and the fake control inside this loop (tests,
  demos): same socket, same protocol, no process.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import secrets
import subprocess
import sys
import threading
import time
from abc import ABC, abstractmethod
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from brokers.kiwoom import protocol as P
from brokers.kiwoom.client import BridgeClient, BridgeError

log = logging.getLogger(__name__)

# Runs the bridge package from the terminal's install without putting that folder
# ahead of the 32-bit interpreter's own site-packages (appended, not prepended).
_BOOT = ("import os, runpy, sys; sys.path.append(os.environ['KIWOOM_BRIDGE_ROOT']); "
         "runpy.run_module('brokers.kiwoom.bridge', run_name='__main__', alter_sys=True)")


class BridgeStartError(Exception):
    """The bridge process did not come up."""


@dataclass(frozen=True, slots=True)
class Endpoint:
    host: str
    port: int
    token: str
    pid: int


class BridgeLauncher(ABC):
    description = "bridge"

    @abstractmethod
    async def start(self) -> Endpoint:
        """Start a bridge and return where it listens (raises BridgeStartError)."""

    @abstractmethod
    async def wait(self) -> int | None:
        """Wait until the bridge has stopped; its exit code if it had one."""

    @abstractmethod
    async def stop(self) -> None:
        """Ask the bridge to stop, then make sure it has."""

    @abstractmethod
    def kill(self) -> None:
        """Stop it now (a hung bridge)."""

    @property
    def pid(self) -> int | None:
        return None


class SubprocessLauncher(BridgeLauncher):
    def __init__(self, python: str, *, fake: bool = False, fake_state: str | None = None,
                 fake_options: dict[str, Any] | None = None,
                 venue_options: dict[str, Any] | None = None,
                 limits: dict[str, Any] | None = None, log_path: Path | None = None,
                 ready_timeout: float = 60.0) -> None:
        self.python = python
        self.fake = fake
        self.fake_state = fake_state
        self.fake_options = fake_options or {}
        self.venue_options = venue_options or {}
        self.limits = limits
        self.log_path = log_path
        self.ready_timeout = ready_timeout
        self._proc: subprocess.Popen[bytes] | None = None
        self.description = f"{python} -m brokers.kiwoom.bridge{' --fake' if fake else ''}"

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    def _command(self) -> list[str]:
        cmd = [self.python, "-X", "utf8", "-c", _BOOT]
        if self.fake:
            cmd += ["--fake", "--fake-options", json.dumps(self.fake_options),
                    "--venue-options", json.dumps(self.venue_options)]
            if self.fake_state:
                cmd += ["--fake-state", self.fake_state]
        if self.limits:
            cmd += ["--limits", json.dumps(self.limits)]
        return cmd

    async def start(self) -> Endpoint:
        token = secrets.token_urlsafe(32)
        env = dict(os.environ)
        env[P.TOKEN_ENV] = token
        env["KIWOOM_BRIDGE_ROOT"] = str(Path(__file__).resolve().parents[2])
        env["PYTHONIOENCODING"] = "utf-8"
        stderr: Any = subprocess.DEVNULL
        if self.log_path is not None:
            self.log_path.parent.mkdir(parents=True, exist_ok=True)
            stderr = open(self.log_path, "ab")  # noqa: SIM115 - handed to the child
        flags = getattr(subprocess, "CREATE_NO_WINDOW", 0) if sys.platform == "win32" else 0
        try:
            self._proc = subprocess.Popen(self._command(), stdin=subprocess.PIPE,
                                          stdout=subprocess.PIPE, stderr=stderr, env=env,
                                          creationflags=flags)
        except OSError as exc:
            raise BridgeStartError(f"cannot run {self.python}: {exc}") from None
        finally:
            if stderr is not subprocess.DEVNULL:
                stderr.close()
        proc = self._proc
        assert proc.stdout is not None
        try:
            line = await asyncio.wait_for(asyncio.to_thread(proc.stdout.readline),
                                          self.ready_timeout)
        except TimeoutError:
            proc.kill()
            raise BridgeStartError(f"the bridge did not start within {self.ready_timeout:g} s "
                                   f"(see {self.log_path})") from None
        try:
            ready = json.loads(line)
            port = int(ready["port"])
        except (ValueError, KeyError, TypeError):
            code = await asyncio.to_thread(proc.wait)
            raise BridgeStartError(f"the bridge exited with code {code} before it was ready "
                                   f"(see {self.log_path})") from None
        if ready.get("v") != P.VERSION:
            proc.kill()
            raise BridgeStartError(f"the bridge speaks protocol v{ready.get('v')}, the "
                                   f"terminal v{P.VERSION}")
        # Nothing else should come on stdout; drain it anyway so the child never blocks.
        threading.Thread(target=lambda: proc.stdout.read() if proc.stdout else None,
                         name="kiwoom-bridge-stdout", daemon=True).start()
        return Endpoint("127.0.0.1", port, token, proc.pid)

    async def wait(self) -> int | None:
        proc = self._proc
        if proc is None:
            return None
        return await asyncio.to_thread(proc.wait)

    async def stop(self) -> None:
        proc = self._proc
        if proc is None or proc.poll() is not None:
            return
        try:
            if proc.stdin is not None:
                proc.stdin.close()  # the bridge exits when its stdin closes
        except OSError:
            pass
        try:
            await asyncio.wait_for(asyncio.to_thread(proc.wait), 5.0)
        except TimeoutError:
            proc.kill()
            await asyncio.to_thread(proc.wait)

    def kill(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            self._proc.kill()


class InProcessLauncher(BridgeLauncher):
    """The bridge with the fake control on this loop (tests and demos)."""

    description = "in-process fake bridge"

    def __init__(self, *, venue: Any = None, fake_options: dict[str, Any] | None = None,
                 limits: Any = None) -> None:
        self.venue = venue
        self.fake_options = fake_options or {}
        self.limits = limits
        self.bridge: Any = None

    async def start(self) -> Endpoint:
        from brokers.kiwoom.bridge.host_asyncio import start_fake_bridge
        from brokers.kiwoom.fake.server import FakeKiwoomServer

        if self.venue is None:
            self.venue = FakeKiwoomServer()
        token = secrets.token_urlsafe(16)
        self.bridge = await start_fake_bridge(token, venue=self.venue,
                                              fake_options=self.fake_options,
                                              limits=self.limits)
        return Endpoint("127.0.0.1", self.bridge.port, token, os.getpid())

    async def wait(self) -> int | None:
        if self.bridge is not None:
            await self.bridge.stopped.wait()
        return 0

    async def stop(self) -> None:
        if self.bridge is not None:
            self.venue.listeners.remove(self.bridge.control) \
                if self.bridge.control in self.venue.listeners else None
            await self.bridge.close()

    def kill(self) -> None:
        if self.bridge is not None:
            asyncio.get_running_loop().create_task(self.stop())


class FatalBridgeError(Exception):
    """Restarting would not help (e.g. a wrong password: retrying locks the account)."""


class BridgeSupervisor:
    def __init__(self, launcher: BridgeLauncher, *,
                 on_event: Callable[[P.Message], None],
                 on_up: Callable[[BridgeClient], Awaitable[None]],
                 on_down: Callable[[str], None],
                 on_state: Callable[[str, str], None],
                 backoff_initial: float = 1.0, backoff_max: float = 30.0,
                 health_interval: float = 5.0, health_timeout: float = 5.0,
                 max_restarts: int = 10, restart_window: float = 600.0,
                 stable_after: float = 60.0) -> None:
        self.launcher = launcher
        self.on_event = on_event
        self.on_up = on_up
        self.on_down = on_down
        self.on_state = on_state
        self.backoff_initial = backoff_initial
        self.backoff_max = backoff_max
        self.health_interval = health_interval
        self.health_timeout = health_timeout
        self.max_restarts = max_restarts
        self.restart_window = restart_window
        self.stable_after = stable_after
        self.client: BridgeClient | None = None
        self.state = "stopped"
        self.restarts = 0
        self.starts = 0
        self._restart_times: deque[float] = deque()
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self._first: asyncio.Future[None] | None = None
        self._up = asyncio.Event()

    # ---- control ---------------------------------------------------------------------
    async def start(self) -> None:
        """Start the bridge and return once it is up (or raise if it cannot come up)."""
        if self._task is not None and not self._task.done():
            return await self.wait_up()
        self._stopping = False
        self._first = asyncio.get_running_loop().create_future()
        self._task = asyncio.get_running_loop().create_task(self._run(), name="kiwoom-supervisor")
        await self.wait_up()

    async def wait_up(self) -> None:
        assert self._first is not None
        await asyncio.shield(self._first)

    async def stop(self) -> None:
        self._stopping = True
        client = self.client
        if client is not None and client.connected:
            try:
                await client.request("shutdown", timeout=2.0)
            except BridgeError:
                pass
        await self.launcher.stop()
        if client is not None:
            await client.close()
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except (asyncio.CancelledError, Exception):
                pass
        self._set("stopped", "")

    @property
    def is_up(self) -> bool:
        return self._up.is_set()

    def _set(self, state: str, detail: str) -> None:
        self.state = state
        try:
            self.on_state(state, detail)
        except Exception:
            log.exception("bridge state callback failed")

    def _settle_first(self, exc: BaseException | None) -> None:
        if self._first is not None and not self._first.done():
            if exc is None:
                self._first.set_result(None)
            else:
                self._first.set_exception(exc)

    # ---- the loop ----------------------------------------------------------------------
    async def _run(self) -> None:
        attempt = 0
        loop = asyncio.get_running_loop()
        while not self._stopping:
            started_at = loop.time()
            reason = await self._one_life(attempt)
            self._up.clear()
            if self._stopping:
                break
            if isinstance(reason, FatalBridgeError):
                self._set("failed", str(reason))
                self._settle_first(reason)
                return
            self.on_down(str(reason))
            if loop.time() - started_at >= self.stable_after:
                attempt = 0
            now = time.monotonic()
            self._restart_times.append(now)
            while self._restart_times and self._restart_times[0] < now - self.restart_window:
                self._restart_times.popleft()
            if len(self._restart_times) > self.max_restarts:
                failure = BridgeStartError(f"the Kiwoom bridge failed {len(self._restart_times)} "
                                           f"times in {self.restart_window:g} s; giving up "
                                           f"(last: {reason})")
                self._set("failed", str(failure))
                self._settle_first(failure)
                return
            delay = min(self.backoff_max, self.backoff_initial * 2 ** attempt)
            attempt += 1
            self.restarts += 1
            self._set("restarting", f"{reason}; restarting the bridge in {delay:.1f} s "
                      f"(attempt {attempt})")
            await asyncio.sleep(delay)

    async def _one_life(self, attempt: int) -> BaseException | str:
        """Start, connect and serve one bridge; return why it ended."""
        client: BridgeClient | None = None
        health: asyncio.Task[None] | None = None
        closed: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        exited: asyncio.Task[int | None] | None = None
        try:
            self._set("starting", f"starting {self.launcher.description}")
            endpoint = await self.launcher.start()
            self.starts += 1
            exited = asyncio.get_running_loop().create_task(self.launcher.wait())

            def on_closed(why: str) -> None:
                if not closed.done():
                    closed.set_result(why)

            client = BridgeClient(self.on_event, on_closed)
            await client.connect(endpoint.host, endpoint.port, endpoint.token)
            self.client = client
            await self.on_up(client)
            self._up.set()
            self._set("running", f"bridge pid {endpoint.pid}")
            self._settle_first(None)
            health = asyncio.get_running_loop().create_task(self._health(client))
            ends: set[asyncio.Future[Any]] = {exited, closed, health}  # three result types
            done, _ = await asyncio.wait(ends, return_when=asyncio.FIRST_COMPLETED)
            if exited in done:
                return f"the bridge exited (code {exited.result()})"
            if closed in done:
                self.launcher.kill()
                return f"the bridge connection was lost ({closed.result()})"
            self.launcher.kill()
            return "the bridge stopped answering pings; killed it"
        except FatalBridgeError as exc:
            await self.launcher.stop()
            return exc
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.warning("Kiwoom bridge start failed: %s", exc)
            self.launcher.kill()
            if attempt == 0 and self._first is not None and not self._first.done() \
                    and isinstance(exc, BridgeStartError):
                # A bridge that cannot even start (wrong python path) will not start on retry.
                return FatalBridgeError(str(exc))
            return f"{type(exc).__name__}: {exc}"
        finally:
            if health is not None:
                health.cancel()
            if client is not None:
                await client.close()
            if exited is not None and not exited.done():
                try:
                    await asyncio.wait_for(asyncio.shield(exited), 5.0)
                except TimeoutError:
                    self.launcher.kill()

    async def _health(self, client: BridgeClient) -> None:
        failures = 0
        while True:
            await asyncio.sleep(self.health_interval)
            try:
                await client.request("ping", timeout=self.health_timeout)
                failures = 0
            except BridgeError as exc:
                failures += 1
                log.warning("Kiwoom bridge ping failed (%d): %s", failures, exc)
                if failures >= 2 or not client.connected:
                    return
