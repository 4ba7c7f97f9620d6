"""The status bar: LIVE/PAPER, broker connections, feed latency, market session, clock."""

from __future__ import annotations

from PySide6.QtWidgets import QLabel, QStatusBar, QWidget

from engine.models import ConnectionState, ConnectionStateChanged, Tick
from widgets.context import AppContext

_STATE_COLOURS = {
    ConnectionState.CONNECTED: "#2e7d32",
    ConnectionState.CONNECTING: "#f9a825",
    ConnectionState.RECONNECTING: "#f9a825",
    ConnectionState.DISCONNECTED: "#9e9e9e",
    ConnectionState.FAILED: "#c62828",
}


class TerminalStatusBar(QStatusBar):
    def __init__(self, ctx: AppContext, *, calendar: str = "", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.calendar_name = calendar
        self.mode = QLabel()
        self.brokers = QLabel()
        self.latency = QLabel("feed: -")
        self.session = QLabel("")
        self.clock = QLabel("")
        for w in (self.mode, self.brokers, self.latency, self.session, self.clock):
            w.setContentsMargins(6, 0, 6, 0)
            self.addPermanentWidget(w)
        self._last_tick_ns = 0
        self._refresh_count = 0
        ctx.bridge.connection.connect(self._on_connection)
        ctx.bridge.ticks.connect(self._on_ticks)
        ctx.bridge.refreshed.connect(self._on_refresh)
        self.update_mode()
        self.update_brokers()
        self.update_clock()

    def update_mode(self) -> None:
        if self.ctx.live:
            self.mode.setText("LIVE")
            self.mode.setStyleSheet("background:#c62828;color:white;font-weight:bold;padding:2px 8px;")
        else:
            self.mode.setText("PAPER")
            self.mode.setStyleSheet("background:#1565c0;color:white;font-weight:bold;padding:2px 8px;")

    def update_brokers(self) -> None:
        parts = []
        for name, broker in self.ctx.engine.brokers.items():
            colour = _STATE_COLOURS.get(broker.state, "#9e9e9e")
            parts.append(f"<span style='color:{colour}'>&#9679;</span> {name}: "
                         f"{broker.state.value.lower()}")
        self.brokers.setText("&nbsp;&nbsp;".join(parts) or "no broker")

    def _on_connection(self, event: ConnectionStateChanged) -> None:
        self.update_brokers()
        self.update_mode()
        if event.detail:
            self.showMessage(f"{event.broker}: {event.state.value.lower()} - {event.detail}", 10_000)

    def _on_ticks(self, ticks: list[Tick]) -> None:
        if ticks:
            self._last_tick_ns = ticks[-1].ts_ns

    def _on_refresh(self) -> None:
        self._refresh_count += 1
        if self._refresh_count % 5 == 0:  # text at a few Hz is plenty
            self.update_clock()

    def update_clock(self) -> None:
        now_ns = self.ctx.engine.clock.now_ns()
        now = self.ctx.engine.clock.now()
        if self._last_tick_ns:
            lag_ms = max(0.0, (now_ns - self._last_tick_ns) / 1e6)
            self.latency.setText(f"feed: {lag_ms:,.0f} ms")
        tz = None
        if self.calendar_name:
            try:
                from engine.calendars import market_status

                status = market_status(self.calendar_name, now_ns)
                tz = status.tz
                self.session.setText(status.summary())
            except Exception as exc:  # a calendar problem must never break the status bar
                self.session.setText(f"{self.calendar_name}: {exc}")
        shown = now.tz_convert(tz) if tz is not None else now
        self.clock.setText(shown.strftime("%Y-%m-%d %H:%M:%S %Z"))
