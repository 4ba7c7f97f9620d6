"""The bridge on Windows: PyQt5's QAxWidget hosting the real OpenAPI+ control.

The control is a single-threaded COM object: every call and every event happens
on the Qt thread, which runs ``BridgeCore``. The socket runs on its own thread
with an asyncio loop; requests cross to the Qt thread through a queued signal
and replies cross back with ``call_soon_threadsafe``. Nothing on the Qt thread
ever waits, so Kiwoom's events keep flowing.

PyQt5 (and pykiwoom, when installed, for its TR metadata parser) are imported
inside ``run_ocx_bridge`` only: this module imports on any platform.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

from brokers.kiwoom import protocol as P
from brokers.kiwoom.bridge.control import ControlApi
from brokers.kiwoom.bridge.core import BridgeCore, BridgeLimits
from brokers.kiwoom.bridge.server import BridgeServer, CrossThreadSender

log = logging.getLogger(__name__)

PROG_ID = "KHOPENAPI.KHOpenAPICtrl.1"


def _tr_metadata() -> Callable[[str], dict[str, Any] | None] | None:
    """pykiwoom's reader of the control's TR files (C:/OpenAPI/data/*.enc), if present."""
    try:
        from pykiwoom import parser
    except Exception:
        return None
    cache: dict[str, dict[str, Any] | None] = {}

    def info(trcode: str) -> dict[str, Any] | None:
        if trcode not in cache:
            try:
                cache[trcode] = parser.parse_dat(trcode, parser.read_enc(trcode.lower()))
            except Exception:  # a TR without a file (orders) or another install path
                cache[trcode] = None
        return cache[trcode]

    return info


class _IoThread(threading.Thread):
    """The socket server on an asyncio loop of its own."""

    def __init__(self, token: str, post: Callable[[Callable[[], None]], None],
                 on_request: Callable[[P.Message], None],
                 on_client: Callable[[bool], None]) -> None:
        super().__init__(name="bridge-io", daemon=True)
        self.loop = asyncio.new_event_loop()
        self.server = BridgeServer(token, post=post, on_request=on_request, on_client=on_client)
        self.send = CrossThreadSender(self.loop, self.server.send)
        self.ready = threading.Event()
        self.error: BaseException | None = None

    def run(self) -> None:
        asyncio.set_event_loop(self.loop)
        try:
            self.loop.run_until_complete(self.server.start())
        except BaseException as exc:  # reported by the main thread
            self.error = exc
            self.ready.set()
            return
        self.ready.set()
        self.loop.run_forever()


def run_ocx_bridge(token: str, *, limits: BridgeLimits | None = None) -> int:
    from PyQt5.QAxContainer import QAxWidget
    from PyQt5.QtCore import QObject, Qt, QTimer, pyqtSignal
    from PyQt5.QtWidgets import QApplication

    app = QApplication(sys.argv[:1])
    app.setQuitOnLastWindowClosed(False)
    ocx = QAxWidget(PROG_ID)
    if ocx.isNull():
        print(f"Kiwoom OpenAPI+ ({PROG_ID}) is not installed or not registered for this "
              "(32-bit) Python", file=sys.stderr, flush=True)
        return 3

    class Poster(QObject):
        posted = pyqtSignal(object)

    poster = Poster()
    poster.posted.connect(lambda fn: fn(), Qt.QueuedConnection)

    class QtScheduler:
        def __init__(self) -> None:
            self._timers: set[Any] = set()

        def now(self) -> float:
            return time.monotonic()

        def call_later(self, delay: float, fn: Callable[[], None]) -> Any:
            timer = QTimer()
            timer.setSingleShot(True)
            self._timers.add(timer)

            def fire() -> None:
                self._timers.discard(timer)
                fn()

            timer.timeout.connect(fire)
            timer.start(max(0, int(delay * 1000)))

            class Handle:
                def cancel(self_inner) -> None:  # noqa: N805
                    timer.stop()
                    self._timers.discard(timer)

            return Handle()

    core_box: list[BridgeCore] = []
    io = _IoThread(token, post=poster.posted.emit,
                   on_request=lambda msg: core_box[0].handle(msg),
                   on_client=lambda up: core_box[0].client_connected() if up
                   else core_box[0].client_disconnected())
    core = BridgeCore(ControlApi(ocx), QtScheduler(), control_kind="ocx", limits=limits,
                      tr_info=_tr_metadata(), on_shutdown=app.quit)
    core.send = io.send
    core_box.append(core)
    io.start()
    io.ready.wait(10)
    if io.error is not None or not io.server.port:
        print(f"the bridge could not listen on 127.0.0.1: {io.error}", file=sys.stderr,
              flush=True)
        return 4
    print(P.ready_line(io.server.port, os.getpid()), flush=True)

    def watch_stdin() -> None:
        try:
            while sys.stdin.buffer.read(4096):
                pass
        except (OSError, ValueError):
            pass
        poster.posted.emit(app.quit)

    threading.Thread(target=watch_stdin, name="stdin-watch", daemon=True).start()
    return int(app.exec_())
