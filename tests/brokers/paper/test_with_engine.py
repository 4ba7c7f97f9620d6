"""The paper venue behind the real TradingEngine: OMS, ledger, risk and kill switch."""

from __future__ import annotations

from decimal import Decimal

import pytest

from brokers.paper import PaperBroker
from engine.bus import EventBus
from engine.clock import SimulatedClock
from engine.errors import ConfigError
from engine.execution import broker_kinds, create_broker
from engine.execution.intents import OrderIntent
from engine.execution.journal import MemoryJournal
from engine.models import (
    BookLevel,
    OrderBook,
    OrderStatus,
    OrderType,
    RiskEvent,
    Side,
    Tick,
    TimeInForce,
    krx_stock,
)
from engine.trading import TradingEngine
from tests.brokers.paper.harness import NS, T0, D, run

S = OrderStatus
SAMSUNG = krx_stock("005930")


class Rig:
    def __init__(self, **settings) -> None:
        self.clock = SimulatedClock(T0)
        self.engine = TradingEngine.for_backtest(clock=self.clock, journal=MemoryJournal())
        self.engine.instruments.add(SAMSUNG)
        self.venue = create_broker("paper", name="paper", bus=self.engine.bus,
                                   clock=self.clock, instruments=[SAMSUNG],
                                   settings={"initial_cash": 10_000_000, **settings})
        self.engine.add_broker(self.venue)
        run(self.engine.connect_all())
        self.engine.open_account("paper", "KRW", Decimal(10_000_000))
        self.risk: list[RiskEvent] = []
        self.engine.bus.subscribe(RiskEvent, self.risk.append)

    def trade(self, price: float, size: float = 1_000, dt: float = 1.0) -> None:
        self.clock.advance_to(self.clock.now_ns() + int(dt * NS))
        self.engine.bus.publish(Tick("005930", self.clock.now_ns(), float(price), float(size)))

    def submit(self, side: Side, qty: int, kind=OrderType.LIMIT, price=None, **kw):
        result = self.engine.submit(OrderIntent("005930", side, qty, kind, price, **kw))
        assert result.accepted, result.rejection
        return result.order.client_order_id

    def status(self, cid: str) -> OrderStatus:
        return self.engine.oms.get(cid).status

    def assert_books_agree(self) -> None:
        assert self.engine.oms.quarantined == 0, [r.message for r in self.risk]
        ledger = self.engine.ledger
        venue_cash = run(self.venue.fetch_balances())[0].cash
        assert ledger.account("paper").cash == venue_cash
        venue_qty = {p.symbol: p.quantity for p in run(self.venue.fetch_positions())}
        assert ledger.quantity("paper", "005930") == venue_qty.get("005930", D(0))


def test_the_registry_builds_the_paper_venue_from_its_entry_point():
    assert "paper" in broker_kinds()
    venue = create_broker("paper", name="sim", bus=EventBus(), clock=SimulatedClock(0),
                          initial_cash=5)
    assert isinstance(venue, PaperBroker) and venue.name == "sim" and venue.live is False
    with pytest.raises(ConfigError, match="latency_ms"):
        create_broker("paper", name="sim", bus=EventBus(), clock=SimulatedClock(0),
                      latency_ms=-1)


def test_orders_flow_through_the_oms_into_the_same_books():
    rig = Rig()
    rig.trade(70_000)
    bought = rig.submit(Side.BUY, 10, OrderType.MARKET)
    resting = rig.submit(Side.SELL, 4, price=71_000)
    assert rig.status(bought) is S.FILLED
    assert rig.status(resting) is S.ACCEPTED
    rig.trade(71_100, size=3)
    assert rig.status(resting) is S.PARTIALLY_FILLED
    rig.trade(71_100, size=3)
    assert rig.status(resting) is S.FILLED
    order = rig.engine.oms.get(resting)
    assert order.broker_order_id.startswith("paper-") and order.avg_fill_price == D(71_000)
    rig.assert_books_agree()


def test_cancel_ioc_amend_and_day_expiry_are_legal_transitions_for_the_oms():
    rig = Rig()
    rig.trade(70_000)
    to_cancel = rig.submit(Side.BUY, 5, price=69_000)
    rig.engine.cancel(to_cancel)
    assert rig.status(to_cancel) is S.CANCELLED
    to_amend = rig.submit(Side.BUY, 5, price=68_900)
    assert rig.engine.amend(to_amend, price=69_500) is None
    assert rig.engine.oms.get(to_amend).price == D(69_500)
    day = rig.submit(Side.BUY, 5, price=68_000, time_in_force=TimeInForce.DAY)
    rig.clock.advance_to(T0 + int(6.5 * 3600 * NS))  # 15:30 KST
    assert rig.status(day) is S.EXPIRED
    rig.assert_books_agree()


def test_ioc_partial_fill_then_cancel_through_the_oms():
    rig = Rig()
    rig.trade(70_000)
    rig.engine.bus.publish(OrderBook("005930", rig.clock.now_ns(),
                                     (BookLevel(69_900, 10),),
                                     (BookLevel(70_000, 3), BookLevel(70_100, 3))))
    cid = rig.submit(Side.BUY, 10, price=70_000, time_in_force=TimeInForce.IOC)
    order = rig.engine.oms.get(cid)
    assert (order.status, order.filled_qty) == (S.CANCELLED, D(3))
    rig.assert_books_agree()


def test_venue_rejections_reach_the_oms_with_the_venue_reason():
    rig = Rig()
    rig.trade(70_000)
    # Straight to the venue (risk would have caught an off-tick price first).
    order = rig.engine.oms.create(broker="paper", symbol="005930", side=Side.BUY,
                                  order_type=OrderType.LIMIT, quantity=D(1),
                                  price=D(70_050))
    run(rig.venue.place_order(order))
    rejected = rig.engine.oms.get(order.client_order_id)
    assert rejected.status is S.REJECTED and "tick grid" in rejected.reason


def test_kill_switch_cancels_and_flattens_at_the_venue():
    rig = Rig()
    rig.trade(70_000)
    rig.submit(Side.BUY, 10, OrderType.MARKET)
    working = rig.submit(Side.BUY, 2, price=68_000)
    rig.engine.kill("test")
    assert rig.status(working) is S.CANCELLED
    assert run(rig.venue.fetch_open_orders()) == []
    assert [p for p in run(rig.venue.fetch_positions()) if p.quantity] == []
    rig.assert_books_agree()
