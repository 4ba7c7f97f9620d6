"""Orders through adapter + bridge + fake control over the real loopback socket."""

from __future__ import annotations

import asyncio
import time
from datetime import datetime
from decimal import Decimal

import pytest

from brokers.kiwoom.bridge.core import BridgeLimits
from brokers.kiwoom.client import BridgeError
from brokers.kiwoom.fake.server import KST, FakeKiwoomServer
from engine.execution.broker import BrokerError, BrokerUnavailable
from engine.models import OrderStatus, OrderType, Side
from tests.brokers.kiwoom.harness import ACCOUNT, SAMSUNG, T0, Harness, run, until

S = OrderStatus
D = Decimal


def test_limit_order_accepted_partially_filled_then_filled():
    async def scenario():
        async with Harness() as h:
            await h.broker.place_order(h.order(qty=10, price=71_000))
            await until(lambda: h.record.updates("c1"), what="acceptance")
            await h.sim(action="external", code=SAMSUNG, side="sell", qty=4, price=71_000)
            await until(lambda: len(h.record.fills("c1")) == 1, what="first fill")
            await h.sim(action="external", code=SAMSUNG, side="sell", qty=6, price=71_000)
            await until(lambda: len(h.record.fills("c1")) == 2, what="second fill")
            await until(lambda: SAMSUNG in h.broker.holdings
                        and h.broker.holdings[SAMSUNG].qty == 10, what="balance")
            venue = h.venue.orders[h.record.updates("c1")[0].broker_order_id]
            return h.record, h.broker, venue

    record, broker, venue = run(scenario())
    accepted = record.updates("c1")
    assert [u.status for u in accepted] == [S.ACCEPTED]  # fills carry the rest
    assert accepted[0].broker_order_id == venue.no
    fills = record.fills("c1")
    assert [f.quantity for f in fills] == [D(4), D(6)]
    assert all(f.price == D(71_000) and f.side is Side.BUY and f.broker_order_id == venue.no
               for f in fills)
    assert len({f.fill_id for f in fills}) == 2
    assert all(f.fill_id.startswith(f"20240603-{venue.no}-") for f in fills)
    inst = broker.instrument(SAMSUNG)
    assert [f.commission for f in fills] == [inst.fees_for(Side.BUY, 71_000, q).commission
                                            for q in (4, 6)]
    assert sum(f.commission for f in fills) == venue.fee  # the venue charged the same
    assert venue.filled == 10 and not venue.active


def test_sell_pays_the_krx_sell_tax_of_the_day():
    async def scenario():
        async with Harness() as h:
            await h.broker.place_order(h.order(qty=5, price=None, order_type=OrderType.MARKET))
            await until(lambda: h.broker.holdings.get(SAMSUNG), what="bought")
            await h.broker.place_order(h.order(side=Side.SELL, qty=5, price=None,
                                               order_type=OrderType.MARKET))
            await until(lambda: len(h.record.fills()) >= 2, what="sold")
            await until(lambda: SAMSUNG not in h.broker.holdings, what="flat")
            return h.record.fills(), h.venue.accounts[ACCOUNT].cash

    fills, cash = run(scenario())
    buy, sell = fills[0], fills[-1]
    assert buy.side is Side.BUY and buy.tax == 0
    assert sell.side is Side.SELL
    assert sell.tax == (sell.price * 5 * D("0.0018")).to_integral_value(rounding="ROUND_DOWN")
    spent = sum(f.price * f.quantity * (1 if f.side is Side.BUY else -1) + f.commission + f.tax
                for f in fills)
    assert cash == 100_000_000 - spent  # the adapter's fees are the venue's to the won


def test_cancel_after_a_partial_fill():
    async def scenario():
        async with Harness() as h:
            order = h.order(qty=10, price=71_000)
            await h.broker.place_order(order)
            await until(lambda: h.record.updates("c1"))
            await h.sim(action="external", code=SAMSUNG, side="sell", qty=3, price=71_000)
            await until(lambda: h.record.fills("c1"))
            await h.broker.cancel_order(order)
            await until(lambda: len(h.record.updates("c1")) == 2, what="cancel")
            return h.record.updates("c1"), h.venue.open_orders(ACCOUNT), h.record.fills("c1")

    updates, open_orders, fills = run(scenario())
    assert updates[-1].status is S.CANCELLED
    assert [f.quantity for f in fills] == [D(3)]
    assert open_orders == []


def test_modify_price_then_reduce_quantity():
    async def scenario():
        async with Harness() as h:
            order = h.order(qty=10, price=70_000)
            await h.broker.place_order(order)
            await until(lambda: h.record.updates("c1"))
            first_no = h.record.updates("c1")[0].broker_order_id
            await h.broker.amend_order(order, price=D(71_000))  # now the best bid
            await until(lambda: len(h.record.updates("c1")) == 2, what="modify")
            await h.sim(action="external", code=SAMSUNG, side="sell", qty=2, price=71_000)
            await until(lambda: h.record.fills("c1"), what="fill on the modified order")
            await h.broker.amend_order(order, quantity=D(6))
            await until(lambda: len(h.record.updates("c1")) == 3, what="partial cancel")
            working = h.venue.open_orders(ACCOUNT)
            return h.record, first_no, working

    record, first_no, working = run(scenario())
    modified, reduced = record.updates("c1")[1:]
    assert modified.status is S.ACCEPTED and modified.price == D(71_000)
    assert modified.quantity == D(10)
    fill = record.fills("c1")[0]
    assert fill.client_order_id == "c1" and fill.broker_order_id != first_no
    assert fill.price == D(71_000) and fill.quantity == D(2)
    assert reduced.status is S.ACCEPTED and reduced.quantity == D(6)
    assert [(o.price, o.unfilled) for o in working] == [(71_000, 4)]


def test_kiwoom_cannot_raise_a_quantity_and_market_orders_cannot_be_modified():
    async def scenario():
        async with Harness() as h:
            order = h.order(qty=5, price=70_000)
            await h.broker.place_order(order)
            await until(lambda: h.record.updates("c1"))
            with pytest.raises(BrokerError, match="cannot raise"):
                await h.broker.amend_order(order, quantity=D(8))
            with pytest.raises(BrokerError, match="valid KRX price"):
                await h.broker.amend_order(order, price=D(70_010))
    run(scenario())


def test_prechecks_refuse_what_krx_refuses_before_sending():
    async def scenario():
        async with Harness() as h:
            bad = [h.order(price=71_050), h.order(price=93_000), h.order(price=49_600),
                   h.order(side=Side.SELL, qty=1), h.order(qty=D("1.5")),
                   h.order(order_type=OrderType.STOP, stop_price=D(72_000)),
                   h.order(symbol="999999")]
            messages = []
            for order in bad:
                with pytest.raises(BrokerUnavailable) as info:
                    await h.broker.place_order(order)
                messages.append(str(info.value))
            return messages, dict(h.venue.orders)

    messages, venue_orders = run(scenario())
    assert "not a valid KRX price (tick 100)" in messages[0]
    assert "outside today's band 49700-92300" in messages[1]
    assert "outside today's band" in messages[2]
    assert "no short selling" in messages[3]
    assert "whole number of shares" in messages[4]
    assert "limit and market" in messages[5]
    assert "not a stock Kiwoom lists" in messages[6]
    assert venue_orders == {}  # nothing reached Kiwoom


def test_venue_rejection_becomes_a_rejected_report_with_kiwooms_reason():
    async def scenario():
        async with Harness() as h:
            await h.broker.place_order(h.order(qty=2_000, price=71_000))  # 142M > 100M cash
            await until(lambda: h.record.updates("c1"))
            return h.record.updates("c1")

    (update,) = run(scenario())
    assert update.status is S.REJECTED
    assert "주문가능금액" in update.reason


def test_chejan_before_the_reply_is_held_and_bound_to_the_order():
    async def scenario():
        async with Harness(fake_options={"chejan_before_reply": True}) as h:
            await h.broker.place_order(h.order(qty=3, price=71_100))  # crosses at once
            await until(lambda: len(h.record.fills("c1")) == 1)
            await asyncio.sleep(0.3)  # past the grace period for unknown numbers
            return h.record

    record = run(scenario())
    assert [u.status for u in record.updates()] == [S.ACCEPTED]
    assert record.updates()[0].client_order_id == "c1"
    assert record.fills("c1")[0].quantity == D(3)


def test_an_order_placed_elsewhere_is_reported_by_its_number():
    async def scenario():
        async with Harness() as h:
            # As if typed into Kiwoom's HTS: straight to the bridge, not through the adapter.
            reply = await h.broker.client.request("order", {
                "account": ACCOUNT, "order_type": 1, "code": SAMSUNG, "qty": 1,
                "price": 70_000, "hoga": "00"})
            await until(lambda: h.record.updates(), timeout=2)
            return reply, h.record.updates()

    reply, updates = run(scenario())
    assert updates[0].client_order_id == ""
    assert updates[0].broker_order_id == reply["order_no"]
    assert updates[0].status is S.ACCEPTED


def test_rate_limit_breaches_are_queued_not_dropped():
    async def scenario():
        async with Harness() as h:
            waits_before = len(h.broker.queue_waits)
            started = time.monotonic()
            # 11 TR queries at once: Kiwoom allows 5 per second.
            deposits = await asyncio.gather(*(h.broker._load_deposit() for _ in range(11)))
            tr_elapsed = time.monotonic() - started
            orders = [h.order(qty=1, price=70_000 - 100 * i) for i in range(7)]
            started = time.monotonic()
            await asyncio.gather(*(h.broker.place_order(o) for o in orders))
            order_elapsed = time.monotonic() - started
            await until(lambda: len(h.record.updates()) == 7, what="7 acceptances")
            stats = await h.sim(action="stats")
            return (deposits, tr_elapsed, order_elapsed, h.broker.queue_waits[waits_before:],
                    stats, h.record.updates())

    deposits, tr_elapsed, order_elapsed, waits, stats, updates = run(scenario())
    assert len(deposits) == 11 and all(d.cash == 100_000_000 for d in deposits)
    assert all(u.status is S.ACCEPTED for u in updates)
    assert stats["refused"] == {}  # the control never saw a request beyond its limits
    assert tr_elapsed >= 2.0  # 5 + 5 + 1 over 1.1 s windows
    assert order_elapsed >= 1.0
    assert len(waits) >= 6 + 2 and max(waits) >= 2.0  # each held request was told its wait


def test_a_refused_request_is_retried_after_a_pause():
    """If Kiwoom's own counter is stricter than ours (-200), the bridge backs off and
    retries instead of failing the request."""
    limits = BridgeLimits(tr_windows=((1.0, 50),), refused_pause_s=0.3)

    async def scenario():
        async with Harness(limits=limits) as h:
            # The login's reconciliation already spent 4 of the control's 5 per second.
            results = await asyncio.gather(*(h.broker._load_deposit() for _ in range(3)))
            stats = await h.sim(action="stats")
            return results, stats

    results, stats = run(scenario())
    assert len(results) == 3 and all(r.cash == 100_000_000 for r in results)
    assert stats["refused"].get("-200", 0) >= 1  # the control did refuse ...
    # ... and every request still got its answer.


def test_sell_side_order_types_limit_modify_and_cancel():
    """SendOrder types 2 (sell), 6 (modify sell) and 4 (cancel sell) with hoga 00."""
    async def scenario():
        async with Harness() as h:
            await h.broker.place_order(h.order(qty=10, price=None, order_type=OrderType.MARKET))
            await until(lambda: h.broker.holdings.get(SAMSUNG), what="bought")
            sell = h.order(side=Side.SELL, qty=10, price=72_000)
            await h.broker.place_order(sell)
            await until(lambda: h.record.updates(sell.client_order_id), what="sell accepted")
            await h.broker.amend_order(sell, price=D(71_900))
            await until(lambda: len(h.record.updates(sell.client_order_id)) == 2, what="modify")
            await h.broker.cancel_order(sell)
            await until(lambda: len(h.record.updates(sell.client_order_id)) == 3, what="cancel")
            orders = sorted(h.venue.orders.values(), key=lambda o: o.no)
            return h.record.updates(sell.client_order_id), orders

    updates, orders = run(scenario())
    assert [u.status for u in updates] == [S.ACCEPTED, S.ACCEPTED, S.CANCELLED]
    assert updates[1].price == D(71_900)
    sells = [(o.kind, o.side, o.hoga, o.price) for o in orders[1:]]
    assert sells == [("new", "sell", "00", 72_000), ("modify", "sell", "00", 71_900),
                     ("cancel", "sell", "00", 71_900)]
    assert orders[0].hoga == "03" and orders[0].side == "buy"


def test_the_controls_return_codes_reach_the_caller_with_their_reasons():
    # No retry in the bridge: the control's own -308 comes back as the order's reason.
    limits = BridgeLimits(order_windows=((1.0, 50),), max_refusals=1)

    async def scenario():
        async with Harness(limits=limits) as h:
            orders = [h.order(qty=1, price=70_000 - 100 * i) for i in range(6)]
            results = await asyncio.gather(*(h.broker.place_order(o) for o in orders),
                                           return_exceptions=True)
            client = h.broker.client
            errors = []
            for op, args in (("order", {"account": "9999999999", "order_type": 1,
                                        "code": SAMSUNG, "qty": 1, "price": 70_000}),
                             ("tr", {"trcode": "opt99999", "inputs": {}})):
                with pytest.raises(BridgeError) as info:
                    await client.request(op, args)
                errors.append(info.value)
            return results, errors, set(h.broker.orders)

    results, (account, trcode), tracked = run(scenario())
    refused = [r for r in results if isinstance(r, Exception)]
    assert len(refused) == 1 and isinstance(refused[0], BrokerUnavailable)
    assert "-308" in str(refused[0]) and "주문전송 과부하" in str(refused[0])
    assert "more than 5 per second" in str(refused[0])
    assert len(tracked) == 5  # the refused order is not tracked as working
    assert (account.code, account.kind) == (-340, "input") and "계좌정보없음" in str(account)
    assert (trcode.code, trcode.kind) == (-201, "input") and "전문작성 초기화 실패" in str(trcode)


def test_each_execution_is_reported_once_even_when_events_repeat():
    async def scenario():
        async with Harness() as h:
            seen: list[dict] = []
            client = h.broker.client
            deliver = client.on_event
            client.on_event = lambda msg: (seen.append(msg), deliver(msg))
            await h.broker.place_order(h.order(qty=10, price=71_000))
            await until(lambda: h.record.updates("c1"))
            for qty in (4, 6):
                await h.sim(action="external", code=SAMSUNG, side="sell", qty=qty, price=71_000)
            await until(lambda: len(h.record.fills("c1")) == 2, what="two fills")
            for msg in [m for m in seen if m["ev"] == "chejan"]:
                deliver(dict(msg))  # Kiwoom repeating every chejan event
            await h.broker.reconcile("test")  # and a reconciliation on top
            await asyncio.sleep(0.05)
            return h.record.fills("c1"), h.record.updates("c1"), h.broker.holdings[SAMSUNG]

    fills, updates, holding = run(scenario())
    assert [f.quantity for f in fills] == [D(4), D(6)]
    assert [u.status for u in updates] == [S.ACCEPTED]
    assert holding.qty == 10


def test_fills_carry_kiwooms_own_commission_from_the_chejan():
    """FIDs 938/939 (cumulative per order number) are what Kiwoom charged: they win over
    the Instrument's schedule (here the venue charges 0.2%, the schedule says 0.35%)."""
    fixed = datetime.fromtimestamp(T0 / 1e9, KST)
    venue = FakeKiwoomServer(commission=D("0.0020"), clock=lambda: fixed)

    async def scenario():
        async with Harness(venue=venue) as h:
            await h.broker.place_order(h.order(qty=10, price=71_000))
            await until(lambda: h.record.updates("c1"))
            for qty in (4, 6):
                await h.sim(action="external", code=SAMSUNG, side="sell", qty=qty, price=71_000)
            await until(lambda: len(h.record.fills("c1")) == 2, what="two fills")
            return h.record.fills("c1"), venue.orders[h.record.updates("c1")[0].broker_order_id]

    fills, order = run(scenario())
    assert [f.commission for f in fills] == [D(568), D(852)]  # 0.2% of 284,000 and 426,000
    assert sum(f.commission for f in fills) == order.fee and all(f.tax == 0 for f in fills)
