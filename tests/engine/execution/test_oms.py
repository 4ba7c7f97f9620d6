"""OMS: legal transitions only, fills exactly once, journal before publication."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from engine.bus import EventBus
from engine.clock import SimulatedClock
from engine.execution.broker import OrderUpdate
from engine.execution.journal import MemoryJournal
from engine.execution.oms import ClientOrderIds, OrderManager
from engine.instruments import InstrumentRegistry
from engine.models import (
    Fill,
    FillEvent,
    OrderEvent,
    OrderStatus,
    OrderType,
    RiskEvent,
    Side,
    krx_stock,
)
from engine.portfolio import Ledger

D = Decimal
S = OrderStatus
INST = krx_stock("005930")


def make_oms(journal=None):
    bus = EventBus()
    clock = SimulatedClock(1_000)
    ledger = Ledger()
    ledger.open_account("paper", "KRW", D(100_000_000))
    journal = journal or MemoryJournal()
    oms = OrderManager(bus, clock, journal, ledger, InstrumentRegistry([INST]),
                       ids=ClientOrderIds(session="t"))
    return bus, oms, journal, ledger


def new_order(oms, qty=10, price=70_000, side=Side.BUY):
    return oms.create(broker="paper", symbol=INST.symbol, side=side, order_type=OrderType.LIMIT,
                      quantity=D(qty), price=D(price))


def fill_for(order, n, qty, price=70_000):
    return Fill(fill_id=f"F{n}", client_order_id=order.client_order_id, broker="paper",
                symbol=order.symbol, side=order.side, quantity=D(qty), price=D(price), ts_ns=2_000 + n,
                broker_order_id="B1")


def ack(order, status=S.ACCEPTED, **kw):
    return OrderUpdate(broker="paper", client_order_id=order.client_order_id, status=status,
                       ts_ns=1_500, broker_order_id="B1", **kw)


def test_full_lifecycle_partial_fills_average_price_and_position():
    bus, oms, journal, ledger = make_oms()
    events: list[object] = []
    bus.subscribe(object, events.append)
    order = new_order(oms)
    assert order.status is S.SUBMITTED and order.client_order_id == "ttt-1"
    bus.publish(ack(order))
    bus.publish(fill_for(order, 1, 4, 70_000))
    bus.publish(fill_for(order, 2, 6, 70_100))
    final = oms.get(order.client_order_id)
    assert final.status is S.FILLED and final.filled_qty == 10
    assert final.avg_fill_price == D(70_060)  # (4*70,000 + 6*70,100) / 10
    assert final.broker_order_id == "B1"
    assert ledger.position("paper", INST.symbol).quantity == 10
    statuses = [e.order.status for e in events if isinstance(e, OrderEvent)]
    assert statuses == [S.NEW, S.SUBMITTED, S.ACCEPTED, S.PARTIALLY_FILLED, S.FILLED]
    assert [e.fill.fill_id for e in events if isinstance(e, FillEvent)] == ["F1", "F2"]
    assert oms.open_orders() == []


def test_every_event_is_journaled_before_subscribers_hear_of_it():
    bus, oms, journal, _ = make_oms()
    checked: list[str] = []

    def check_order(e: OrderEvent) -> None:
        assert any(journaled == e.order for _, _, journaled in journal.order_events)
        checked.append(e.order.status.value)

    def check_fill(e: FillEvent) -> None:
        assert journal.fills[-1] == e.fill and journal.flushes > 0
        checked.append("fill")

    bus.subscribe(OrderEvent, check_order)
    bus.subscribe(FillEvent, check_fill)
    order = new_order(oms)
    bus.publish(ack(order))
    bus.publish(fill_for(order, 1, 10))
    assert checked[-2:] == ["fill", "FILLED"]
    assert bus.errors == 0


def test_same_fill_twice_is_applied_once():
    bus, oms, journal, ledger = make_oms()
    order = new_order(oms)
    bus.publish(fill_for(order, 1, 3))
    bus.publish(fill_for(order, 1, 3))
    assert oms.get(order.client_order_id).filled_qty == 3
    assert ledger.position("paper", INST.symbol).quantity == 3
    assert len(journal.fills) == 1
    assert [e.code for e in journal.risk_events] == ["duplicate_fill"]


@pytest.mark.parametrize(
    ("scenario", "code"),
    [("after_cancel", "fill_after_terminal"), ("overfill", "overfill"),
     ("unknown", "unknown_order"), ("mismatch", "fill_mismatch")],
)
def test_contradicting_fills_are_quarantined_and_change_nothing(scenario, code):
    bus, oms, journal, ledger = make_oms()
    risk: list[RiskEvent] = []
    bus.subscribe(RiskEvent, risk.append)
    order = new_order(oms)
    bus.publish(ack(order))
    bad = fill_for(order, 9, 5)
    if scenario == "after_cancel":
        bus.publish(ack(order, S.CANCELLED))
    elif scenario == "overfill":
        bad = fill_for(order, 9, 11)
    elif scenario == "unknown":
        bad = Fill(fill_id="X", client_order_id="nope", broker="paper", symbol=INST.symbol,
                   side=Side.BUY, quantity=D(1), price=D(1), ts_ns=1)
    else:
        bad = Fill(fill_id="X", client_order_id=order.client_order_id, broker="paper",
                   symbol=INST.symbol, side=Side.SELL, quantity=D(1), price=D(70_000), ts_ns=1)
    before = oms.get(order.client_order_id)
    bus.publish(bad)
    assert oms.get(order.client_order_id) == before
    assert ledger.position("paper", INST.symbol).quantity == 0
    assert journal.fills == []
    assert risk[-1].code == code and risk[-1].severity == "critical"
    assert journal.risk_events[-1].details["report"]["fill_id"] == bad.fill_id


def test_illegal_status_report_is_quarantined():
    bus, oms, journal, _ = make_oms()
    order = new_order(oms)
    bus.publish(ack(order, S.CANCELLED))
    bus.publish(ack(order, S.ACCEPTED))  # a cancelled order cannot come back
    bus.publish(ack(order, S.EXPIRED))
    assert oms.get(order.client_order_id).status is S.CANCELLED
    assert [e.code for e in journal.risk_events] == ["illegal_transition"] * 2


def test_late_acknowledgement_after_a_fill_is_harmless():
    bus, oms, journal, _ = make_oms()
    order = new_order(oms)
    bus.publish(fill_for(order, 1, 4))
    bus.publish(ack(order))
    assert oms.get(order.client_order_id).status is S.PARTIALLY_FILLED
    assert journal.risk_events == []


def test_reported_fill_quantity_ahead_of_ours_asks_for_missing_fills():
    asked: list[str] = []
    bus, oms, journal, _ = make_oms()
    oms.on_missed_fill = asked.append
    order = new_order(oms)
    bus.publish(ack(order, S.PARTIALLY_FILLED, filled_qty=D(5)))
    assert asked == ["paper"] and journal.risk_events[-1].code == "missed_fill"
    assert oms.get(order.client_order_id).filled_qty == 0  # only fills move quantities


def test_amend_changes_quantity_and_price():
    bus, oms, journal, _ = make_oms()
    order = new_order(oms)
    bus.publish(ack(order))
    bus.publish(ack(order, quantity=D(20), price=D(69_900)))
    amended = oms.get(order.client_order_id)
    assert (amended.quantity, amended.price, amended.status) == (20, 69_900, S.ACCEPTED)
    assert journal.order_events[-1][1] == "amended"


def test_rebuild_from_journal_restores_orders_fills_and_ledger():
    bus, oms, journal, ledger = make_oms()
    a = new_order(oms)
    b = new_order(oms, qty=5, price=69_000)
    bus.publish(ack(a))
    bus.publish(fill_for(a, 1, 10))
    bus.publish(ack(b))
    bus.publish(fill_for(b, 2, 2, 69_000))
    _, oms2, _, ledger2 = make_oms(journal)
    oms2.rebuild()
    assert {o.client_order_id for o in oms2.open_orders()} == {b.client_order_id}
    assert oms2.get(b.client_order_id).filled_qty == 2
    assert ledger2.position("paper", INST.symbol) == ledger.position("paper", INST.symbol)
    assert ledger2.account("paper") == ledger.account("paper")
    assert oms2.seen_fill("paper", "F1")
    # New ids never collide with the restored ones.
    assert new_order(oms2).client_order_id not in {a.client_order_id, b.client_order_id}


class OMSMachine(RuleBasedStateMachine):
    """Random reports, good and bad, never break the OMS's invariants."""

    def __init__(self) -> None:
        super().__init__()
        self.bus, self.oms, self.journal, self.ledger = make_oms()
        self.orders: list[str] = []
        self.applied: dict[str, Decimal] = {}
        self.terminal: dict[str, object] = {}
        self.fill_no = 0
        self.bus.subscribe(FillEvent, self._on_fill)

    def _on_fill(self, e: FillEvent) -> None:
        self.applied[e.order.client_order_id] = self.applied.get(e.order.client_order_id, D(0)) \
            + e.fill.quantity

    @rule(qty=st.integers(1, 20), side=st.sampled_from(Side))
    def place(self, qty, side):
        self.orders.append(new_order(self.oms, qty=qty, side=side).client_order_id)

    @precondition(lambda self: self.orders)
    @rule(i=st.integers(0, 1000), status=st.sampled_from(S))
    def status_report(self, i, status):
        cid = self.orders[i % len(self.orders)]
        self.bus.publish(OrderUpdate(broker="paper", client_order_id=cid, status=status, ts_ns=5))

    @precondition(lambda self: self.orders)
    @rule(i=st.integers(0, 1000), qty=st.integers(-2, 25), dup=st.booleans())
    def fill(self, i, qty, dup):
        order = self.oms.get(self.orders[i % len(self.orders)])
        if not dup:
            self.fill_no += 1
        self.bus.publish(fill_for(order, self.fill_no, qty))

    @invariant()
    def invariants(self):
        net = D(0)
        for cid in self.orders:
            order = self.oms.get(cid)
            assert D(0) <= order.filled_qty <= order.quantity
            assert order.filled_qty == self.applied.get(cid, D(0))
            if order.filled_qty == order.quantity:
                assert order.status is S.FILLED
            if cid in self.terminal:
                assert order == self.terminal[cid]
            if order.status.is_terminal:
                self.terminal[cid] = order
            net += order.filled_qty * order.side.sign
        assert self.ledger.position("paper", INST.symbol).quantity == net
        assert self.bus.errors == 0
        assert {o.client_order_id for o in self.oms.open_orders()} == {
            cid for cid in self.orders if self.oms.get(cid).status.is_open}


TestOMSMachine = OMSMachine.TestCase
TestOMSMachine.settings = settings(max_examples=60, stateful_step_count=40, deadline=None)


def test_a_burst_of_reports_is_one_commit_and_events_follow_it():
    bus, oms, journal, ledger = make_oms()
    orders = [new_order(oms, qty=2) for _ in range(5)]
    flushes = journal.flushes
    heard: list[object] = []
    bus.subscribe(FillEvent, lambda e: heard.append((journal.flushes, e.fill.fill_id)))
    reports = []
    for i, o in enumerate(orders):
        reports += [ack(o), fill_for(o, 2 * i, 1), fill_for(o, 2 * i + 1, 1)]
    reports.append("garbage")  # one bad report does not cost the others
    oms.apply_reports(reports)
    assert journal.flushes == flushes + 1
    assert [fid for _, fid in heard] == [f"F{i}" for i in range(10)]
    assert all(n == flushes + 1 for n, _ in heard)  # everyone heard after the commit
    assert all(oms.get(o.client_order_id).status is S.FILLED for o in orders)
    assert ledger.position("paper", INST.symbol).quantity == 10


class FailingJournal(MemoryJournal):
    def __init__(self):
        super().__init__()
        self.broken = False

    def flush(self):
        if self.broken:
            raise OSError("disk full")
        super().flush()


def test_journal_failure_applies_nothing_and_raises_the_alarm():
    journal = FailingJournal()
    bus, oms, _, ledger = make_oms(journal)
    alarms: list[RiskEvent] = []
    failures: list[Exception] = []
    bus.subscribe(RiskEvent, alarms.append)
    oms.on_journal_failure = failures.append
    order = new_order(oms)
    journal.broken = True
    bus.publish(fill_for(order, 1, 5))
    assert oms.get(order.client_order_id).filled_qty == 0  # nothing half-applied
    assert ledger.position("paper", INST.symbol).quantity == 0
    assert alarms[-1].code == "journal_failure" and "disk full" in str(failures[-1])


def test_evolve_equals_dataclasses_replace():
    import dataclasses

    from engine.models.orders import evolve

    _, oms, _, _ = make_oms()
    order = new_order(oms)
    changes = {"status": S.PARTIALLY_FILLED, "filled_qty": D(3), "avg_fill_price": D(70_000)}
    assert evolve(order, **changes) == dataclasses.replace(order, **changes)
    assert evolve(order) == order and evolve(order) is not order
    with pytest.raises(TypeError):
        evolve(order, colour="red")
