"""End to end through the TradingEngine (OMS, risk, kill switch) with the Kiwoom adapter.

The crash test runs the bridge as a real subprocess (``python -m brokers.kiwoom.bridge
--fake``) with the fake venue's state in a file, kills it with SIGKILL, and checks
that the supervisor restarts it and the adapter reconciles what happened meanwhile.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from decimal import Decimal

import pytest

from brokers.kiwoom.config import KiwoomConfig
from brokers.kiwoom.execution import KiwoomBroker
from engine.bus import EventBus
from engine.clock import LiveClock
from engine.execution.intents import OrderIntent
from engine.execution.journal import MemoryJournal
from engine.models import (
    ConnectionState,
    ConnectionStateChanged,
    Fill,
    OrderSource,
    OrderStatus,
    OrderType,
    Side,
    Tick,
)
from engine.risk.limits import RiskLimits
from engine.trading import TradingEngine
from tests.brokers.kiwoom.harness import ACCOUNT, SAMSUNG, Harness, run, until

S = OrderStatus
D = Decimal
LIMITS = RiskLimits(max_position_pct=100.0, max_gross_exposure_pct=500.0, price_band_pct=10.0,
                    max_orders_per_second=20)


def buy(qty: int, price: int) -> OrderIntent:
    return OrderIntent(SAMSUNG, Side.BUY, qty, OrderType.LIMIT, price, broker="kiwoom",
                       source=OrderSource.TICKET)


async def engine_for(broker: KiwoomBroker, bus: EventBus, clock) -> TradingEngine:
    engine = TradingEngine(clock=clock, journal=MemoryJournal(), bus=bus, limits=LIMITS)
    engine.add_broker(broker)
    await engine.connect_all()
    engine.open_account("kiwoom", "KRW", D(100_000_000))
    bus.publish(Tick(SAMSUNG, clock.now_ns(), 71_000.0, 1.0))
    return engine


def test_kill_switch_cancels_every_open_kiwoom_order_and_flattens():
    async def scenario():
        async with Harness() as h:
            engine = await engine_for(h.broker, h.bus, h.clock)
            orders = [engine.submit(buy(q, p)).order
                      for q, p in ((10, 71_000), (5, 70_500), (3, 70_000))]
            await until(lambda: all(engine.oms.get(o.client_order_id).status is S.ACCEPTED
                                    for o in orders), what="acceptances")
            await h.sim(action="external", code=SAMSUNG, side="sell", qty=4, price=71_000)
            await until(lambda: engine.oms.get(orders[0].client_order_id).status
                        is S.PARTIALLY_FILLED, what="a partial fill")
            # An order typed into Kiwoom's own HTS, unknown to the terminal.
            await h.broker.client.request("order", {"account": ACCOUNT, "order_type": 1,
                                                    "code": SAMSUNG, "qty": 1, "price": 69_000,
                                                    "hoga": "00"})
            await asyncio.sleep(0.3)
            report = engine.kill("test: stop everything")
            await until(lambda: not h.venue.open_orders(ACCOUNT)
                        and not engine.oms.open_orders("kiwoom"), timeout=5,
                        what="every order closed")
            await until(lambda: engine.ledger.quantity("kiwoom", SAMSUNG) == 0, timeout=5,
                        what="flat")
            await engine.runner.wait_idle()
            return engine, orders, report, h

    engine, orders, report, h = run(scenario())
    assert report.cancels_sent == 3
    final = [engine.oms.get(o.client_order_id) for o in orders]
    assert [o.status for o in final] == [S.CANCELLED] * 3
    assert final[0].filled_qty == D(4)
    flatten = [o for o in engine.oms.orders() if o.source is OrderSource.KILL_SWITCH]
    assert len(flatten) == 1 and flatten[0].side is Side.SELL and flatten[0].status is S.FILLED
    assert h.venue.open_orders(ACCOUNT) == []  # the HTS order too
    assert SAMSUNG not in h.venue.accounts[ACCOUNT].holdings
    assert engine.kill_switch.latched


@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL")
def test_bridge_crash_is_detected_restarted_and_state_reconciled(tmp_path):
    async def scenario():
        bus = EventBus()
        clock = LiveClock()
        states: list[ConnectionStateChanged] = []
        fills: list[Fill] = []
        bus.subscribe(ConnectionStateChanged, states.append)
        bus.subscribe(Fill, fills.append)
        config = KiwoomConfig.from_mapping({
            "fake": True, "fake_state": str(tmp_path / "venue.json"),
            "python32_path": sys.executable, "restart_backoff_s": 0.2,
            "health_interval_s": 0.5, "reconcile_interval_s": 3600.0})
        broker = KiwoomBroker("kiwoom", bus, clock, config=config)
        engine = await engine_for(broker, bus, clock)
        try:
            first, second = engine.submit(buy(10, 71_000)).order, engine.submit(buy(5, 70_000)).order
            await until(lambda: all(engine.oms.get(o.client_order_id).status is S.ACCEPTED
                                    for o in (first, second)), what="acceptances")
            sim = broker.client.request
            await sim("sim", {"action": "external", "code": SAMSUNG, "side": "sell", "qty": 4,
                              "price": 71_000})
            await until(lambda: engine.oms.get(first.client_order_id).filled_qty == 4)
            # The rest fills at Kiwoom, but the bridge dies before it could tell us.
            await sim("sim", {"action": "external", "code": SAMSUNG, "side": "sell", "qty": 6,
                              "price": 71_000, "deliver": False})
            old_pid = broker.supervisor.launcher.pid
            os.kill(old_pid, signal.SIGKILL)
            await until(lambda: any(s.state is ConnectionState.RECONNECTING for s in states),
                        timeout=5, what="the crash noticed")
            await until(lambda: broker.supervisor.starts == 2 and broker.state is
                        ConnectionState.CONNECTED, timeout=15, what="a new bridge")
            await until(lambda: engine.oms.get(first.client_order_id).status is S.FILLED,
                        timeout=5, what="the missed fill booked")
            new_pid = broker.supervisor.launcher.pid
            # The order that was still working is still ours to cancel.
            assert engine.cancel(second.client_order_id)
            await until(lambda: engine.oms.get(second.client_order_id).status is S.CANCELLED,
                        timeout=5, what="cancel after the restart")
            venue = await broker.client.request("sim", {"action": "account", "account": ACCOUNT})
            position = engine.ledger.quantity("kiwoom", SAMSUNG)
            return old_pid, new_pid, states, fills, venue, position, engine, first
        finally:
            await broker.disconnect()

    old_pid, new_pid, states, fills, venue, position, engine, first = run(scenario(), timeout=60)
    assert new_pid != old_pid
    down = [s for s in states if s.state is ConnectionState.RECONNECTING]
    assert any("exited" in s.detail or "lost" in s.detail for s in down)
    mine = [f for f in fills if f.client_order_id == first.client_order_id]
    assert [f.quantity for f in mine] == [D(4), D(6)]
    assert mine[1].fill_id.endswith("-r10") and mine[1].price == D(71_000)
    assert position == D(venue["holdings"][SAMSUNG]["qty"]) == D(10)
    assert engine.ledger.account("kiwoom").cash == D(venue["cash"])
    with pytest.raises(ProcessLookupError):
        os.kill(new_pid, 0)  # disconnect stopped the bridge
