"""USD-M stop and stop-limit orders through Binance's algo service, against the fake venue.

The fake holds algo orders outside its matching engine, triggers them on the last
price, then places the resulting MARKET / LIMIT order (client id = clientAlgoId) in
the matching engine, reporting ALGO_UPDATE and ORDER_TRADE_UPDATE like Binance.
"""

from __future__ import annotations

import asyncio
import itertools
from decimal import Decimal

from engine.execution.intents import OrderIntent
from engine.models import (
    ConnectionState,
    Order,
    OrderSource,
    OrderStatus,
    OrderType,
    RiskEvent,
    Side,
)
from tests.brokers.ccxt.fake_binance import LINEAR
from tests.brokers.ccxt.harness import Adapter, run, until
from tests.brokers.ccxt.test_engine_e2e import engine_for

S = OrderStatus
D = Decimal
PERP = "BTC/USDT:USDT"
_ids = itertools.count(1)


def stop(side=Side.SELL, qty="0.002", trigger="59500.0", limit=None, **kw) -> Order:
    otype = OrderType.STOP if limit is None else OrderType.STOP_LIMIT
    return Order(f"tt-algo-{next(_ids)}", "binance", PERP, side, otype, D(qty),
                 None if limit is None else D(limit), stop_price=D(trigger),
                 status=S.SUBMITTED, **kw)


def stop_intent(side=Side.SELL, qty="0.002", trigger="59500.0", limit=None,
                **kw) -> OrderIntent:
    otype = OrderType.STOP if limit is None else OrderType.STOP_LIMIT
    return OrderIntent(PERP, side, D(qty), otype, None if limit is None else D(limit),
                       stop_price=D(trigger), broker="binance", source=OrderSource.TICKET, **kw)


def statuses(h, cid):
    return [u.status for u in h.record.updates(cid)]


def algos(h, status=None):
    return [a for a in h.fake.venue.algo.orders.values() if status in (None, a.status)]


def test_a_stop_market_sell_fills_once_in_the_oms_when_the_price_falls_through(tmp_path):
    async def scenario():
        async with Adapter(markets=["linear"]) as h:
            engine, _ = await engine_for(h, tmp_path)
            h.fake.faults.duplicate_user_events = True  # every stream event twice
            o = engine.submit(stop_intent()).order
            oms = engine.oms
            await until(lambda: oms.get(o.client_order_id).status is S.ACCEPTED)
            accepted = oms.get(o.client_order_id)
            h.fake.venue.external_trade(LINEAR, "BTCUSDT", "BUY", "0.1", "59600.0")  # not yet
            await asyncio.sleep(0.1)
            untouched = oms.get(o.client_order_id).status
            h.fake.venue.external_trade(LINEAR, "BTCUSDT", "SELL", "0.1", "59400.0")
            await until(lambda: oms.get(o.client_order_id).status is S.FILLED)
            await h.broker.reconcile("test")  # finds nothing new
            await asyncio.sleep(0.2)
            await engine.runner.wait_idle()
            return h, engine, o, accepted, untouched

    h, engine, o, accepted, untouched = run(scenario())
    assert untouched is S.ACCEPTED
    algo = algos(h)[0]
    assert (algo.type, algo.cid, algo.status) == ("STOP_MARKET", o.client_order_id, "FINISHED")
    assert accepted.broker_order_id == str(algo.algo_id)
    fills = h.record.fills(o.client_order_id)
    assert [(f.quantity, f.price) for f in fills] == [(D("0.002"), D("59999.0"))]  # the bid
    assert fills[0].broker_order_id == str(algo.actual_order_id)
    final = engine.oms.get(o.client_order_id)
    assert (final.status, final.filled_qty, final.avg_fill_price) == \
        (S.FILLED, D("0.002"), D("59999.0"))
    assert engine.oms.quarantined == 0
    assert [(p.symbol, p.quantity) for p in engine.ledger.positions("binance")] == \
        [(PERP, D("-0.002"))]
    assert statuses(h, o.client_order_id) == [S.ACCEPTED]  # then the fill said the rest
    assert h.fake.count("POST", "/fapi/v1/algoOrder") == 1
    assert h.fake.count("POST", "/fapi/v1/order") == 0


def test_a_stop_limit_rests_after_the_trigger_and_fills_at_its_limit():
    async def scenario():
        async with Adapter(markets=["linear"]) as h:
            o = stop(trigger="59500.0", limit="60100.0")
            await h.broker.place_order(o)
            await until(lambda: statuses(h, o.client_order_id) == [S.ACCEPTED])
            venue = h.fake.venue
            venue.external_trade(LINEAR, "BTCUSDT", "SELL", "0.1", "59400.0")
            await until(lambda: venue.open_orders(LINEAR), what="the triggered limit order")
            resting = [(x.type, x.price, x.cid) for x in venue.open_orders(LINEAR)]
            open_orders = await h.broker.fetch_open_orders()
            await h.broker.reconcile("test")  # a triggered, resting stop is not "missing"
            venue.fill(LINEAR, "BTCUSDT", o.client_order_id, "0.001")
            venue.fill(LINEAR, "BTCUSDT", o.client_order_id)
            await until(lambda: len(h.record.fills(o.client_order_id)) == 2)
            await asyncio.sleep(0.1)
            return h, o, resting, open_orders

    h, o, resting, open_orders = run(scenario())
    assert resting == [("LIMIT", D("60100.0"), o.client_order_id)]
    assert [(x.client_order_id, x.order_type, x.price) for x in open_orders] == \
        [(o.client_order_id, OrderType.LIMIT, D("60100.0"))]
    fills = h.record.fills(o.client_order_id)
    assert [(f.quantity, f.price) for f in fills] == [(D("0.001"), D("60100.0"))] * 2
    assert statuses(h, o.client_order_id) == [S.ACCEPTED]
    assert algos(h)[0].type == "STOP" and algos(h)[0].status == "FINISHED"


def test_a_resting_stop_survives_reconciliation_and_is_cancelled_at_the_venue():
    async def scenario():
        async with Adapter(markets=["linear"]) as h:
            o = stop(side=Side.BUY, trigger="60500.0")
            await h.broker.place_order(o)
            await until(lambda: statuses(h, o.client_order_id) == [S.ACCEPTED])
            for _ in range(2):
                await h.broker.reconcile("test")
            await h.broker.execution.reconcile("periodic")  # asks per symbol
            listed = await h.broker.fetch_open_orders()
            await h.broker.cancel_order(o)
            await until(lambda: S.CANCELLED in statuses(h, o.client_order_id))
            h.fake.venue.external_trade(LINEAR, "BTCUSDT", "BUY", "0.1", "60600.0")
            await asyncio.sleep(0.2)
            return h, o, listed

    h, o, listed = run(scenario())
    assert [(x.client_order_id, x.order_type, x.stop_price, x.source) for x in listed] == \
        [(o.client_order_id, OrderType.STOP, D("60500.0"), OrderSource.STRATEGY)]
    assert statuses(h, o.client_order_id) == [S.ACCEPTED, S.CANCELLED]
    assert [a.status for a in algos(h)] == ["CANCELED"]
    assert h.fake.count("DELETE", "/fapi/v1/algoOrder") == 1
    assert not h.record.fills() and not h.fake.venue.open_orders(LINEAR)
    asked = [p.get("symbol") for _, m, path, p in h.fake.requests
             if (m, path) == ("GET", "/fapi/v1/openAlgoOrders")]
    assert None in asked and "BTCUSDT" in asked  # full sweeps, and the periodic round
    assert not [e for e in h.record.of(RiskEvent) if e.code == "external_order"]


def test_cancelling_a_stop_that_has_just_triggered_cancels_the_order_it_placed():
    async def scenario():
        async with Adapter(markets=["linear"]) as h:
            o = stop(trigger="59500.0", limit="60100.0")
            await h.broker.place_order(o)
            await until(lambda: statuses(h, o.client_order_id) == [S.ACCEPTED])
            h.fake.faults.lose_user_events = True  # the trigger's events are not heard
            h.fake.venue.external_trade(LINEAR, "BTCUSDT", "SELL", "0.1", "59400.0")
            h.fake.venue.fill(LINEAR, "BTCUSDT", o.client_order_id, "0.001")
            await h.broker.cancel_order(o)  # the algo order is gone: -2011
            return h, o

    h, o = run(scenario())
    assert h.fake.count("DELETE", "/fapi/v1/algoOrder") == 1
    assert h.fake.count("DELETE", "/fapi/v1/order") == 1  # then the triggered order
    assert not h.fake.venue.open_orders(LINEAR)
    assert [f.quantity for f in h.record.fills(o.client_order_id)] == [D("0.001")]
    updates = h.record.updates(o.client_order_id)
    assert [u.status for u in updates] == [S.ACCEPTED, S.CANCELLED]
    assert updates[-1].filled_qty == D("0.001")


def test_the_kill_switch_cancels_resting_stops_including_one_placed_elsewhere(tmp_path):
    async def scenario():
        async with Adapter(markets=["linear"]) as h:
            engine, _ = await engine_for(h, tmp_path, flatten_on_kill=False)
            mine = [engine.submit(stop_intent()).order,
                    engine.submit(stop_intent(side=Side.BUY, trigger="60500.0",
                                              limit="60600.0")).order]
            await until(lambda: all(engine.oms.get(o.client_order_id).status is S.ACCEPTED
                                    for o in mine))
            # A stop typed into Binance's web page, unknown to the terminal.
            h.fake.venue.algo.place({"symbol": "BTCUSDT", "side": "SELL", "type": "STOP_MARKET",
                                     "algoType": "CONDITIONAL", "quantity": "0.005",
                                     "triggerPrice": "58000.0", "clientAlgoId": "web_stop"})
            await asyncio.sleep(0.1)
            report = engine.kill("test: stop everything")
            await until(lambda: not h.fake.venue.algo.open_orders(), what="no algo orders")
            await until(lambda: not engine.oms.open_orders("binance"), what="OMS empty")
            await engine.runner.wait_idle()
            return h, engine, mine, report

    h, engine, mine, report = run(scenario())
    assert report.cancels_sent == 2
    assert [engine.oms.get(o.client_order_id).status for o in mine] == [S.CANCELLED] * 2
    assert sorted(a.status for a in algos(h)) == ["CANCELED"] * 3


def test_cancel_all_clears_resting_stops():
    async def scenario():
        async with Adapter(markets=["linear"]) as h:
            orders = [stop(), stop(trigger="59000.0", limit="58900.0")]
            for o in orders:
                await h.broker.place_order(o)
            await until(lambda: all(statuses(h, o.client_order_id) for o in orders))
            await h.broker.cancel_all(PERP)
            await until(lambda: all(S.CANCELLED in statuses(h, o.client_order_id)
                                    for o in orders))
            return h

    h = run(scenario())
    assert not h.fake.venue.algo.open_orders()
    assert h.fake.count("DELETE", "/fapi/v1/algoOpenOrders") == 1


def test_a_timed_out_stop_is_found_by_its_client_algo_id_and_never_doubled():
    async def scenario():
        async with Adapter(markets=["linear"], request_timeout_ms=500, recv_window_ms=500) as h:
            # Binance takes the stop, but the answer comes after the client gave up.
            h.fake.delay_next("/fapi/v1/algoOrder", 1.0, method="POST", after_processing=True)
            o = stop()
            await h.broker.place_order(o)
            await h.broker.reconcile("test")
            return h, o

    h, o = run(scenario())
    assert h.fake.count("POST", "/fapi/v1/algoOrder") == 1
    assert h.fake.count("GET", "/fapi/v1/algoOrder") == 1  # asked by clientAlgoId
    assert [(a.cid, a.status) for a in algos(h)] == [(o.client_order_id, "NEW")]
    assert statuses(h, o.client_order_id) == [S.ACCEPTED]


def test_a_stop_that_triggered_and_filled_during_a_disconnect_is_reported_once():
    async def scenario():
        async with Adapter(markets=["linear"]) as h:
            o = stop(qty="0.003")
            await h.broker.place_order(o)
            await until(lambda: statuses(h, o.client_order_id) == [S.ACCEPTED])
            h.fake.faults.refuse_ws = True
            h.fake.drop_ws(role="user")
            await until(lambda: h.broker.state is ConnectionState.RECONNECTING)
            # Triggers and fills while nobody listens: those events are gone for good.
            h.fake.venue.external_trade(LINEAR, "BTCUSDT", "SELL", "0.1", "59400.0")
            await asyncio.sleep(0.2)
            h.fake.faults.refuse_ws = False
            await until(lambda: h.broker.state is ConnectionState.CONNECTED, timeout=5)
            await until(lambda: h.record.fills(o.client_order_id), what="the missed fill")
            h.fake.faults.duplicate_user_events = True
            for _ in range(2):  # later reconciliations find nothing new
                await h.broker.reconcile("test")
            await asyncio.sleep(0.1)
            return h, o

    h, o = run(scenario())
    fills = h.record.fills(o.client_order_id)
    assert [(f.quantity, f.price) for f in fills] == [(D("0.003"), D("59999.0"))]
    assert statuses(h, o.client_order_id) == [S.ACCEPTED]
    assert h.broker.execution.gap_fetches >= 1  # the trades, by the triggered order's id
    assert h.fake.count("GET", "/fapi/v1/algoOrder") >= 1
    assert not [e for e in h.record.of(RiskEvent) if e.code in ("position_mismatch",
                                                                "external_order")]


def test_a_reduce_only_stop_closes_the_position_and_one_with_nothing_left_expires():
    async def scenario():
        async with Adapter(markets=["linear"]) as h:
            buy = Order(f"tt-algo-{next(_ids)}", "binance", PERP, Side.BUY, OrderType.MARKET,
                        D("0.003"), status=S.SUBMITTED)
            await h.broker.place_order(buy)
            await until(lambda: h.record.fills(buy.client_order_id))
            first = stop(qty="0.003", trigger="59500.0", reduce_only=True)
            second = stop(qty="0.003", trigger="59400.0", reduce_only=True)
            for o in (first, second):
                await h.broker.place_order(o)
            await until(lambda: all(statuses(h, o.client_order_id) for o in (first, second)))
            h.fake.venue.external_trade(LINEAR, "BTCUSDT", "SELL", "0.1", "59300.0")
            await until(lambda: h.record.fills(first.client_order_id)
                        and S.EXPIRED in statuses(h, second.client_order_id))
            await h.broker.reconcile("test")
            positions = await h.broker.fetch_positions()
            return h, first, second, positions

    h, first, second, positions = run(scenario())
    assert [(f.quantity, f.price) for f in h.record.fills(first.client_order_id)] == \
        [(D("0.003"), D("59999.0"))]
    assert h.fake.venue.positions["BTCUSDT"].amt == 0 and positions == []
    sent = [p for _, m, path, p in h.fake.requests if (m, path) == ("POST", "/fapi/v1/algoOrder")]
    assert [p.get("reduceOnly") for p in sent] == ["true", "true"]
    updates = h.record.updates(second.client_order_id)
    assert [u.status for u in updates] == [S.ACCEPTED, S.EXPIRED]
    assert updates[-1].reason == "Binance refused the triggered order: Reduce Only reject"
    assert not h.record.fills(second.client_order_id)
    assert [a.status for a in algos(h)] == ["FINISHED", "REJECTED"]


def test_a_stop_that_would_trigger_at_once_is_rejected_with_binances_reason():
    async def scenario():
        async with Adapter(markets=["linear"]) as h:
            o = stop(trigger="60500.0")  # a sell stop above the market
            await h.broker.place_order(o)
            return h, o

    h, o = run(scenario())
    updates = h.record.updates(o.client_order_id)
    assert [u.status for u in updates] == [S.REJECTED]
    assert "Order would immediately trigger. (Binance -2021)" in updates[0].reason
    assert not algos(h)
