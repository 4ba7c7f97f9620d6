"""The order management system: order states, fills, positions, journal-first.

The OMS is the only consumer of brokers' raw execution reports (``OrderUpdate``
and ``Fill``). For each report it:

1. checks it against what it knows (the state machine, quantities, duplicates);
2. writes the change to the journal and commits;
3. updates the ledger;
4. and only then publishes ``OrderEvent`` / ``FillEvent`` / ``PositionEvent``.

A report that contradicts the OMS (unknown order, an illegal transition such as
a fill after a cancel, an overfill) is *quarantined*: stored as a ``RiskEvent``
with the full report, published, and not applied, so it cannot corrupt state.
The same fill delivered twice is recognised by ``(broker, fill_id)`` and
applied once. Differences with the venue's real positions are then the
reconciliation's job, which compares with the broker's own view.
"""

from __future__ import annotations

import dataclasses
import itertools
import logging
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from decimal import Decimal

from engine.bus import EventBus
from engine.clock import Clock
from engine.execution.broker import OrderUpdate
from engine.execution.journal import Journal
from engine.execution.state_machine import is_legal
from engine.instruments import InstrumentRegistry
from engine.models import (
    Fill,
    FillEvent,
    Instrument,
    Order,
    OrderEvent,
    OrderStatus,
    OrderType,
    RiskEvent,
    Side,
    TimeInForce,
)
from engine.models.events import PositionEvent
from engine.models.numbers import ZERO
from engine.models.orders import evolve
from engine.portfolio.ledger import Ledger

log = logging.getLogger(__name__)

S = OrderStatus
_FILL_STATES = frozenset({S.PARTIALLY_FILLED, S.FILLED})


class ClientOrderIds:
    """Client order ids unique for ever: a per-session stamp plus a counter.

    ``tt`` + base-36 session start (ns) + ``-`` + base-36 counter: at most 22
    characters of ``[0-9a-z-]``, inside every venue's limits (Binance: 36).
    Backtests pass a fixed ``session`` so runs are reproducible.
    """

    def __init__(self, prefix: str = "tt", session: str | None = None) -> None:
        self._stem = f"{prefix}{session if session is not None else _b36(time.time_ns())}-"
        self._counter = itertools.count(1)

    def next(self) -> str:
        return f"{self._stem}{_b36(next(self._counter))}"

    def observe(self, client_order_id: str) -> None:
        """Skip past an id restored from the journal, so new ids never collide."""
        if not client_order_id.startswith(self._stem):
            return
        try:
            used = int(client_order_id[len(self._stem):], 36)
        except ValueError:
            return
        upcoming = next(self._counter)
        self._counter = itertools.count(max(upcoming, used + 1))


def _b36(n: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while True:
        n, r = divmod(n, 36)
        out = digits[r] + out
        if n == 0:
            return out


class OrderManager:
    """Owns every order's state and the fills; see the module docstring."""

    def __init__(
        self,
        bus: EventBus,
        clock: Clock,
        journal: Journal,
        ledger: Ledger,
        instruments: InstrumentRegistry,
        *,
        ids: ClientOrderIds | None = None,
        subscribe: bool = True,
        on_missed_fill: Callable[[str], None] | None = None,
    ) -> None:
        self.bus = bus
        self.clock = clock
        self.journal = journal
        self.ledger = ledger
        self.instruments = instruments
        self.ids = ids or ClientOrderIds()
        self.on_missed_fill = on_missed_fill
        self._orders: dict[str, Order] = {}
        self._open: dict[str, Order] = {}
        self._by_broker_id: dict[tuple[str, str], str] = {}
        self._seen_fills: set[tuple[str, str]] = set()
        self.pending_cancels: set[str] = set()
        self.quarantined = 0
        self.journal_failures = 0
        self.on_journal_failure: Callable[[Exception], None] | None = None
        self._batch: list[object] | None = None
        if subscribe:
            bus.subscribe(OrderUpdate, self.on_update)
            bus.subscribe(Fill, self.on_fill)

    # ---- queries ------------------------------------------------------------
    def get(self, client_order_id: str) -> Order | None:
        return self._orders.get(client_order_id)

    def orders(self) -> list[Order]:
        return list(self._orders.values())

    def open_orders(self, broker: str | None = None, symbol: str | None = None) -> list[Order]:
        return [
            o
            for o in self._open.values()
            if (broker is None or o.broker == broker) and (symbol is None or o.symbol == symbol)
        ]

    @property
    def open_count(self) -> int:
        return len(self._open)

    # ---- our side: new orders, cancels --------------------------------------
    def create(
        self,
        *,
        broker: str,
        symbol: str,
        side: Side,
        order_type: OrderType,
        quantity: Decimal,
        price: Decimal | None = None,
        stop_price: Decimal | None = None,
        time_in_force: TimeInForce | None = None,
        **extra: object,
    ) -> Order:
        """Create an order and move it to SUBMITTED, journaled in one commit.

        Call this only for an order that passed pre-trade risk and is about to
        be handed to ``broker``; the caller sends it next.
        """
        now = self.clock.now_ns()
        order = Order(self.ids.next(), broker, symbol, side, order_type, quantity, price,
                      stop_price, TimeInForce.GTC if time_in_force is None else time_in_force,
                      created_ns=now, updated_ns=now, **extra)  # type: ignore[arg-type]
        self.journal.record_order(order, "new")
        submitted = evolve(order, status=S.SUBMITTED)
        self.journal.record_order(submitted, "submitted")
        self._commit()
        self._store(submitted)
        self._emit_order(order, None, now)
        self._emit_order(submitted, S.NEW, now)
        return submitted

    def reject_locally(self, client_order_id: str, reason: str) -> None:
        """The broker could not be reached: the order never left, mark it REJECTED."""
        order = self._orders.get(client_order_id)
        if order is None or order.status.is_terminal:
            return
        self._transition(order, S.REJECTED, reason=reason, kind="rejected_locally")

    def mark_cancel_requested(self, client_order_id: str) -> Order | None:
        order = self._open.get(client_order_id)
        if order is not None:
            self.pending_cancels.add(client_order_id)
        return order

    # ---- broker side: reports -----------------------------------------------
    def on_update(self, update: OrderUpdate) -> None:
        order = self._find(update.broker, update.client_order_id, update.broker_order_id)
        if order is None:
            self._quarantine("unknown_order", f"{update.broker} reported an order we never placed",
                             update, broker=update.broker)
            return
        # The venue's id arrives with the acknowledgement. On the common path it goes
        # into the transition's one new Order; every other path stores it first.
        boid = update.broker_order_id if update.broker_order_id and \
            not order.broker_order_id else ""
        if boid:
            self._by_broker_id[(order.broker, boid)] = order.client_order_id
        status = update.status
        if update.filled_qty is not None and update.filled_qty > order.filled_qty:
            order = self._keep_boid(order, boid)
            boid = ""
            self._missed_fill(order, update)
        if status in _FILL_STATES:
            # Fill states come from Fill records, which carry price and quantity;
            # a bare "filled" status only tells us a fill report may be missing.
            self._keep_boid(order, boid)
            return
        if status is S.ACCEPTED and order.status in _FILL_STATES:
            self._persist_silently(self._keep_boid(order, boid))
            return  # a late acknowledgement of an order that already traded
        if status is order.status and status is not S.ACCEPTED:
            self._keep_boid(order, boid)
            return  # a repeated report: nothing changes
        if not is_legal(order.status, status):
            order = self._keep_boid(order, boid)
            self._quarantine(
                "illegal_transition",
                f"order {order.client_order_id}: {order.status.value} -> {status.value} is not allowed",
                update, broker=order.broker, order=order,
            )
            return
        changes: dict[str, object] = {}
        if update.quantity is not None:
            if update.quantity < order.filled_qty:
                order = self._keep_boid(order, boid)
                self._quarantine("bad_amend", f"order {order.client_order_id}: amended quantity "
                                 f"{update.quantity} is below the filled {order.filled_qty}",
                                 update, broker=order.broker, order=order)
                return
            changes["quantity"] = update.quantity
        if update.price is not None:
            changes["price"] = update.price
        kind = "amended" if changes and status is S.ACCEPTED and order.status is S.ACCEPTED \
            else status.value.lower()
        if boid:
            changes["broker_order_id"] = boid
        self._transition(order, status, reason=update.reason, kind=kind, **changes)

    def _keep_boid(self, order: Order, boid: str) -> Order:
        """Store ``order`` with the venue's id ``boid`` (if any) without journaling it."""
        if not boid:
            return order
        order = evolve(order, broker_order_id=boid)
        self._orders[order.client_order_id] = order
        if order.client_order_id in self._open:
            self._open[order.client_order_id] = order
        return order

    def on_fill(self, fill: Fill) -> None:
        key = (fill.broker, fill.fill_id)
        if key in self._seen_fills:
            self._record_risk("duplicate_fill", f"fill {fill.fill_id} at {fill.broker} arrived again; "
                              "applied once", fill, severity="info", broker=fill.broker)
            return
        order = self._find(fill.broker, fill.client_order_id, fill.broker_order_id)
        if order is None:
            self._quarantine("unknown_order", f"fill {fill.fill_id} for an order we never placed",
                             fill, broker=fill.broker)
            return
        if order.status.is_terminal:
            self._quarantine("fill_after_terminal", f"fill {fill.fill_id} arrived for "
                             f"{order.status.value} order {order.client_order_id}",
                             fill, broker=fill.broker, order=order)
            return
        if fill.quantity <= 0 or fill.price <= 0:
            self._quarantine("bad_fill", f"fill {fill.fill_id} has quantity {fill.quantity} "
                             f"and price {fill.price}", fill, broker=fill.broker, order=order)
            return
        if fill.quantity > order.remaining_qty:
            self._quarantine("overfill", f"fill {fill.fill_id} of {fill.quantity} exceeds the "
                             f"{order.remaining_qty} left on order {order.client_order_id}",
                             fill, broker=fill.broker, order=order)
            return
        if fill.symbol != order.symbol or fill.side is not order.side:
            self._quarantine("fill_mismatch", f"fill {fill.fill_id} is {fill.side.value} "
                             f"{fill.symbol} but order {order.client_order_id} is "
                             f"{order.side.value} {order.symbol}", fill, broker=fill.broker,
                             order=order)
            return
        if fill.client_order_id != order.client_order_id:
            fill = dataclasses.replace(fill, client_order_id=order.client_order_id)
        self._apply_fill(order, fill)

    def _apply_fill(self, order: Order, fill: Fill) -> None:
        filled = order.filled_qty + fill.quantity
        previous_value = (order.avg_fill_price or ZERO) * order.filled_qty
        avg = (previous_value + fill.price * fill.quantity) / filled
        status = S.FILLED if filled == order.quantity else S.PARTIALLY_FILLED
        updated = evolve(
            order,
            status=status,
            filled_qty=filled,
            avg_fill_price=avg,
            broker_order_id=order.broker_order_id or fill.broker_order_id,
            updated_ns=fill.ts_ns,
        )
        self.journal.record_fill(fill)
        self.journal.record_order(updated, "fill")
        self._commit()
        self._seen_fills.add((fill.broker, fill.fill_id))
        self._store(updated)
        position = self.ledger.apply_fill(fill, self._instrument(fill.symbol))
        now = fill.ts_ns
        self._emit(FillEvent(fill, updated, now))
        self._emit_order(updated, order.status, now)
        self._emit(PositionEvent(position, now))

    # ---- journal first, then tell ----------------------------------------------
    def _commit(self) -> None:
        if self._batch is not None:
            return  # the batch commits once at its end (group commit)
        try:
            self.journal.flush()
        except Exception as exc:
            self._journal_failed(exc)
            raise

    def _emit_order(self, order: Order, previous: OrderStatus | None, ts_ns: int) -> None:
        # Built only for someone: a backtest has no OrderEvent subscriber, and four
        # per order were a measurable part of its order path.
        if self.bus.wants(OrderEvent):
            self._emit(OrderEvent(order, previous, ts_ns))

    def _emit(self, event: object) -> None:
        if self._batch is not None:
            self._batch.append(event)
        else:
            self.bus.publish(event)

    def _journal_failed(self, exc: Exception) -> None:
        self.journal_failures += 1
        log.critical("the journal could not be written: %s", exc)
        # Not journaled (the journal is what failed), but everyone must hear of it.
        self.bus.publish(RiskEvent(code="journal_failure", message=f"journal write failed: {exc}",
                                   ts_ns=self.clock.now_ns(), severity="critical"))
        if self.on_journal_failure is not None:
            self.on_journal_failure(exc)

    def apply_reports(self, reports: Iterable[object]) -> None:
        """Process a burst of broker reports with one journal commit (group commit).

        Events are published after that commit, in order. Live adapters that
        receive several reports at once (a websocket batch) should use this.
        """
        if self._batch is not None:
            raise RuntimeError("apply_reports is not reentrant")
        with self.group_commit():
            for report in reports:
                try:
                    if isinstance(report, Fill):
                        self.on_fill(report)
                    elif isinstance(report, OrderUpdate):
                        self.on_update(report)
                    else:
                        raise TypeError(f"not a broker report: {type(report).__name__}")
                except Exception:  # one bad report must not cost the others
                    log.exception("broker report %r could not be processed", report)

    @contextmanager
    def group_commit(self) -> Iterator[None]:
        """Everything the OMS applies inside the block is journaled in one commit at its end.

        Events are published after that commit, in order. Only for code that does
        not ``await`` inside the block (the kill switch sending cancels to a venue
        that confirms them synchronously); a block inside another joins it.
        """
        if self._batch is not None:
            yield
            return
        self._batch = []
        try:
            yield
        finally:
            events, self._batch = self._batch, None
            try:
                self.journal.flush()
            except Exception as exc:
                self._journal_failed(exc)
                raise
            for event in events:
                self.bus.publish(event)

    # ---- internals ----------------------------------------------------------
    def _transition(self, order: Order, status: OrderStatus, *, reason: str = "", kind: str,
                    **changes: object) -> None:
        updated = evolve(
            order, status=status, reason=reason or order.reason,
            updated_ns=self.clock.now_ns(), **changes,
        )
        self.journal.record_order(updated, kind)
        self._commit()
        self._store(updated)
        self._emit_order(updated, order.status, updated.updated_ns)

    def _persist_silently(self, order: Order) -> None:
        self.journal.record_order(order, "broker_id")
        self._commit()

    def _store(self, order: Order) -> None:
        cid = order.client_order_id
        self._orders[cid] = order
        if order.broker_order_id:
            self._by_broker_id[(order.broker, order.broker_order_id)] = cid
        if order.status.is_terminal:
            self._open.pop(cid, None)
            self.pending_cancels.discard(cid)
        else:
            self._open[cid] = order

    def _find(self, broker: str, client_order_id: str, broker_order_id: str) -> Order | None:
        order = self._orders.get(client_order_id) if client_order_id else None
        if order is None and broker_order_id:
            cid = self._by_broker_id.get((broker, broker_order_id))
            order = self._orders.get(cid) if cid else None
        if order is not None and order.broker != broker:
            return None
        return order

    def _instrument(self, symbol: str) -> Instrument:
        inst = self.instruments.find(symbol)
        if inst is None:
            raise KeyError(f"no instrument registered for {symbol!r}")
        return inst

    def _missed_fill(self, order: Order, update: OrderUpdate) -> None:
        self._record_risk(
            "missed_fill",
            f"{order.broker} reports {update.filled_qty} filled on {order.client_order_id}, "
            f"we have {order.filled_qty}: fetching fills",
            update, severity="warning", broker=order.broker, order=order,
        )
        if self.on_missed_fill is not None:
            self.on_missed_fill(order.broker)

    def _quarantine(self, code: str, message: str, report: object, *, broker: str = "",
                    order: Order | None = None) -> None:
        self.quarantined += 1
        log.warning("quarantined broker report (%s): %s", code, message)
        self._record_risk(code, message, report, severity="critical", broker=broker, order=order)

    def _record_risk(self, code: str, message: str, report: object, *, severity: str,
                     broker: str = "", order: Order | None = None) -> None:
        event = RiskEvent(
            code=code,
            message=message,
            ts_ns=self.clock.now_ns(),
            symbol=getattr(report, "symbol", "") or (order.symbol if order else ""),
            broker=broker,
            client_order_id=order.client_order_id if order else
            str(getattr(report, "client_order_id", "")),
            severity=severity,
            details={"report": _describe(report)},
        )
        self.journal.record_risk_event(event)
        self._commit()
        self._emit(event)

    # ---- restart ------------------------------------------------------------
    def rebuild(self) -> None:
        """Restore orders, fills and the ledger from the journal (call on start)."""
        for order in self.journal.load_orders():
            self._store(order)
            self.ids.observe(order.client_order_id)
        for fill in self.journal.load_fills():
            self._seen_fills.add((fill.broker, fill.fill_id))
            inst = self.instruments.find(fill.symbol)
            if inst is None:
                log.error("cannot rebuild fill %s: instrument %s unknown", fill.fill_id, fill.symbol)
                continue
            if not self.ledger.has_account(fill.broker):
                log.error("cannot rebuild fill %s: no ledger account %s", fill.fill_id, fill.broker)
                continue
            self.ledger.apply_fill(fill, inst)

    def seen_fill(self, broker: str, fill_id: str) -> bool:
        return (broker, fill_id) in self._seen_fills

    def replay_fills(self, fills: Iterable[Fill]) -> int:
        """Apply fills found at the broker (reconciliation); already-seen ones are skipped."""
        applied = 0
        for fill in fills:
            if (fill.broker, fill.fill_id) not in self._seen_fills:
                before = self.quarantined
                self.on_fill(fill)
                applied += self.quarantined == before
        return applied


def _describe(report: object) -> dict[str, object]:
    if dataclasses.is_dataclass(report) and not isinstance(report, type):
        return {f.name: _plain(getattr(report, f.name)) for f in dataclasses.fields(report)}
    return {"repr": repr(report)}


def _plain(value: object) -> object:
    if isinstance(value, Decimal):
        return str(value)
    if hasattr(value, "value") and not isinstance(value, (int, float, str)):
        return value.value
    return value
