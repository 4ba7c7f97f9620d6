"""The paper summary: this run's orders and fills, rejections from risk and from the venue."""

from __future__ import annotations

from decimal import Decimal

from engine.clock import SimulatedClock
from engine.execution.broker import OrderUpdate
from engine.execution.intents import OrderIntent
from engine.execution.journal import MemoryJournal
from engine.models import OrderStatus, OrderType, Side, Tick, krx_stock
from engine.risk.limits import RiskLimits
from engine.session_summary import FillCounter, trading_summary
from engine.strategy import StrategyRunner
from engine.trading import TradingEngine
from tests.engine.recording_broker import RecordingBroker


def buy(qty: int) -> OrderIntent:
    return OrderIntent("005930", Side.BUY, qty, OrderType.LIMIT, 70_000)


def test_the_summary_counts_this_runs_orders_and_both_kinds_of_rejection():
    clock = SimulatedClock(10**18)
    engine = TradingEngine.for_backtest(clock=clock, journal=MemoryJournal(),
                                        limits=RiskLimits(max_order_qty=100,
                                                          max_orders_per_second=100,
                                                          duplicate_window_seconds=0))
    engine.instruments.add(krx_stock("005930"))
    broker = RecordingBroker("paper", engine.bus, clock, auto_ack=False)
    engine.add_broker(broker)
    engine.open_account("paper", "KRW", Decimal(100_000_000))
    engine.bus.publish(Tick("005930", clock.now_ns(), 70_000.0, 1.0))
    earlier = engine.submit(buy(1)).order  # as if restored from an earlier run
    counter = FillCounter(engine)

    assert engine.submit(buy(1000)).rejection.code == "max_order_qty"  # risk says no
    for reason in ("insufficient cash: needs 700,000", "insufficient cash: needs 1,400,000"):
        order = engine.submit(buy(10)).order
        engine.bus.publish(OrderUpdate("paper", order.client_order_id, OrderStatus.REJECTED,
                                       clock.now_ns(), reason=reason))
    kept = engine.submit(buy(2)).order
    broker.fill(kept, 2, 70_000)

    summary = trading_summary(engine, StrategyRunner(engine), counter)
    assert summary["orders"] == {"total": 3, "REJECTED": 2, "FILLED": 1}
    assert summary["fills"] == 1
    assert summary["rejections"] == {"max_order_qty": 1}
    assert summary["venue_rejections"] == {"insufficient cash": 2}
    assert summary["restored"] == {"orders": 1}
    assert earlier.client_order_id in counter.orders_before
