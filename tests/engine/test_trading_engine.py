"""TradingEngine: one risk layer for every source, and a kill switch that stops everything."""

from __future__ import annotations

from decimal import Decimal

from engine.clock import SimulatedClock
from engine.execution.broker import OrderUpdate
from engine.execution.intents import OrderIntent
from engine.execution.journal import MemoryJournal
from engine.models import (
    ConnectionState,
    OrderSource,
    OrderStatus,
    OrderType,
    RiskEvent,
    Side,
    Tick,
    krx_stock,
)
from engine.risk.kill_switch import KillSwitchEvent
from engine.risk.limits import RiskLimits
from engine.trading import TradingEngine
from tests.engine.recording_broker import RecordingBroker

D = Decimal
S = OrderStatus
SAMSUNG = krx_stock("005930")


def make_engine(journal=None, **limits):
    clock = SimulatedClock(10**18)
    engine = TradingEngine.for_backtest(clock=clock, journal=journal or MemoryJournal(),
                                        limits=RiskLimits(**limits))
    engine.instruments.add(SAMSUNG)
    broker = RecordingBroker("paper", engine.bus, clock)
    engine.add_broker(broker)
    engine.open_account("paper", "KRW", D(100_000_000))
    engine.bus.publish(Tick("005930", clock.now_ns(), 70_000.0, 10.0))
    return engine, broker, clock


def buy(qty=10, price=70_000, **kw):
    return OrderIntent("005930", Side.BUY, qty, OrderType.LIMIT, price, **kw)


def test_accepted_order_reaches_the_broker_and_the_oms():
    engine, broker, _ = make_engine()
    result = engine.submit(buy())
    assert result.accepted
    assert [o.client_order_id for o in broker.placed] == [result.order.client_order_id]
    assert engine.oms.get(result.order.client_order_id).status is S.ACCEPTED


def test_rejections_never_reach_the_broker_and_are_stored_with_a_reason():
    engine, broker, _ = make_engine()
    events: list[RiskEvent] = []
    engine.bus.subscribe(RiskEvent, events.append)
    bad = [
        (buy(qty=float("nan")), "invalid_quantity"),
        (buy(qty=0), "invalid_quantity"),
        (buy(qty=-3), "invalid_quantity"),
        (buy(price=70_010), "off_tick"),
        (OrderIntent("999999", Side.BUY, 1, OrderType.LIMIT, 1_000), "unknown_symbol"),
        (OrderIntent("005930", Side.SELL, 1, OrderType.LIMIT, 70_000), "short_not_allowed"),
        (buy(price=80_000), "price_band"),
        (OrderIntent("005930", "HOLD", 1, OrderType.LIMIT, 70_000), "invalid_side"),
        (buy(broker="nope"), "unknown_broker"),
    ]
    for intent, code in bad:
        result = engine.submit(intent)
        assert not result.accepted and result.rejection.code == code, (intent, result)
    assert broker.placed == []
    assert engine.oms.orders() == []
    assert [e.code for e in events] == [code for _, code in bad]
    assert all(e.message for e in events)
    assert engine.journal.risk_events[-1].details["kind"] == "rejection"


def test_size_position_and_cash_limits():
    engine, _, _ = make_engine(max_order_qty=100, max_position_pct=10, max_order_notional=5e9)
    assert engine.submit(buy(qty=101)).rejection.code == "max_order_qty"
    # 10% of 100M equity = 10M: 100 x 70,000 = 7M fits; 50 more at 69,900 makes 10.5M.
    assert engine.submit(buy(qty=100)).accepted
    assert engine.submit(buy(qty=50, price=69_900)).rejection.code == "max_position"
    engine2, broker2, _ = make_engine(max_position_pct=100, max_gross_exposure_pct=1000,
                                      max_order_notional=1e12, max_order_qty=1e9)
    engine2.instruments.add(krx_stock("000660"))
    engine2.bus.publish(Tick("000660", 10**18, 200_000.0, 1.0))
    first = engine2.submit(buy(qty=1_000)).order  # 70M of 100M cash
    broker2.fill(first, 1_000, 70_000)
    second = OrderIntent("000660", Side.BUY, 200, OrderType.LIMIT, 200_000)  # 40M > 30M left
    rejection = engine2.submit(second).rejection
    assert rejection.code == "insufficient_cash" and "cash is available" in rejection.message


def test_rate_duplicate_and_active_order_limits():
    engine, _, clock = make_engine(max_orders_per_second=3, max_active_orders=4,
                                   duplicate_window_seconds=2)
    assert engine.submit(buy(qty=1)).accepted
    assert engine.submit(buy(qty=1)).rejection.code == "duplicate_order"
    assert engine.submit(buy(qty=2)).accepted
    assert engine.submit(buy(qty=3)).accepted
    assert engine.submit(buy(qty=4)).rejection.code == "order_rate"
    clock.advance_to(clock.now_ns() + 1_100_000_000)
    assert engine.submit(buy(qty=4)).accepted
    clock.advance_to(clock.now_ns() + 1_100_000_000)
    assert engine.submit(buy(qty=5)).rejection.code == "max_active_orders"


def test_cancels_are_never_blocked_but_churn_stops_new_orders():
    engine, broker, clock = make_engine(max_cancels_per_window=2, max_orders_per_second=100)
    orders = [engine.submit(buy(qty=q)).order for q in (1, 2, 3)]
    assert all(engine.cancel(o.client_order_id) for o in orders)
    assert broker.cancelled == [o.client_order_id for o in orders]
    assert engine.submit(buy(qty=9)).rejection.code == "cancel_rate"


def test_disconnected_broker_refuses_orders():
    engine, broker, _ = make_engine()
    broker.state = ConnectionState.DISCONNECTED
    assert engine.submit(buy()).rejection.code == "broker_disconnected"


def test_unreachable_broker_rejects_locally():
    engine, broker, _ = make_engine()
    broker.unavailable = True
    order = engine.submit(buy()).order
    assert engine.oms.get(order.client_order_id).status is S.REJECTED
    assert "socket closed" in engine.oms.get(order.client_order_id).reason


def test_closing_orders_already_on_their_way_are_not_sent_twice():
    from engine.strategy import Strategy

    engine, broker, _ = make_engine(max_orders_per_second=100)
    held = engine.submit(buy(qty=20)).order
    broker.fill(held, 20, 70_000)
    # The strategy's exit (a resting reduce-only limit) covers 5 of the 20 held ...
    sell5 = OrderIntent("005930", Side.SELL, 5, OrderType.LIMIT, 71_000, reduce_only=True,
                        source=OrderSource.STRATEGY)
    assert engine.submit(sell5).accepted
    assert engine.closing_pending("paper", "005930", Side.SELL) == 5
    # ... so the session-end flatten (another source) sends only the other 15,
    [first] = engine.flatten(source=OrderSource.RISK, reason="session_end")
    assert first.order.quantity == 15
    # a second flatten, from anyone, finds nothing left to close,
    assert engine.flatten(source=OrderSource.TICKET) == []
    # and a strategy's close() sends nothing either.
    strategy = Strategy(engine, "005930", broker="paper")
    assert strategy.close() is None
    # Cancelling the exit gives its 5 back to the next flatten.
    exit_order = next(o for o in engine.oms.open_orders() if o.quantity == 5)
    assert engine.cancel(exit_order.client_order_id)
    assert engine.closing_pending("paper", "005930", Side.SELL) == 15
    [again] = engine.flatten(source=OrderSource.TICKET)
    assert again.order.quantity == 5


def test_kill_switch_cancels_flattens_halts_and_latches():
    engine, broker, clock = make_engine(max_orders_per_second=100)
    halted: list[str] = []
    latch_events: list[KillSwitchEvent] = []
    engine.on_halt(halted.append)
    engine.bus.subscribe(KillSwitchEvent, latch_events.append)
    held = engine.submit(buy(qty=20)).order
    broker.fill(held, 20, 70_000)
    working = [engine.submit(buy(qty=q, price=69_000)).order for q in (1, 2, 3)]
    report = engine.kill("test", by="user", source="button")
    assert report.cancels_sent == 3 and not report.already_latched
    assert set(broker.cancelled) >= {o.client_order_id for o in working}
    assert halted == ["test"]
    assert engine.oms.open_orders() == [o for o in engine.oms.open_orders()
                                        if o.source is OrderSource.KILL_SWITCH]
    flatten = report.flatten_orders[0].order
    assert flatten.side is Side.SELL and flatten.quantity == 20 and flatten.reduce_only
    broker.fill(flatten, 20, 69_500)
    assert engine.ledger.position("paper", "005930").quantity == 0
    assert engine.oms.open_orders() == []
    # Latched: nothing new gets through, from any source.
    for source in (OrderSource.STRATEGY, OrderSource.TICKET, OrderSource.ALGO):
        assert engine.submit(buy(qty=1, source=source)).rejection.code == "kill_switch"
    assert latch_events[-1].state.latched and latch_events[-1].state.by == "user"
    assert any(e.code == "kill_switch" and e.severity == "critical"
               for e in engine.journal.risk_events)


def test_rearm_is_refused_while_cancels_are_unconfirmed():
    engine, broker, _ = make_engine()
    broker.auto_ack = True
    order = engine.submit(buy(qty=1)).order
    broker.open.clear()  # the venue will not confirm this cancel
    engine.kill("test")
    rejection = engine.rearm()
    assert rejection.code == "cancels_unconfirmed" and order.client_order_id in rejection.message
    assert engine.kill_switch.latched
    engine.oms.on_update(OrderUpdate("paper", order.client_order_id, S.CANCELLED, 1))
    assert engine.rearm() is None and not engine.kill_switch.latched
    assert engine.submit(buy(qty=2)).accepted


def test_latch_survives_a_restart():
    journal = MemoryJournal()
    engine, _, _ = make_engine(journal)
    engine.kill("restart test", by="auto", source="daily_loss")
    again, _, _ = make_engine(journal)
    assert again.kill_switch.latched and again.kill_switch.state.source == "daily_loss"
    assert again.submit(buy()).rejection.code == "kill_switch"


def test_repeated_broker_errors_throw_the_kill_switch():
    engine, _, clock = make_engine()
    for i in range(5):
        engine.report_broker_error("paper", f"timeout {i}")
    assert engine.kill_switch.latched and engine.kill_switch.state.source == "broker_errors"


def test_entries_blocked_lets_closing_orders_through():
    engine, broker, _ = make_engine()
    held = engine.submit(buy(qty=10)).order
    broker.fill(held, 10, 70_000)
    engine.block_entries("daily_target", "daily target of 3% reached")
    assert engine.submit(buy(qty=1, price=69_900)).rejection.code == "entries_blocked"
    sell = OrderIntent("005930", Side.SELL, 10, OrderType.LIMIT, 70_100)
    assert engine.submit(sell).accepted


def test_journal_failure_throws_the_kill_switch_even_though_it_cannot_be_persisted():
    from tests.engine.execution.test_oms import FailingJournal

    journal = FailingJournal()
    engine, broker, _ = make_engine(journal)
    order = engine.submit(buy()).order
    journal.broken = True
    broker.fill(order, 10, 70_000)
    assert engine.kill_switch.latched and engine.kill_switch.state.source == "journal"
    assert engine.submit(buy(qty=1)).rejection.code == "kill_switch"


def test_funding_payments_are_booked_once_as_journaled_cash():
    from decimal import Decimal as Dec

    from engine.clock import SimulatedClock
    from engine.execution.journal import MemoryJournal
    from engine.models import FundingPayment
    from engine.trading import TradingEngine

    journal = MemoryJournal()
    engine = TradingEngine.for_backtest(clock=SimulatedClock(0), journal=journal)
    engine.open_account("binance", "USDT", Dec(1_000))
    pay = FundingPayment("binance", "BTC/USDT:USDT", Dec("-1.25"), "USDT", 5, "tran-1")
    engine.bus.publish(pay)
    engine.bus.publish(pay)  # reported again after a reconnect
    engine.bus.publish(FundingPayment("binance", "BTC/USDT:USDT", Dec("9"), "BNB", 6, "tran-2"))
    assert engine.ledger.account("binance").cash == Dec("998.75")
    again = TradingEngine.for_backtest(clock=SimulatedClock(0), journal=journal)
    again.restore()  # the transfer is journaled: a restart has it and never books it twice
    again.bus.publish(pay)
    assert again.ledger.account("binance").cash == Dec("998.75")
