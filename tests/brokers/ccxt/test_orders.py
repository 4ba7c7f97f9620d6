"""Orders through the adapter against the fake venue: lifecycle, refusals and faults."""

from __future__ import annotations

import asyncio
import itertools
from decimal import Decimal

import pytest

from engine.execution.broker import BrokerError, BrokerUnavailable
from engine.models import Order, OrderStatus, OrderType, Side, TimeInForce
from tests.brokers.ccxt.fake_binance import LINEAR, SPOT
from tests.brokers.ccxt.harness import Adapter, run, until

S = OrderStatus
D = Decimal
_ids = itertools.count(1)


def order(symbol="BTC/USDT", side=Side.BUY, qty="0.01", price="59000", otype=OrderType.LIMIT,
          **kw) -> Order:
    return Order(f"tt-test-{next(_ids)}", "binance", symbol, side, otype, D(qty),
                 None if price is None else D(price), status=S.SUBMITTED, **kw)


def statuses(h, cid):
    return [u.status for u in h.record.updates(cid)]


def test_limit_order_accepted_partly_filled_filled_and_another_cancelled():
    async def scenario():
        async with Adapter() as h:
            first, second = order(), order(price="58000")
            await h.broker.place_order(first)
            await h.broker.place_order(second)
            venue = h.fake.venue
            await until(lambda: statuses(h, first.client_order_id) == [S.ACCEPTED])
            venue.fill(SPOT, "BTCUSDT", first.client_order_id, "0.004")
            venue.fill(SPOT, "BTCUSDT", first.client_order_id)  # the rest, before any await
            await until(lambda: len(h.record.fills(first.client_order_id)) == 2)
            await h.broker.cancel_order(second)
            await until(lambda: S.CANCELLED in statuses(h, second.client_order_id))
            await asyncio.sleep(0.2)  # late duplicates would show up here
            return h.record, first, second

    record, first, second = run(scenario())
    fills = record.fills(first.client_order_id)
    assert [f.quantity for f in fills] == [D("0.004"), D("0.006")]
    assert len({f.fill_id for f in fills}) == 2 and all(f.broker_order_id for f in fills)
    assert fills[0].commission == D("0.004") * D("0.001") * D(59000)  # BTC fee, valued in USDT
    assert [u.status for u in record.updates(first.client_order_id)] == [S.ACCEPTED]
    cancels = record.updates(second.client_order_id)
    assert [u.status for u in cancels] == [S.ACCEPTED, S.CANCELLED]
    assert cancels[-1].filled_qty == 0 and cancels[-1].reason == "canceled at Binance"


def test_market_order_fills_once_although_the_stream_repeats_every_event():
    async def scenario():
        async with Adapter() as h:
            h.fake.faults.duplicate_user_events = True
            market = order(qty="1.6", price=None, otype=OrderType.MARKET)
            await h.broker.place_order(market)
            await asyncio.sleep(0.3)
            return h.record, market, h.fake.venue

    record, market, venue = run(scenario())
    fills = record.fills(market.client_order_id)
    assert [f.price for f in fills] == [D(60001), D(60002)]  # walked two levels
    assert [f.quantity for f in fills] == [D("1.5"), D("0.1")]
    assert record.updates(market.client_order_id) == []  # fills say it all
    assert venue.balances["BTC"][0] == D(1) + D("1.6") - D("1.6") * D("0.001")


def test_refusals_are_rejections_with_binance_reasons():
    async def scenario():
        async with Adapter(markets=["spot", "linear"]) as h:
            post = order(price="60001.00", post_only=True)  # would take: LIMIT_MAKER refused
            broke = order(qty="100", price="59000")
            margin = order("BTC/USDT:USDT", qty="100", price="59000.0")
            reduce = order("BTC/USDT:USDT", Side.SELL, qty="0.002", price="61000.0",
                           reduce_only=True)
            for o in (post, broke, margin, reduce):
                await h.broker.place_order(o)
            with pytest.raises(BrokerUnavailable, match="not a whole number of lots"):
                await h.broker.place_order(order(qty="0.0000123"))
            with pytest.raises(BrokerUnavailable, match="not on the tick grid"):
                await h.broker.place_order(order(price="59000.005"))
            with pytest.raises(BrokerUnavailable, match="DAY does not exist"):
                await h.broker.place_order(order(time_in_force=TimeInForce.DAY))
            return {o.client_order_id: h.record.updates(o.client_order_id)
                    for o in (post, broke, margin, reduce)}, (post, broke, margin, reduce)

    updates, (post, broke, margin, reduce) = run(scenario())
    for o in (post, broke, margin, reduce):
        assert [u.status for u in updates[o.client_order_id]] == [S.REJECTED]
    assert "would immediately match" in updates[post.client_order_id][0].reason
    assert "insufficient balance" in updates[broke.client_order_id][0].reason
    assert "InsufficientFunds: Margin is insufficient. (Binance -2019)" == \
        updates[margin.client_order_id][0].reason
    assert "ReduceOnly Order is rejected" in updates[reduce.client_order_id][0].reason


def test_rate_limited_order_backs_off_and_is_placed_once():
    async def scenario():
        async with Adapter() as h:
            h.fake.fail_next("/api/v3/order", 429, count=2, method="POST", retry_after=1)
            o = order()
            started = asyncio.get_running_loop().time()
            await h.broker.place_order(o)
            waited = asyncio.get_running_loop().time() - started
            return h, o, waited

    h, o, waited = run(scenario())
    assert h.fake.count("POST", "/api/v3/order") == 3
    assert len(h.fake.venue.open_orders(SPOT)) == 1
    assert [u.status for u in h.record.updates(o.client_order_id)] == [S.ACCEPTED]
    assert waited >= 0.05  # two backoff pauses (0.025-0.05 s, then 0.05-0.1 s)


def test_timed_out_order_is_found_by_client_id_and_never_doubled():
    async def scenario():
        async with Adapter(request_timeout_ms=500, recv_window_ms=500) as h:
            # Binance takes the order, but the answer comes after the client gave up.
            h.fake.delay_next("/api/v3/order", 1.0, method="POST", after_processing=True)
            o = order()
            await h.broker.place_order(o)
            return h, o

    h, o = run(scenario())
    assert h.fake.count("POST", "/api/v3/order") == 1
    assert h.fake.count("GET", "/api/v3/order") == 1  # asked by origClientOrderId
    assert [x.cid for x in h.fake.venue.open_orders(SPOT)] == [o.client_order_id]
    assert [u.status for u in h.record.updates(o.client_order_id)] == [S.ACCEPTED]


def test_an_order_lost_in_a_5xx_is_sent_again_once_it_can_no_longer_appear():
    async def scenario():
        async with Adapter(recv_window_ms=500) as h:
            h.fake.fail_next("/api/v3/order", 503, method="POST")  # refused before processing
            o = order()
            await h.broker.place_order(o)
            return h, o

    h, o = run(scenario())
    assert h.fake.count("POST", "/api/v3/order") == 2
    assert h.fake.count("GET", "/api/v3/order") == 1
    assert len(h.fake.venue.open_orders(SPOT)) == 1
    assert [u.status for u in h.record.updates(o.client_order_id)] == [S.ACCEPTED]


def test_clock_skew_is_measured_and_remeasured_on_a_recv_window_error():
    async def scenario():
        async with Adapter(fake=None, connect=False) as h:
            h.fake.venue.skew_ms = -45_000  # Binance's clock behind ours at connect
            await h.broker.connect()
            first = order()
            await h.broker.place_order(first)
            h.fake.venue.skew_ms = 20_000  # and then it jumps ahead
            second = order()
            await h.broker.place_order(second)
            return h, first, second

    h, first, second = run(scenario())
    assert abs(h.broker.time_offset_ms + 20_000) < 1000
    for o in (first, second):
        assert [u.status for u in h.record.updates(o.client_order_id)] == [S.ACCEPTED]
    assert h.fake.count("GET", "/api/v3/time") == 2


def test_spot_stop_order_triggers_on_a_trade_through_its_price():
    async def scenario():
        async with Adapter() as h:
            stop = order(side=Side.SELL, qty="0.5", price=None, otype=OrderType.STOP,
                         stop_price=D("59500"))
            await h.broker.place_order(stop)
            await until(lambda: statuses(h, stop.client_order_id) == [S.ACCEPTED])
            h.fake.venue.external_trade(SPOT, "BTCUSDT", "SELL", "0.1", "59400")
            await until(lambda: h.record.fills(stop.client_order_id))
            return h, stop

    h, stop = run(scenario())
    fills = h.record.fills(stop.client_order_id)
    assert sum(f.quantity for f in fills) == D("0.5") and fills[0].price == D(59999)
    assert [o.type for o in h.fake.venue.orders.values()] == ["STOP_LOSS"]


def test_futures_leverage_margin_mode_position_and_funding():
    async def scenario():
        async with Adapter(markets=["linear"], leverage={"BTC/USDT:USDT": 5},
                           margin_mode="isolated", funding_poll_s=0.05) as h:
            venue = h.fake.venue
            await h.broker.subscribe_order_book(["BTC/USDT:USDT"])
            buy = order("BTC/USDT:USDT", qty="0.003", price=None, otype=OrderType.MARKET)
            await h.broker.place_order(buy)
            await until(lambda: h.record.fills(buy.client_order_id))
            paid = venue.settle_funding("BTCUSDT", "0.0005")
            from brokers.ccxt.events import FundingPayment
            from engine.models import FundingRate
            await until(lambda: h.record.of(FundingPayment), what="the funding payment")
            await asyncio.sleep(0.2)
            positions = await h.broker.fetch_positions()
            balances = await h.broker.fetch_balances()
            return h, venue, paid, positions, balances, h.record.of(FundingRate), \
                h.record.of(FundingPayment)

    h, venue, paid, positions, balances, rates, payments = run(scenario())
    pos = venue.positions["BTCUSDT"]
    assert (pos.leverage, pos.margin_type, pos.amt) == (5, "isolated", D("0.003"))
    inst = [i for i in run_instruments(h) if i.symbol == "BTC/USDT:USDT"][0]
    assert inst.max_leverage == D(5)
    assert [(p.symbol, p.quantity) for p in positions] == [("BTC/USDT:USDT", D("0.003"))]
    assert balances[0].currency == "USDT" and balances[0].cash == venue.wallet
    assert rates and rates[-1].symbol == "BTC/USDT:USDT" and rates[-1].rate == 0.0005
    assert rates[-1].next_funding_ns > 0
    assert [(p.symbol, p.amount) for p in payments] == [("BTC/USDT:USDT", paid)]  # once


def run_instruments(h):
    return list(h.broker._instruments.values())


def test_auth_failures_reject_orders_and_are_reported():
    async def scenario():
        async with Adapter(max_auth_errors=2) as h:
            h.fake.faults.auth_error = (-1022, "Signature for this request is not valid.", 400)
            outcomes = []
            for _ in range(2):
                o = order()
                with pytest.raises(BrokerError, match="refused the API key"):
                    await h.broker.place_order(o)
                outcomes.append(h.record.updates(o.client_order_id))
            return h, outcomes, h.broker.state

    h, outcomes, state = run(scenario())
    assert all([u.status for u in ups] == [S.REJECTED] for ups in outcomes)
    assert not h.errors  # raised to the caller (the engine counts those itself)
    assert state.value == "FAILED"
    assert len([e for e in h.record.of(__import__("engine.models", fromlist=["RiskEvent"])
                                       .RiskEvent) if e.code == "broker_auth_failed"]) == 2
    assert not h.fake.venue.open_orders(LINEAR) and not h.fake.venue.open_orders(SPOT)
