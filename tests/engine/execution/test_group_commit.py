"""Group commit: one journal commit for a burst, events after it; the kill switch uses it."""

from __future__ import annotations

import asyncio
from decimal import Decimal

from engine.clock import SimulatedClock
from engine.execution import create_broker
from engine.execution.broker import OrderUpdate
from engine.execution.intents import OrderIntent
from engine.execution.journal import MemoryJournal
from engine.models import OrderEvent, OrderStatus, OrderType, Side, Tick, crypto_spot
from engine.risk.limits import RiskLimits
from engine.trading import TradingEngine
from tests.engine.recording_broker import RecordingBroker

S = OrderStatus
BTC = crypto_spot("BTC/USDT")


class CountingJournal(MemoryJournal):
    """Records, at each flush, how many order changes were staged since the last one."""

    def __init__(self) -> None:
        super().__init__()
        self.staged = 0
        self.batches: list[int] = []

    def record_order(self, order, kind):
        super().record_order(order, kind)
        self.staged += 1

    def flush(self):
        super().flush()
        if self.staged:
            self.batches.append(self.staged)
            self.staged = 0


def test_a_burst_is_one_commit_and_events_follow_it_in_order():
    journal = CountingJournal()
    engine = TradingEngine.for_backtest(clock=SimulatedClock(10**18), journal=journal)
    engine.instruments.add(BTC)
    broker = RecordingBroker("paper", engine.bus, engine.clock, auto_ack=False)
    engine.add_broker(broker)
    engine.open_account("paper", "USDT", Decimal(10**6))
    engine.bus.publish(Tick(BTC.symbol, engine.clock.now_ns(), 50_000.0, 1.0))
    orders = [engine.submit(OrderIntent(BTC.symbol, Side.BUY, Decimal("0.01"), OrderType.LIMIT,
                                        Decimal(49_000 + i))).order for i in range(3)]
    seen: list[tuple[str, S, int]] = []
    engine.bus.subscribe(OrderEvent, lambda e: seen.append(
        (e.order.client_order_id, e.order.status, len(journal.batches))))
    journal.batches.clear()
    with engine.oms.group_commit():
        for o in orders:
            engine.bus.publish(OrderUpdate("paper", o.client_order_id, S.ACCEPTED, 1))
        with engine.oms.group_commit():  # joins the outer block
            engine.bus.publish(OrderUpdate("paper", orders[0].client_order_id, S.CANCELLED, 2))
        assert seen == [] and journal.batches == []  # nothing told before the commit
    assert journal.batches == [4]
    assert seen == [(o.client_order_id, S.ACCEPTED, 1) for o in orders] + [
        (orders[0].client_order_id, S.CANCELLED, 1)]


def test_kill_cancels_paper_orders_within_the_call_in_one_commit():
    async def scenario() -> None:
        journal = CountingJournal()
        engine = TradingEngine(clock=SimulatedClock(10**18), journal=journal,
                               limits=RiskLimits(max_active_orders=100,
                                                 max_orders_per_second=100))
        engine.instruments.add(BTC)
        venue = create_broker("paper", name="paper", bus=engine.bus, clock=engine.clock,
                              instruments=[BTC], settings={"initial_cash": {"USDT": 10**6}})
        engine.add_broker(venue)
        await engine.connect_all()
        engine.open_account("paper", "USDT", Decimal(10**6))
        engine.bus.publish(Tick(BTC.symbol, engine.clock.now_ns(), 50_000.0, 1.0))
        ids = [engine.submit(OrderIntent(BTC.symbol, Side.BUY, Decimal("0.01"), OrderType.LIMIT,
                                         Decimal(49_000 + i))).order.client_order_id
               for i in range(20)]
        await engine.runner.wait_idle()
        assert {engine.oms.get(c).status for c in ids} == {S.ACCEPTED}
        journal.batches.clear()
        report = engine.kill("test")
        # Returned with every order confirmed cancelled, journaled together.
        assert report.cancels_sent == 20
        assert {engine.oms.get(c).status for c in ids} == {S.CANCELLED}
        assert journal.batches == [20] and venue.open_orders() == []
        assert engine.rearm() is None
        await engine.runner.wait_idle()

    asyncio.run(scenario())


def test_kill_still_completes_when_the_journal_fails_on_its_cancels():
    from tests.engine.execution.test_oms import FailingJournal

    journal = FailingJournal()
    engine = TradingEngine.for_backtest(clock=SimulatedClock(10**18), journal=journal,
                                        limits=RiskLimits(max_orders_per_second=100))
    engine.instruments.add(BTC)
    venue = create_broker("paper", name="paper", bus=engine.bus, clock=engine.clock,
                          instruments=[BTC], settings={"initial_cash": {"USDT": 10**6}})
    engine.add_broker(venue)
    engine.runner.spawn(venue.connect(), "connect")
    engine.open_account("paper", "USDT", Decimal(10**6))
    engine.bus.publish(Tick(BTC.symbol, engine.clock.now_ns(), 50_000.0, 1.0))
    for i in range(3):
        assert engine.submit(OrderIntent(BTC.symbol, Side.BUY, Decimal("0.01"), OrderType.LIMIT,
                                         Decimal(49_000 + i))).accepted
    journal.broken = True
    report = engine.kill("test")  # must not raise
    assert report.cancels_sent == 3 and engine.kill_switch.latched
    assert venue.open_orders() == []  # the venue got every cancel
