"""The bridge's socket: loopback TCP, one authenticated client, newline JSON.

The server only moves bytes and checks the hello (token and protocol version);
everything else is the core's business. ``post(fn)`` hands work to the core's
thread: with the fake that is the same asyncio loop, on Windows the Qt thread.
``send(msg)`` must be called on the server's own loop; ``CrossThreadSender``
brings messages there from another thread.

Messages sent in one turn of the loop leave in one socket write: a burst of
quotes costs one system call, not one per quote, and waits for nothing but the
end of the turn it was raised in.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
from collections import deque
from collections.abc import Callable

from brokers.kiwoom import protocol as P

log = logging.getLogger(__name__)

# Above this many unsent bytes the client is not keeping up: real-time quotes are
# dropped (counted) rather than buffered without bound. Chejan is never dropped.
MAX_BUFFERED_BYTES = 16 * 1024 * 1024


class BridgeServer:
    def __init__(self, token: str, *, post: Callable[[Callable[[], None]], object],
                 on_request: Callable[[P.Message], None],
                 on_client: Callable[[bool], None],
                 host: str = "127.0.0.1", port: int = 0,
                 hello_timeout: float = P.HELLO_TIMEOUT_S) -> None:
        if not token:
            raise ValueError("the bridge needs a session token")
        self._token = token.encode()
        self._post = post
        self._on_request = on_request
        self._on_client = on_client
        self.host = host
        self.port = port
        self.hello_timeout = hello_timeout
        self._server: asyncio.AbstractServer | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._out: list[bytes] = []
        self._out_bytes = 0
        self._flush_armed = False
        self.dropped = 0
        self.rejected = 0
        self.writes = 0

    async def start(self) -> int:
        self._loop = asyncio.get_running_loop()
        self._server = await asyncio.start_server(self._serve, self.host, self.port,
                                                  limit=P.MAX_LINE_BYTES)
        self.port = self._server.sockets[0].getsockname()[1]
        return self.port

    async def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    def send(self, msg: P.Message) -> None:
        writer = self._writer
        if writer is None or writer.is_closing():
            return
        if msg.get("ev") == "real" and \
                writer.transport.get_write_buffer_size() + self._out_bytes > MAX_BUFFERED_BYTES:
            self.dropped += 1
            return
        data = P.encode(msg)
        self._out.append(data)
        self._out_bytes += len(data)
        if not self._flush_armed:
            self._flush_armed = True
            assert self._loop is not None
            self._loop.call_soon(self._flush, writer)

    def _flush(self, writer: asyncio.StreamWriter) -> None:
        self._flush_armed = False
        out, self._out, self._out_bytes = self._out, [], 0
        if not out or writer is not self._writer or writer.is_closing():
            return  # that client is gone; its messages go with it
        writer.write(out[0] if len(out) == 1 else b"".join(out))
        self.writes += 1

    async def _bye(self, writer: asyncio.StreamWriter, reason: str, msg: str) -> None:
        self.rejected += 1
        log.warning("client refused: %s", msg)
        try:
            writer.write(P.encode({"t": "bye", "reason": reason, "msg": msg}))
            await writer.drain()
        except OSError:
            pass
        writer.close()

    async def _hello(self, reader: asyncio.StreamReader,
                     writer: asyncio.StreamWriter) -> bool:
        try:
            line = await asyncio.wait_for(reader.readline(), self.hello_timeout)
            hello = P.decode(line)
        except (TimeoutError, P.ProtocolError, ValueError, OSError):
            await self._bye(writer, "hello", "no valid hello in time")
            return False
        token = str(hello.get("token", "")).encode()
        if hello.get("t") != "hello" or not hmac.compare_digest(token, self._token):
            await self._bye(writer, "bad_token", "wrong session token")
            return False
        if hello.get("v") != P.VERSION:
            await self._bye(writer, "version", f"bridge speaks protocol v{P.VERSION}, "
                            f"client v{hello.get('v')}: update the terminal and the bridge together")
            return False
        if self._writer is not None and not self._writer.is_closing():
            await self._bye(writer, "busy", "another terminal is connected to this bridge")
            return False
        return True

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if not await self._hello(reader, writer):
            return
        self._writer = writer
        self._out, self._out_bytes = [], 0
        self._post(lambda: self._on_client(True))
        try:
            while True:
                line = await reader.readline()
                if not line:
                    break
                try:
                    msg = P.decode(line)
                except P.ProtocolError as exc:
                    log.warning("unreadable message from the client: %s", exc)
                    continue
                if msg.get("t") == "req":
                    self._post(lambda m=msg: self._on_request(m))  # type: ignore[misc]
        except (ConnectionError, asyncio.IncompleteReadError, ValueError) as exc:
            log.info("client connection ended: %s", exc)
        finally:
            if self._writer is writer:
                self._writer = None
                self._post(lambda: self._on_client(False))
            writer.close()


class CrossThreadSender:
    """``send(msg)`` from another thread (the Qt thread on Windows) onto the server's loop.

    Messages queue in a deque and the loop is woken once per batch, not once per
    message (each wake-up is a write to the loop's self-pipe).
    """

    def __init__(self, loop: asyncio.AbstractEventLoop,
                 send: Callable[[P.Message], None]) -> None:
        self._loop = loop
        self._send = send
        self._queue: deque[P.Message] = deque()
        self._armed = False
        self.wakeups = 0

    def __call__(self, msg: P.Message) -> None:
        self._queue.append(msg)
        if not self._armed:
            self._armed = True
            self.wakeups += 1
            self._loop.call_soon_threadsafe(self._drain)

    def _drain(self) -> None:
        # Disarm before draining: a message queued from now on either is drained
        # here or arms a new wake-up; none is left behind.
        self._armed = False
        queue, send = self._queue, self._send
        while queue:
            send(queue.popleft())
