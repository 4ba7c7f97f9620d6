"""The SQL journal: a real SQLite file; a restart rebuilds the same state."""

from __future__ import annotations

import sqlite3
from dataclasses import replace
from decimal import Decimal

import pytest

from engine.clock import SimulatedClock
from engine.execution.intents import OrderIntent
from engine.execution.sql_journal import SqlJournal
from engine.models import OrderType, RiskEvent, Side, Tick, krx_stock
from engine.storage import Database
from engine.trading import TradingEngine
from tests.engine.recording_broker import RecordingBroker

D = Decimal


def make_engine(path):
    db = Database(f"sqlite:///{path}")
    clock = SimulatedClock(10**18)
    engine = TradingEngine.for_backtest(clock=clock, journal=SqlJournal(db))
    engine.instruments.add(krx_stock("005930"))
    broker = RecordingBroker("paper", engine.bus, clock)
    engine.add_broker(broker)
    engine.restore()
    engine.open_account("paper", "KRW", D(50_000_000))
    engine.bus.publish(Tick("005930", clock.now_ns(), 70_000.0, 1.0))
    return engine, broker, db


def test_orders_fills_state_and_latch_survive_a_restart(tmp_path):
    path = tmp_path / "journal.sqlite3"
    engine, broker, db = make_engine(path)
    filled = engine.submit(OrderIntent("005930", Side.BUY, 10, OrderType.LIMIT, 70_000)).order
    broker.fill(filled, 4, 70_000)
    broker.fill(filled, 6, 69_900)
    working = engine.submit(OrderIntent("005930", Side.BUY, 3, OrderType.LIMIT, 69_000)).order
    engine.submit(OrderIntent("005930", Side.BUY, 0, OrderType.LIMIT, 69_000))  # a rejection
    engine.journal.save_state("strategy:x", {"fills": 2, "note": "한글"})
    before_pos = engine.ledger.position("paper", "005930")
    before_acct = engine.ledger.account("paper")
    engine.kill("restart test")
    db.close()

    again, _, db2 = make_engine(path)
    restored = again.ledger.position("paper", "005930")
    assert replace(restored, last_price=None) == replace(before_pos, last_price=None)
    assert again.ledger.account("paper").cash == before_acct.cash
    assert again.oms.get(filled.client_order_id).filled_qty == 10
    assert again.oms.get(filled.client_order_id).avg_fill_price == D("69940")
    assert again.oms.get(working.client_order_id) is not None
    assert again.kill_switch.latched and again.kill_switch.state.reason == "restart test"
    assert again.journal.load_state("strategy:x") == {"fills": 2, "note": "한글"}
    codes = [e.code for e in again.journal.load_risk_events()]
    assert "invalid_quantity" in codes and "kill_switch" in codes
    kinds = again.journal.order_events(filled.client_order_id)
    assert kinds == [("new", "NEW"), ("submitted", "SUBMITTED"), ("accepted", "ACCEPTED"),
                     ("fill", "PARTIALLY_FILLED"), ("fill", "FILLED")]
    db2.close()


def test_a_fill_is_on_disk_before_anyone_hears_of_it(tmp_path):
    from engine.models import FillEvent
    from engine.storage import schema

    engine, broker, db = make_engine(tmp_path / "j.sqlite3")
    seen: list[int] = []

    def check(event: FillEvent) -> None:
        other = Database(f"sqlite:///{tmp_path / 'j.sqlite3'}", migrate=False)
        with other.engine.connect() as conn:
            count = conn.execute(schema.fills.select()).fetchall()
        seen.append(len(count))
        other.close()

    engine.bus.subscribe(FillEvent, check)
    order = engine.submit(OrderIntent("005930", Side.BUY, 2, OrderType.LIMIT, 70_000)).order
    broker.fill(order, 1, 70_000)
    broker.fill(order, 1, 70_000)
    assert seen == [1, 2]  # a separate connection already sees each fill
    db.close()


def test_duplicate_fill_ids_cannot_be_written_twice(tmp_path):
    engine, broker, db = make_engine(tmp_path / "j.sqlite3")
    from engine.models import Fill

    fill = Fill("dup", "x", "paper", "005930", Side.BUY, D(1), D(1), 1)
    engine.journal.record_fill(fill)
    engine.journal.flush()
    engine.journal.record_fill(fill)
    with pytest.raises(sqlite3.IntegrityError):
        engine.journal.flush()
    engine.journal.record_risk_event(RiskEvent("x", "after a failed flush", 1))
    engine.journal.flush()  # the journal keeps working
    assert [f.fill_id for f in engine.journal.load_fills()] == ["dup"]
    db.close()
