"""The OMS journal: every order, state change, fill and risk event, durably.

The OMS writes to the journal and calls ``flush()`` (the commit) before it
tells anyone about a change, so a crash can lose an unacknowledged report but
never an acknowledged one. On start the OMS rebuilds open orders, positions
and the ledger from ``load_orders()`` / ``load_fills()`` / the saved state.

Two implementations: ``MemoryJournal`` (backtests, tests) and ``SqlJournal``
(engine.storage, SQLite or PostgreSQL) in ``engine/execution/sql_journal.py``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

from engine.models import Fill, Order, RiskEvent


class Journal(ABC):
    @abstractmethod
    def record_order(self, order: Order, kind: str) -> None:
        """Upsert ``order`` and append a state-change event of ``kind``."""

    @abstractmethod
    def record_fill(self, fill: Fill) -> None: ...

    @abstractmethod
    def record_risk_event(self, event: RiskEvent) -> None: ...

    @abstractmethod
    def save_state(self, key: str, value: Any) -> None:
        """Persist a small JSON-able value (kill-switch latch, opening cash, ...)."""

    @abstractmethod
    def load_state(self, key: str, default: Any = None) -> Any: ...

    @abstractmethod
    def flush(self) -> None:
        """Make everything recorded so far durable (commit)."""

    @abstractmethod
    def load_orders(self) -> list[Order]: ...

    @abstractmethod
    def load_fills(self) -> list[Fill]:
        """All fills in the order they were journaled."""

    def load_risk_events(self, limit: int = 1000) -> list[RiskEvent]:
        return []

    def close(self) -> None:
        """Release resources (flushes first)."""
        self.flush()


class MemoryJournal(Journal):
    """Keeps everything in lists; ``flush`` is free. For backtests and tests."""

    def __init__(self, *, keep_events: bool = True) -> None:
        self.orders: dict[str, Order] = {}
        self.order_events: list[tuple[str, str, Order]] = []
        self.fills: list[Fill] = []
        self.risk_events: list[RiskEvent] = []
        self.state: dict[str, Any] = {}
        self.flushes = 0
        self._keep_events = keep_events

    def record_order(self, order: Order, kind: str) -> None:
        self.orders[order.client_order_id] = order
        if self._keep_events:
            self.order_events.append((order.client_order_id, kind, order))

    def record_fill(self, fill: Fill) -> None:
        self.fills.append(fill)

    def record_risk_event(self, event: RiskEvent) -> None:
        self.risk_events.append(event)

    def save_state(self, key: str, value: Any) -> None:
        self.state[key] = value

    def load_state(self, key: str, default: Any = None) -> Any:
        return self.state.get(key, default)

    def flush(self) -> None:
        self.flushes += 1

    def load_orders(self) -> list[Order]:
        return list(self.orders.values())

    def load_fills(self) -> list[Fill]:
        return list(self.fills)

    def load_risk_events(self, limit: int = 1000) -> list[RiskEvent]:
        return self.risk_events[-limit:]
