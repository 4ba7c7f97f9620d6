"""Desktop notifications for fills, risk rejections and the kill switch.

Uses the system tray where the desktop has one; otherwise (and always, as a
record) the message goes to the window's status bar. Bursts are throttled:
at most one notification per kind per ``min_interval_s``, with a count.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable

import shiboken6
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import QStatusBar, QSystemTrayIcon, QWidget

from engine.models import FillEvent, RiskEvent
from engine.risk.kill_switch import KillSwitchState
from widgets.context import AppContext

SENT_KEPT = 200  # notifications remembered in ``Notifier.sent`` (a long session sends more)


class Notifier:
    def __init__(self, ctx: AppContext, status_bar: QStatusBar | None = None,
                 parent: QWidget | None = None, *, enabled: bool = True,
                 min_interval_s: float = 3.0, icon: QIcon | None = None) -> None:
        self.ctx = ctx
        self.status_bar = status_bar
        self.enabled = enabled
        self.min_interval_s = min_interval_s
        # (title, message): the last SENT_KEPT things users were told, newest last.
        self.sent: deque[tuple[str, str]] = deque(maxlen=SENT_KEPT)
        self._last: dict[str, float] = {}
        self._suppressed: dict[str, int] = {}
        self.tray: QSystemTrayIcon | None = None
        if enabled and QSystemTrayIcon.isSystemTrayAvailable():
            self.tray = QSystemTrayIcon(icon or QIcon(), parent)
            self.tray.show()
        ctx.bridge.fills.connect(self.on_fills)
        ctx.bridge.risk_events.connect(self.on_risk_events)
        ctx.bridge.kill_switch.connect(self.on_kill_switch)

    def on_fills(self, events: list[FillEvent]) -> None:
        for e in events[-3:]:
            f = e.fill
            self.notify("fill", "Fill", f"{f.side.value} {f.quantity} {f.symbol} @ {f.price}")

    def on_risk_events(self, events: list[RiskEvent]) -> None:
        for e in events:
            if e.details.get("kind") == "rejection":
                self.notify("rejection", "Order rejected", f"{e.symbol}: {e.message}")
            elif e.severity == "critical" and e.code != "kill_switch":
                self.notify("critical", "Risk alert", e.message)

    def on_kill_switch(self, state: KillSwitchState) -> None:
        if state.latched:
            self.notify("kill", "KILL SWITCH", f"Trading stopped by {state.by}: {state.reason}",
                        force=True)

    def notify(self, kind: str, title: str, message: str, force: bool = False,
               clock: Callable[[], float] = time.monotonic) -> bool:
        if not self.enabled:
            return False
        now = clock()
        if not force and now - self._last.get(kind, -1e9) < self.min_interval_s:
            self._suppressed[kind] = self._suppressed.get(kind, 0) + 1
            return False
        extra = self._suppressed.pop(kind, 0)
        if extra:
            message += f" (+{extra} more)"
        self._last[kind] = now
        self.sent.append((title, message))
        # The bridge outlives the window: a closed window's widgets are gone.
        if self.tray is not None and shiboken6.isValid(self.tray):
            self.tray.showMessage(title, message)
        if self.status_bar is not None and shiboken6.isValid(self.status_bar):
            self.status_bar.showMessage(f"{title}: {message}", 8_000)
        return True
