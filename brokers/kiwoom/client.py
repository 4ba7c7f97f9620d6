"""The terminal's end of the bridge socket: requests with ids and timeouts, events.

``BridgeClient.request(op, args, timeout)`` sends one request and waits for its
reply; a request the bridge holds back for a rate limit is told so
(``queued``) and its timeout is extended by the announced wait. Events are
handed to ``on_event`` in the order they arrived, synchronously in the reader,
so the adapter sees a reply and the chejan events after it in the bridge's
order. ``on_result`` callbacks run in the same place, before any later message.

Errors say whether the request reached the bridge: ``BridgeDisconnected.sent``
is False only when it certainly did not, which is what lets the adapter tell
the OMS "not sent" apart from "outcome unknown".
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from brokers.kiwoom import protocol as P

log = logging.getLogger(__name__)

EventHandler = Callable[[P.Message], None]
READ_CHUNK = 256 * 1024


class BridgeError(Exception):
    """The bridge answered with an error."""

    def __init__(self, message: str, *, code: int = 0, kind: str = "failed",
                 sent: bool = True) -> None:
        super().__init__(message)
        self.code = code
        self.kind = kind
        self.sent = sent


class BridgeDisconnected(BridgeError):
    """The connection to the bridge is gone (or never was)."""


class BridgeTimeout(BridgeError):
    """No reply in time; the request was sent, so its outcome is unknown."""


@dataclass(eq=False)
class _Pending:
    op: str
    future: asyncio.Future[dict[str, Any]]
    timeout: float
    timer: asyncio.TimerHandle | None
    on_result: Callable[[dict[str, Any]], None] | None
    on_queued: Callable[[float, int], None] | None
    waited: float = 0.0


class BridgeClient:
    def __init__(self, on_event: EventHandler, on_closed: Callable[[str], None] | None = None) -> None:
        self.on_event = on_event
        self.on_closed = on_closed
        self.welcome: P.Message = {}
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._task: asyncio.Task[None] | None = None
        self._pending: dict[int, _Pending] = {}
        self._ids = itertools.count(1)
        self.closed = True
        self.close_reason = ""
        self.queued_waits: list[float] = []

    @property
    def connected(self) -> bool:
        return not self.closed

    async def connect(self, host: str, port: int, token: str, timeout: float = 5.0) -> P.Message:
        """Open the socket and say hello; returns the bridge's welcome."""
        try:
            reader, writer = await asyncio.wait_for(
                asyncio.open_connection(host, port, limit=P.MAX_LINE_BYTES), timeout)
        except (OSError, TimeoutError) as exc:
            raise BridgeDisconnected(f"cannot reach the Kiwoom bridge at {host}:{port}: {exc}",
                                     sent=False) from None
        writer.write(P.encode({"t": "hello", "v": P.VERSION, "token": token,
                               "client": "trading-terminal"}))
        try:
            line = await asyncio.wait_for(reader.readline(), timeout)
            welcome = P.decode(line) if line else {"t": "bye", "msg": "closed"}
        except (OSError, TimeoutError, P.ProtocolError) as exc:
            writer.close()
            raise BridgeDisconnected(f"the Kiwoom bridge did not welcome us: {exc}",
                                     sent=False) from None
        if welcome.get("t") != "welcome":
            writer.close()
            raise BridgeDisconnected(f"the Kiwoom bridge refused us: {welcome.get('msg')}",
                                     kind=str(welcome.get("reason", "refused")), sent=False)
        self._reader, self._writer = reader, writer
        self.welcome = welcome
        self.closed = False
        self.close_reason = ""
        self._task = asyncio.get_running_loop().create_task(self._read(), name="kiwoom-bridge-read")
        return welcome

    async def request(self, op: str, args: dict[str, Any] | None = None, *,
                      timeout: float = 15.0,
                      on_result: Callable[[dict[str, Any]], None] | None = None,
                      on_queued: Callable[[float, int], None] | None = None) -> dict[str, Any]:
        """Send ``op`` and wait for its result (raises ``BridgeError`` subclasses)."""
        if self.closed or self._writer is None:
            raise BridgeDisconnected(f"the Kiwoom bridge is not connected ({self.close_reason or 'not started'})",
                                     sent=False)
        loop = asyncio.get_running_loop()
        req_id = next(self._ids)
        pending = _Pending(op, loop.create_future(), timeout, None, on_result, on_queued)
        pending.timer = loop.call_later(timeout, self._timed_out, req_id)
        self._pending[req_id] = pending
        try:
            self._writer.write(P.encode(P.request(req_id, op, args)))
        except (OSError, RuntimeError) as exc:
            self._forget(req_id)
            raise BridgeDisconnected(f"writing to the Kiwoom bridge failed: {exc}",
                                     sent=False) from None
        try:
            return await pending.future
        finally:
            self._forget(req_id)

    def _forget(self, req_id: int) -> None:
        pending = self._pending.pop(req_id, None)
        if pending is not None and pending.timer is not None:
            pending.timer.cancel()

    def _timed_out(self, req_id: int) -> None:
        pending = self._pending.pop(req_id, None)
        if pending is not None and not pending.future.done():
            pending.future.set_exception(BridgeTimeout(
                f"the Kiwoom bridge did not answer {pending.op} within {pending.timeout:g} s"
                + (f" (after {pending.waited:.1f} s queued)" if pending.waited else ""),
                kind="timeout"))

    async def close(self) -> None:
        writer = self._writer
        self._mark_closed("closed by the terminal")
        if writer is not None:
            writer.close()
            try:
                await writer.wait_closed()
            except (OSError, ConnectionError):
                pass
        if self._task is not None and self._task is not asyncio.current_task():
            self._task.cancel()
            try:
                await self._task
            except (asyncio.CancelledError, Exception):
                pass

    # ---- reading -------------------------------------------------------------------
    async def _read(self) -> None:
        assert self._reader is not None
        reader = self._reader
        lines = P.LineBuffer()
        decode, dispatch = P.decode, self._dispatch
        reason = "the bridge closed the connection"
        try:
            while True:
                # Whatever has arrived, up to READ_CHUNK: one await per burst of messages.
                chunk = await reader.read(READ_CHUNK)
                if not chunk:
                    break
                for line in lines.feed(chunk):
                    if not line:
                        continue
                    try:
                        msg = decode(line)
                    except P.ProtocolError as exc:
                        log.warning("unreadable message from the Kiwoom bridge: %s", exc)
                        continue
                    dispatch(msg)
                    if self.closed:
                        return
        except asyncio.CancelledError:
            reason = "closed by the terminal"
            raise
        except (ConnectionError, OSError, ValueError, P.ProtocolError) as exc:
            reason = f"connection to the bridge lost: {exc}"
        finally:
            self._mark_closed(reason)

    def _dispatch(self, msg: P.Message) -> None:
        kind = msg["t"]
        if kind == "evt":
            try:
                self.on_event(msg)
            except Exception:  # an event must never stop the reader
                log.exception("Kiwoom event %s could not be handled", msg.get("ev"))
        elif kind == "res":
            self._resolve(msg)
        elif kind == "queued":
            self._queued(msg)
        elif kind == "bye":
            log.warning("the Kiwoom bridge said bye: %s", msg.get("msg"))

    def _resolve(self, msg: P.Message) -> None:
        pending = self._pending.pop(msg.get("id", -1), None)
        if pending is None or pending.future.done():
            return
        if pending.timer is not None:
            pending.timer.cancel()
        if msg.get("ok"):
            result = msg.get("r") or {}
            if pending.on_result is not None:
                try:
                    pending.on_result(result)
                except Exception:
                    log.exception("on_result of %s failed", pending.op)
            pending.future.set_result(result)
        else:
            err = msg.get("e") or {}
            pending.future.set_exception(BridgeError(
                str(err.get("msg", "the bridge refused the request")),
                code=int(err.get("code", 0) or 0), kind=str(err.get("kind", "failed"))))

    def _queued(self, msg: P.Message) -> None:
        pending = self._pending.get(msg.get("id", -1))
        if pending is None:
            return
        wait = float(msg.get("wait", 0.0))
        self.queued_waits.append(wait)
        pending.waited += wait
        if pending.timer is not None:
            pending.timer.cancel()
        loop = asyncio.get_running_loop()
        pending.timer = loop.call_later(wait + pending.timeout, self._timed_out, msg["id"])
        if pending.on_queued is not None:
            try:
                pending.on_queued(wait, int(msg.get("ahead", 0)))
            except Exception:
                log.exception("on_queued of %s failed", pending.op)

    def _mark_closed(self, reason: str) -> None:
        if self.closed and self._writer is None:
            return
        was_open = not self.closed
        self.closed = True
        self.close_reason = reason
        self._writer = None
        for pending in list(self._pending.values()):
            if pending.timer is not None:
                pending.timer.cancel()
            if not pending.future.done():
                pending.future.set_exception(BridgeDisconnected(
                    f"{pending.op}: {reason}", kind="disconnected", sent=True))
        self._pending.clear()
        if was_open and self.on_closed is not None:
            try:
                self.on_closed(reason)
            except Exception:
                log.exception("on_closed handler failed")
