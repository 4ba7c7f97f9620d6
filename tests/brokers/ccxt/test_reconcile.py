"""Reconciliation: what happened while we were not listening is reported exactly once."""

from __future__ import annotations

import asyncio
import itertools
from decimal import Decimal

from engine.models import ConnectionState, Order, OrderStatus, OrderType, RiskEvent, Side
from tests.brokers.ccxt.fake_binance import LINEAR, SPOT
from tests.brokers.ccxt.harness import Adapter, run, until

S = OrderStatus
D = Decimal
_ids = itertools.count(1)


def order(symbol="BTC/USDT", side=Side.BUY, qty="0.01", price="59000", **kw) -> Order:
    return Order(f"tt-rec-{next(_ids)}", "binance", symbol, side, OrderType.LIMIT, D(qty),
                 D(price), status=S.SUBMITTED, **kw)


def test_a_fill_during_a_disconnect_is_reported_once_after_the_reconnect():
    async def scenario():
        async with Adapter(markets=["spot", "linear"]) as h:
            spot, perp = order(), order("BTC/USDT:USDT", qty="0.002", price="59000.0")
            for o in (spot, perp):
                await h.broker.place_order(o)
            await until(lambda: all(h.record.updates(o.client_order_id) for o in (spot, perp)))
            h.fake.faults.refuse_ws = True
            h.fake.drop_ws(role="user")
            await until(lambda: h.broker.state is ConnectionState.RECONNECTING)
            # Both fill while nobody listens: their user events are gone for good.
            h.fake.venue.fill(SPOT, "BTCUSDT", spot.client_order_id, "0.004")
            h.fake.venue.fill(LINEAR, "BTCUSDT", perp.client_order_id)
            await asyncio.sleep(0.2)
            h.fake.faults.refuse_ws = False
            await until(lambda: h.broker.state is ConnectionState.CONNECTED, timeout=5)
            await until(lambda: h.record.fills(spot.client_order_id)
                        and h.record.fills(perp.client_order_id), what="the missed fills")
            for _ in range(2):  # later reconciliations find nothing new
                await h.broker.reconcile("test")
            # The rest of the spot order fills live; the stream repeats each event.
            h.fake.faults.duplicate_user_events = True
            h.fake.venue.fill(SPOT, "BTCUSDT", spot.client_order_id)
            await until(lambda: len(h.record.fills(spot.client_order_id)) == 2)
            await h.broker.reconcile("test")
            await asyncio.sleep(0.1)
            return h, spot, perp

    h, spot, perp = run(scenario())
    spot_fills = h.record.fills(spot.client_order_id)
    assert [f.quantity for f in spot_fills] == [D("0.004"), D("0.006")]
    assert [f.quantity for f in h.record.fills(perp.client_order_id)] == [D("0.002")]
    assert len({f.fill_id for f in h.record.fills()}) == len(h.record.fills()) == 3
    assert h.broker.execution.gap_fetches >= 2  # found by order id over REST
    assert [u.status for u in h.record.updates(spot.client_order_id)] == [S.ACCEPTED]
    assert not [e for e in h.record.of(RiskEvent) if e.code == "position_mismatch"]


def test_an_order_cancelled_while_disconnected_reports_its_fills_then_the_cancel():
    async def scenario():
        async with Adapter() as h:
            o = order()
            await h.broker.place_order(o)
            await until(lambda: h.record.updates(o.client_order_id))
            h.fake.faults.lose_user_events = True
            h.fake.venue.fill(SPOT, "BTCUSDT", o.client_order_id, "0.003")
            h.fake.venue.cancel(SPOT, "BTCUSDT", cid=o.client_order_id)  # e.g. from the web UI
            await h.broker.reconcile("test")
            return h, o

    h, o = run(scenario())
    assert [f.quantity for f in h.record.fills(o.client_order_id)] == [D("0.003")]
    updates = h.record.updates(o.client_order_id)
    assert [u.status for u in updates] == [S.ACCEPTED, S.CANCELLED]
    assert updates[-1].filled_qty == D("0.003")
    fill_at = h.record.events.index(h.record.fills(o.client_order_id)[0])
    assert fill_at < h.record.events.index(updates[-1])  # the fill first, then the cancel


def test_orders_and_positions_we_did_not_make_are_reported_once():
    async def scenario():
        async with Adapter(markets=["spot", "linear"]) as h:
            venue = h.fake.venue
            venue.place(SPOT, {"symbol": "BTCUSDT", "side": "SELL", "type": "LIMIT",
                               "quantity": "0.1", "price": "65000", "newClientOrderId": "web_1"})
            mine = Order(f"tt-rec-{next(_ids)}", "binance", "BTC/USDT:USDT", Side.BUY,
                         OrderType.MARKET, D("0.002"), status=S.SUBMITTED)
            await h.broker.place_order(mine)
            await until(lambda: h.record.fills(mine.client_order_id))
            h.fake.faults.lose_user_events = True
            # Someone trades the same futures account elsewhere.
            venue.place(LINEAR, {"symbol": "BTCUSDT", "side": "BUY", "type": "MARKET",
                                 "quantity": "0.005"})
            for _ in range(3):
                await h.broker.reconcile("test")
            return h

    h = run(scenario())
    codes = [e.code for e in h.record.of(RiskEvent)]
    assert codes.count("external_order") == 1
    mismatches = [e for e in h.record.of(RiskEvent) if e.code == "position_mismatch"]
    assert len(mismatches) == 1
    assert mismatches[0].details == {"venue": "0.007", "expected": "0.002", "kind": "linear"}


def test_the_periodic_reconciliation_finds_a_fill_whose_event_was_lost():
    async def scenario():
        async with Adapter(reconcile_interval_s=1) as h:
            o = order()
            await h.broker.place_order(o)
            await until(lambda: h.record.updates(o.client_order_id))
            h.fake.faults.lose_user_events = True  # the socket stays up, the event is lost
            h.fake.venue.fill(SPOT, "BTCUSDT", o.client_order_id, "0.005")
            await until(lambda: h.record.fills(o.client_order_id), timeout=4,
                        what="the periodic reconciliation")
            return h, o

    h, o = run(scenario())
    assert [f.quantity for f in h.record.fills(o.client_order_id)] == [D("0.005")]


def test_cancel_all_clears_the_venue_including_orders_we_did_not_place():
    async def scenario():
        async with Adapter(markets=["spot", "linear"]) as h:
            mine = [order(), order("BTC/USDT:USDT", qty="0.002", price="58000.0")]
            for o in mine:
                await h.broker.place_order(o)
            h.fake.venue.place(SPOT, {"symbol": "ETHUSDT", "side": "BUY", "type": "LIMIT",
                                      "quantity": "1", "price": "2500"})
            await until(lambda: all(h.record.updates(o.client_order_id) for o in mine))
            await h.broker.cancel_all()
            await until(lambda: all(S.CANCELLED in [u.status for u in
                                                    h.record.updates(o.client_order_id)]
                                    for o in mine))
            return h

    h = run(scenario())
    assert not h.fake.venue.open_orders(SPOT) and not h.fake.venue.open_orders(LINEAR)
