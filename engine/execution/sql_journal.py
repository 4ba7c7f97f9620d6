"""The OMS journal in the database (SQLite by default, any SQLAlchemy URL).

Writes are staged in memory and written by ``flush()`` in one transaction:
the latest state of each order (upsert), one append-only ``order_events`` row
per change, fills, risk events and engine state. The OMS flushes before it
publishes anything, so what the GUI or a strategy has seen is on disk; when a
burst of reports is processed together the whole burst is one transaction
(group commit), which is what keeps thousands of fills a second journaled.

On SQLite the rows go through the driver's ``executemany`` with prepared SQL
on a connection the journal keeps for itself (taken from the pool once, so a
commit does not pay a pool checkout and reset): a fill costs a few
microseconds of SQL instead of the tens an ORM-style round trip would. On a
SQLite file that connection does no WAL checkpoints; ``WalCheckpointer`` runs
them on a background thread, so no order or fill commit waits for one.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import fields
from decimal import Decimal
from enum import Enum
from typing import Any

from sqlalchemy import select

from engine.execution.journal import Journal
from engine.execution.wal import WalCheckpointer
from engine.models import (
    Fill,
    Liquidity,
    Order,
    OrderSource,
    OrderStatus,
    OrderType,
    RiskEvent,
    Side,
    TimeInForce,
)
from engine.storage import Database
from engine.storage import schema as s

log = logging.getLogger(__name__)

_ORDER_COLS = [c.name for c in s.orders.columns]
_FILL_COLS = [c.name for c in s.fills.columns if c.name != "id"]
_EVENT_COLS = ["client_order_id", "ts_ns", "kind", "status", "payload"]
_RISK_COLS = ["ts_ns", "code", "severity", "message", "symbol", "broker", "client_order_id",
              "details"]


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, Enum):
        return value.value
    return value


def _json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=_plain)


_ORDER_FIELDS = tuple(f.name for f in fields(Order))


def order_row(order: Order) -> dict[str, Any]:
    # Not dataclasses.asdict: it deep-copies every field and was most of the
    # journal's cost per fill.
    return {name: _plain(getattr(order, name)) for name in _ORDER_FIELDS}


def _dec(value: Any) -> Decimal | None:
    return None if value is None else Decimal(str(value))


def order_from_row(row: Any) -> Order:
    m = row._mapping if hasattr(row, "_mapping") else row
    return Order(
        client_order_id=m["client_order_id"], broker=m["broker"], symbol=m["symbol"],
        side=Side(m["side"]), order_type=OrderType(m["order_type"]),
        quantity=Decimal(m["quantity"]), price=_dec(m["price"]),
        stop_price=_dec(m["stop_price"]), time_in_force=TimeInForce(m["time_in_force"]),
        status=OrderStatus(m["status"]), filled_qty=Decimal(m["filled_qty"]),
        avg_fill_price=_dec(m["avg_fill_price"]), broker_order_id=m["broker_order_id"] or "",
        source=OrderSource(m["source"]), strategy_id=m["strategy_id"] or "", tag=m["tag"] or "",
        reduce_only=bool(m["reduce_only"]), post_only=bool(m["post_only"]),
        created_ns=int(m["created_ns"]), updated_ns=int(m["updated_ns"]), reason=m["reason"] or "",
    )


def fill_from_row(row: Any) -> Fill:
    m = row._mapping
    return Fill(
        fill_id=m["fill_id"], client_order_id=m["client_order_id"], broker=m["broker"],
        symbol=m["symbol"], side=Side(m["side"]), quantity=Decimal(m["quantity"]),
        price=Decimal(m["price"]), ts_ns=int(m["ts_ns"]), commission=Decimal(m["commission"]),
        tax=Decimal(m["tax"]), liquidity=Liquidity(m["liquidity"]),
        broker_order_id=m["broker_order_id"] or "", fee_in_kind=Decimal(m["fee_in_kind"]),
    )


_ORDER_SQL = (f"INSERT INTO orders ({', '.join(_ORDER_COLS)}) "
              f"VALUES ({', '.join('?' * len(_ORDER_COLS))}) ON CONFLICT(client_order_id) DO UPDATE "
              f"SET {', '.join(f'{c}=excluded.{c}' for c in _ORDER_COLS[1:])}")
_EVENT_SQL = ("INSERT INTO order_events (client_order_id, ts_ns, kind, status, payload) "
              "VALUES (?, ?, ?, ?, ?)")
_FILL_SQL = f"INSERT INTO fills ({', '.join(_FILL_COLS)}) VALUES ({', '.join('?' * len(_FILL_COLS))})"
_RISK_SQL = (f"INSERT INTO risk_events ({', '.join(_RISK_COLS)}) "
             f"VALUES ({', '.join('?' * len(_RISK_COLS))})")
_STATE_SQL = ("INSERT INTO engine_state (key, value, updated_ns) VALUES (?, ?, ?) "
              "ON CONFLICT(key) DO UPDATE SET value=excluded.value, updated_ns=excluded.updated_ns")


def _write_sqlite(cur: Any, orders: list[dict[str, Any]], events: list[tuple[Any, ...]],
                  fills: list[tuple[Any, ...]], risk: list[tuple[Any, ...]],
                  state: dict[str, tuple[str, int]]) -> None:
    """One transaction on a DBAPI cursor or connection (autocommit mode: explicit BEGIN)."""
    cur.execute("BEGIN IMMEDIATE")
    try:
        if orders:
            cur.executemany(_ORDER_SQL, [tuple(o[c] for c in _ORDER_COLS) for o in orders])
        if events:
            cur.executemany(_EVENT_SQL, events)
        if fills:
            cur.executemany(_FILL_SQL, fills)
        if risk:
            cur.executemany(_RISK_SQL, risk)
        if state:
            cur.executemany(_STATE_SQL, [(k, v, t) for k, (v, t) in state.items()])
        cur.execute("COMMIT")
    except Exception:
        try:
            cur.execute("ROLLBACK")
        except Exception:
            log.exception("rollback failed")
        raise


class SqlJournal(Journal):
    def __init__(self, database: Database) -> None:
        self.db = database
        self._orders: dict[str, dict[str, Any]] = {}
        self._events: list[tuple[Any, ...]] = []
        self._fills: list[tuple[Any, ...]] = []
        self._risk: list[tuple[Any, ...]] = []
        self._state: dict[str, tuple[str, int]] = {}
        self._state_cache: dict[str, Any] = {}
        self._sqlite = database.engine.dialect.name == "sqlite"
        self.flushes = 0
        self._conn: Any = None  # the journal's own DBAPI connection (SQLite file only)
        self._checkpointer: WalCheckpointer | None = None
        if self._sqlite and database.path is not None:
            self._checkpointer = WalCheckpointer(database.path)

    # ---- staging ------------------------------------------------------------------
    def record_order(self, order: Order, kind: str) -> None:
        row = order_row(order)
        self._orders[order.client_order_id] = row
        self._events.append((order.client_order_id, order.updated_ns, kind,
                             order.status.value, _json(row)))

    def record_fill(self, fill: Fill) -> None:
        self._fills.append(tuple(_plain(getattr(fill, c)) for c in _FILL_COLS))

    def record_risk_event(self, event: RiskEvent) -> None:
        self._risk.append((event.ts_ns, event.code, event.severity, event.message, event.symbol,
                           event.broker, event.client_order_id, _json(event.details)))

    def save_state(self, key: str, value: Any) -> None:
        self._state[key] = (_json(value), time.time_ns())  # when it was written
        self._state_cache[key] = json.loads(_json(value))

    def load_state(self, key: str, default: Any = None) -> Any:
        if key in self._state_cache:
            return self._state_cache[key]
        with self.db.engine.connect() as conn:
            row = conn.execute(select(s.engine_state.c.value)
                               .where(s.engine_state.c.key == key)).first()
        value = default if row is None else row[0]
        if row is not None:
            self._state_cache[key] = value
        return value

    # ---- writing ----------------------------------------------------------------------
    def flush(self) -> None:
        if not (self._orders or self._events or self._fills or self._risk or self._state):
            return
        orders, events, fills = list(self._orders.values()), self._events, self._fills
        risk, state = self._risk, self._state
        # Whatever happens, the staged rows go: on failure nothing of them reached the
        # disk and the OMS has not applied them either (it flushes first), so retrying
        # them later would only repeat the failure.
        self._orders, self._events, self._fills, self._risk, self._state = {}, [], [], [], {}
        if self._sqlite:
            self._flush_sqlite(orders, events, fills, risk, state)
        else:
            self._flush_core(orders, events, fills, risk, state)
        self.flushes += 1

    def _flush_sqlite(self, orders: list[dict[str, Any]], events: list[tuple[Any, ...]],
                      fills: list[tuple[Any, ...]], risk: list[tuple[Any, ...]],
                      state: dict[str, tuple[str, int]]) -> None:
        if self._checkpointer is None:  # in-memory (or closed): a connection of the pool
            raw = self.db.engine.raw_connection()
            try:
                _write_sqlite(raw.cursor(), orders, events, fills, risk, state)
            finally:
                raw.close()
            return
        _write_sqlite(self._connection(), orders, events, fills, risk, state)
        self._checkpointer.poke()

    def _connection(self) -> Any:
        if self._conn is None:
            raw = self.db.engine.raw_connection()  # opened with the Database's pragmas
            conn = raw.driver_connection
            assert conn is not None
            raw.detach()  # ours now: never returned to the pool, closed by close()
            conn.execute("PRAGMA wal_autocheckpoint=0")  # WalCheckpointer does them
            self._conn = conn
        return self._conn

    def close(self) -> None:
        """Flush, checkpoint and close the journal's connection."""
        try:
            self.flush()
        finally:
            if self._checkpointer is not None:
                self._checkpointer.stop()
                self._checkpointer = None  # a flush after close() uses the pool, as before
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    def _flush_core(self, orders: list[dict[str, Any]], events: list[tuple[Any, ...]],
                    fills: list[tuple[Any, ...]], risk: list[tuple[Any, ...]],
                    state: dict[str, tuple[str, int]]) -> None:
        from engine.storage import upsert

        with self.db.begin() as conn:
            if orders:
                conn.execute(upsert(s.orders, conn.dialect, ["client_order_id"]), orders)
            if events:
                conn.execute(s.order_events.insert(),
                             [dict(zip(_EVENT_COLS, e, strict=True)) for e in events])
            if fills:
                conn.execute(s.fills.insert(), [dict(zip(_FILL_COLS, f, strict=True)) for f in fills])
            if risk:
                conn.execute(s.risk_events.insert(),
                             [dict(zip(_RISK_COLS, r, strict=True)) for r in risk])
            if state:
                conn.execute(upsert(s.engine_state, conn.dialect, ["key"]),
                             [{"key": k, "value": json.loads(v), "updated_ns": t}
                              for k, (v, t) in state.items()])

    # ---- reading ------------------------------------------------------------------------
    def load_orders(self) -> list[Order]:
        with self.db.engine.connect() as conn:
            return [order_from_row(r) for r in conn.execute(select(s.orders))]

    def load_fills(self) -> list[Fill]:
        with self.db.engine.connect() as conn:
            return [fill_from_row(r) for r in conn.execute(select(s.fills).order_by(s.fills.c.id))]

    def load_risk_events(self, limit: int = 1000) -> list[RiskEvent]:
        query = select(s.risk_events).order_by(s.risk_events.c.seq.desc()).limit(limit)
        with self.db.engine.connect() as conn:
            rows = list(conn.execute(query))
        return [RiskEvent(code=r.code, message=r.message, ts_ns=int(r.ts_ns), symbol=r.symbol,
                          broker=r.broker, client_order_id=r.client_order_id,
                          severity=r.severity, details=dict(r.details or {}))
                for r in reversed(rows)]

    def order_events(self, client_order_id: str) -> list[tuple[str, str]]:
        """(kind, status) of every journaled change of one order, in order."""
        query = (select(s.order_events.c.kind, s.order_events.c.status)
                 .where(s.order_events.c.client_order_id == client_order_id)
                 .order_by(s.order_events.c.seq))
        with self.db.engine.connect() as conn:
            return [(r.kind, r.status) for r in conn.execute(query)]
