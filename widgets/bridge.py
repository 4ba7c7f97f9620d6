"""Engine -> Qt: bus events become coalesced Qt signals at a bounded rate.

The engine publishes on its bus as fast as the market moves (thousands of
ticks a second); the widgets must not repaint that often. ``EngineBridge``
subscribes to the bus with plain functions that only remember what happened
(the latest book per symbol, the ticks and fills since the last flush, ...)
and a ``QTimer`` flushes that at ``rate_hz`` as one signal per kind. Safety
events (the kill switch, connection changes) are emitted at once, never held
back. Both run on the Qt main thread, which is also the asyncio loop's thread
under qasync, so no locks are needed.
"""

from __future__ import annotations

from collections import deque
from typing import Any

from PySide6.QtCore import QObject, QTimer, Signal

from engine.bus import EventBus
from engine.models import (
    Bar,
    BarUpdate,
    ConnectionStateChanged,
    FillEvent,
    OrderBook,
    OrderEvent,
    PositionEvent,
    RiskEvent,
    Tick,
)
from engine.risk.kill_switch import KillSwitchEvent
from engine.strategy.signals import Signal as StrategySignal
from engine.strategy.signals import StrategyStateChanged

MAX_TICKS_PER_FLUSH = 2_000


class EngineBridge(QObject):
    ticks = Signal(object)  # list[Tick] since the last flush (newest last, capped)
    books = Signal(object)  # dict[symbol, OrderBook]: the latest book of each symbol
    bars = Signal(object)  # list[Bar]: bars closed since the last flush
    forming = Signal(object)  # dict[(symbol, timeframe), Bar]: latest forming bar
    orders = Signal(object)  # list[Order]: orders that changed (latest version each)
    fills = Signal(object)  # list[FillEvent]
    positions = Signal(object)  # list[Position]: positions that changed
    risk_events = Signal(object)  # list[RiskEvent]
    strategy_states = Signal(object)  # list[StrategyStateChanged]
    strategy_signals = Signal(object)  # list[engine.strategy.Signal]
    refreshed = Signal()  # once per flush: panels that poll (account, risk) refresh now
    kill_switch = Signal(object)  # KillSwitchState, at once
    connection = Signal(object)  # ConnectionStateChanged, at once

    def __init__(self, bus: EventBus, rate_hz: float = 20.0, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.bus = bus
        self._ticks: deque[Tick] = deque(maxlen=MAX_TICKS_PER_FLUSH)
        self._books: dict[str, OrderBook] = {}
        self._bars: list[Bar] = []
        self._forming: dict[tuple[str, str], Bar] = {}
        self._orders: dict[str, Any] = {}
        self._fills: list[FillEvent] = []
        self._positions: dict[tuple[str, str], Any] = {}
        self._risk: list[RiskEvent] = []
        self._strategy_states: list[StrategyStateChanged] = []
        self._signals: list[StrategySignal] = []
        self.flushes = 0
        self._subs = [
            bus.subscribe(Tick, self._ticks.append),
            bus.subscribe(OrderBook, self._on_book),
            bus.subscribe(Bar, self._bars.append),
            bus.subscribe(BarUpdate, self._on_forming),
            bus.subscribe(OrderEvent, self._on_order),
            bus.subscribe(FillEvent, self._fills.append),
            bus.subscribe(PositionEvent, self._on_position),
            bus.subscribe(RiskEvent, self._risk.append),
            bus.subscribe(StrategyStateChanged, self._strategy_states.append),
            bus.subscribe(StrategySignal, self._signals.append),
            bus.subscribe(KillSwitchEvent, lambda e: self.kill_switch.emit(e.state)),
            bus.subscribe(ConnectionStateChanged, self.connection.emit),
        ]
        self._timer = QTimer(self)
        self._timer.timeout.connect(self.flush)
        self.set_rate(rate_hz)

    def set_rate(self, rate_hz: float) -> None:
        self._timer.start(max(1, int(1000 / max(rate_hz, 0.1))))

    def _on_book(self, book: OrderBook) -> None:
        self._books[book.symbol] = book

    def _on_forming(self, update: BarUpdate) -> None:
        self._forming[(update.bar.symbol, update.bar.timeframe)] = update.bar

    def _on_order(self, event: OrderEvent) -> None:
        self._orders[event.order.client_order_id] = event.order

    def _on_position(self, event: PositionEvent) -> None:
        self._positions[(event.position.broker, event.position.symbol)] = event.position

    def flush(self) -> None:
        """Emit everything gathered since the last flush (the timer calls this)."""
        self.flushes += 1
        if self._ticks:
            ticks = list(self._ticks)
            self._ticks.clear()
            self.ticks.emit(ticks)
        if self._books:
            books, self._books = self._books, {}
            self.books.emit(books)
        if self._bars:
            bars = list(self._bars)
            self._bars.clear()  # the bus holds this list's append: keep the object
            self.bars.emit(bars)
        if self._forming:
            forming, self._forming = self._forming, {}
            self.forming.emit(forming)
        if self._orders:
            orders, self._orders = self._orders, {}
            self.orders.emit(list(orders.values()))
        if self._fills:
            fills = list(self._fills)
            self._fills.clear()  # the bus holds this list's append: keep the object
            self.fills.emit(fills)
        if self._positions:
            positions, self._positions = self._positions, {}
            self.positions.emit(list(positions.values()))
        if self._risk:
            risk = list(self._risk)
            self._risk.clear()  # the bus holds this list's append: keep the object
            self.risk_events.emit(risk)
        if self._strategy_states:
            states = list(self._strategy_states)
            self._strategy_states.clear()  # the bus holds this list's append: keep the object
            self.strategy_states.emit(states)
        if self._signals:
            signals = list(self._signals)
            self._signals.clear()  # the bus holds this list's append: keep the object
            self.strategy_signals.emit(signals)
        self.refreshed.emit()

    def close(self) -> None:
        self._timer.stop()
        for sub in self._subs:
            self.bus.unsubscribe(sub)
