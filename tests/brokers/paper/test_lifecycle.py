"""Latency on the engine clock, DAY expiry, cancels, amends and the venue's queries."""

from __future__ import annotations

import asyncio

import pandas as pd

from brokers.paper import create_broker
from engine.bus import EventBus
from engine.clock import LiveClock
from engine.execution.broker import OrderUpdate
from engine.models import (
    Fill,
    Order,
    OrderStatus,
    OrderType,
    Side,
    Tick,
    TimeInForce,
    crypto_spot,
    krx_stock,
)
from tests.brokers.paper.harness import MINUTE, NS, TEST, D, Harness, run

S = OrderStatus
DAY = TimeInForce.DAY
SAMSUNG = krx_stock("005930")
MS = 1_000_000


def utc(text: str) -> int:
    return int(pd.Timestamp(text, tz="UTC").value)


# ---- latency ---------------------------------------------------------------------


def test_an_order_reaches_the_venue_after_the_latency_and_meets_the_book_of_then():
    h = Harness(latency_ms=50)
    h.book([(99, 5)], [(100, 5)])
    sent_at = h.clock.now_ns()
    order = h.buy(3)
    assert h.updates == []  # still travelling
    h.book([(101, 5)], [(102, 5)], dt=0.02)  # the market moves meanwhile
    h.clock.advance_to(sent_at + 50 * MS)
    accepted = h.updates_of(order)[0]
    assert accepted.status is S.ACCEPTED and accepted.ts_ns == sent_at + 50 * MS
    assert h.fills_of(order) == [(D(3), D(102))]
    assert h.fills[0].ts_ns == sent_at + 50 * MS


def test_a_cancel_that_arrives_after_the_fill_changes_nothing():
    h = Harness(latency_ms=50)
    h.trade(101)
    order = h.buy(2, 100)
    h.advance(0.05)
    h.cancel(order)  # on its way ...
    h.trade(99, dt=0.01)  # ... while the order fills
    h.advance(0.1)
    assert h.fills_of(order) == [(D(2), D(100))]
    assert [u.status for u in h.updates_of(order)] == [S.ACCEPTED]


def test_latency_with_the_live_clock_uses_the_running_loop():
    async def scenario():
        bus, clock = EventBus(), LiveClock()
        venue = create_broker(bus=bus, clock=clock, instruments=[TEST], latency_ms=20,
                              initial_cash={"USD": 10_000})
        updates: list[OrderUpdate] = []
        bus.subscribe(OrderUpdate, updates.append)
        await venue.connect()
        bus.publish(Tick("TEST/USD", clock.now_ns(), 100.0, 5.0))
        await venue.place_order(Order("c1", "paper", "TEST/USD", Side.BUY, OrderType.LIMIT,
                                      D(1), D(99), status=S.SUBMITTED))
        assert updates == []
        await asyncio.sleep(0.1)
        return updates

    updates = asyncio.run(scenario())
    assert [u.status for u in updates] == [S.ACCEPTED]


# ---- DAY orders -------------------------------------------------------------------


def test_day_order_expires_at_the_krx_close_and_gtc_survives():
    h = Harness(SAMSUNG)  # 09:00 KST
    h.trade(70_000, dt=3600)
    day = h.buy(1, 69_000, tif=DAY)
    gtc = h.buy(1, 69_000)
    h.clock.advance_to(utc("2024-03-04 06:29:59"))
    assert h.status(day) is S.ACCEPTED
    h.clock.advance_to(utc("2024-03-04 06:30"))  # 15:30 KST
    last = h.updates_of(day)[-1]
    assert last.status is S.EXPIRED and "DAY" in last.reason
    assert last.ts_ns == utc("2024-03-04 06:30")
    assert h.status(gtc) is S.ACCEPTED
    # The GTC buy still holds 69,000 + 11 (10.35 commission, rounded up).
    krw = next(a for a in run(h.venue.fetch_balances()) if a.currency == "KRW")
    assert krw.buying_power == D(100_000_000) - D(69_011)


def test_day_order_placed_after_the_close_lives_until_the_next_close():
    h = Harness(SAMSUNG, start=utc("2024-03-04 07:00"))  # 16:00 KST, market shut
    h.venue.set_reference_price("005930", 70_000)
    day = h.buy(1, 69_000, tif=DAY)
    h.clock.advance_to(utc("2024-03-05 06:29"))
    assert h.status(day) is S.ACCEPTED
    h.clock.advance_to(utc("2024-03-05 06:31"))
    assert h.status(day) is S.EXPIRED


def test_crypto_day_order_expires_at_midnight_utc():
    h = Harness(start=utc("2024-03-04 22:00"))
    h.trade(100)
    day = h.buy(1, 90, tif=DAY)
    h.clock.advance_to(utc("2024-03-04 23:59:59"))
    assert h.status(day) is S.ACCEPTED
    h.clock.advance_to(utc("2024-03-05 00:00"))
    assert h.status(day) is S.EXPIRED


def test_bar_mode_day_order_still_trades_in_the_last_bar_then_expires():
    # The last 1-minute bar (15:29 KST) is published at 15:30, after the close
    # timer fired: in bar mode the bar decides, in time order.
    h = Harness(SAMSUNG, start=utc("2024-03-04 06:27"))
    h.bar(70_000, 70_100, 69_900, 70_000)  # 15:27
    filled = h.buy(1, 69_800, tif=DAY)
    expires = h.buy(1, 69_000, tif=DAY)
    h.bar(70_000, 70_100, 69_900, 70_000)  # 15:28
    h.bar(70_000, 70_000, 69_800, 69_900)  # 15:29, reaches 69,800
    assert h.fills_of(filled) == [(D(1), D(69_800))]
    assert h.status(expires) is S.EXPIRED


def test_daily_bars_day_order_gets_its_whole_session():
    h = Harness(SAMSUNG, start=utc("2024-03-04 00:00"))
    day_ns = 86_400 * NS
    h.bar(70_000, 71_000, 69_000, 70_500, tf="1d", tf_ns=day_ns)  # Monday
    hit = h.buy(1, 70_000, tif=DAY)
    miss = h.buy(1, 60_000, tif=DAY)
    h.bar(70_500, 71_000, 69_900, 70_800, tf="1d", tf_ns=day_ns)  # Tuesday
    assert h.fills_of(hit) == [(D(1), D(70_000))]
    assert h.status(miss) is S.EXPIRED


def test_expire_day_orders_can_be_forced_from_a_session_hook():
    h = Harness(SAMSUNG)
    h.trade(70_000)
    day = h.buy(1, 69_000, tif=DAY)
    assert h.venue.expire_day_orders(utc("2024-03-04 06:00")) == 0
    assert h.venue.expire_day_orders(utc("2024-03-04 06:30")) == 1
    assert h.status(day) is S.EXPIRED
    h.clock.advance_to(utc("2024-03-04 07:00"))  # the timer finds it gone
    assert [u.status for u in h.updates_of(day)] == [S.ACCEPTED, S.EXPIRED]


# ---- cancels ------------------------------------------------------------------------


def test_cancel_releases_the_reservation():
    h = Harness(SAMSUNG, initial_cash=1_000_000)
    h.trade(70_000)
    order = h.buy(10, 69_000)
    assert run(h.venue.fetch_balances())[0].buying_power < 400_000
    h.cancel(order)
    last = h.updates_of(order)[-1]
    assert last.status is S.CANCELLED and last.filled_qty == 0 and last.broker_order_id
    assert run(h.venue.fetch_balances())[0].buying_power == 1_000_000


def test_cancel_of_a_partially_filled_order_reports_the_filled_quantity():
    h = Harness()
    h.trade(101)
    order = h.buy(5, 100)
    h.trade(99, size=2)
    h.cancel(order)
    last = h.updates_of(order)[-1]
    assert (last.status, last.filled_qty) == (S.CANCELLED, D(2))


def test_cancel_all_by_symbol_and_by_broker_order_id():
    other = crypto_spot("OTHER/USD", tick=1, lot=1, min_notional=0)
    h = Harness(TEST, other)
    h.trade(100)
    h.trade(50, symbol="OTHER/USD")
    a, b = h.buy(1, 90), h.buy(1, 40, symbol="OTHER/USD")
    run(h.venue.cancel_all("TEST/USD"))
    assert (h.status(a), h.status(b)) == (S.CANCELLED, S.ACCEPTED)
    by_venue_id = Order("unknown-to-venue", "paper", "OTHER/USD", Side.BUY, OrderType.LIMIT,
                        D(1), D(40), broker_order_id=h.updates_of(b)[0].broker_order_id)
    h.cancel(by_venue_id)
    assert h.status(b) is S.CANCELLED


# ---- amends ----------------------------------------------------------------------------


def test_amend_reports_the_change_and_more_quantity_loses_priority():
    h = Harness()
    h.trade(101)
    a, b = h.buy(3, 99), h.buy(3, 99)
    run(h.venue.amend_order(a, quantity=D(4)))
    report = h.updates_of(a)[-1]
    assert (report.status, report.quantity, report.price) == (S.ACCEPTED, D(4), None)
    h.trade(98, size=3)
    assert h.fills_of(b) == [(D(3), D(99))] and h.fills_of(a) == []


def test_amend_down_keeps_priority():
    h = Harness()
    h.trade(101)
    a, b = h.buy(3, 99), h.buy(3, 99)
    run(h.venue.amend_order(a, quantity=D(2)))
    h.trade(98, size=2)
    assert h.fills_of(a) == [(D(2), D(99))] and h.fills_of(b) == []


def test_amend_to_a_marketable_price_trades_at_once():
    h = Harness()
    h.book([(98, 5)], [(100, 5)])
    order = h.buy(2, 99)
    run(h.venue.amend_order(order, price=D(100)))
    assert h.updates_of(order)[-1].price == D(100)
    assert h.fills_of(order) == [(D(2), D(100))]


def test_rejected_amend_leaves_the_order_as_it_was():
    h = Harness(SAMSUNG)
    h.trade(70_000)
    order = h.buy(5, 69_000)
    run(h.venue.amend_order(order, price=D(69_050)))
    assert "amend rejected" in h.updates_of(order)[-1].reason
    assert "tick grid" in h.updates_of(order)[-1].reason
    h.trade(68_000, size=1)
    run(h.venue.amend_order(order, quantity=D(1)))
    assert "not above the 1 already filled" in h.updates_of(order)[-1].reason
    (working,) = run(h.venue.fetch_open_orders())
    assert (working.price, working.quantity, working.filled_qty) == (D(69_000), D(5), D(1))


# ---- queries ----------------------------------------------------------------------------


def test_open_orders_history_and_fills_since():
    h = Harness()
    h.trade(101)
    order = h.buy(5, 100)
    h.trade(99, size=2)
    cutoff = h.clock.now_ns() + 1
    h.trade(99, size=1)
    (working,) = run(h.venue.fetch_open_orders())
    assert (working.status, working.filled_qty, working.avg_fill_price) == \
        (S.PARTIALLY_FILLED, D(3), D(100))
    assert working.broker_order_id == h.updates_of(order)[0].broker_order_id
    assert [f.quantity for f in run(h.venue.fetch_fills(cutoff))] == [D(1)]
    assert len(run(h.venue.fetch_fills())) == 2
    h.trade(99, size=5)
    (done,) = run(h.venue.fetch_order_history())
    assert (done.status, done.filled_qty) == (S.FILLED, D(5))
    assert run(h.venue.fetch_open_orders()) == []


def test_fill_ids_are_unique_and_reports_carry_the_venue_order_id():
    h = Harness()
    h.book([(99, 50)], [(100, 1), (101, 1), (102, 50)])
    for _ in range(5):
        h.buy(3)
    ids = [f.fill_id for f in h.fills]
    assert len(ids) == len(set(ids)) == len(h.fills) > 5
    accepted = {u.client_order_id: u.broker_order_id for u in h.updates
                if u.status is S.ACCEPTED}
    assert all(f.broker_order_id == accepted[f.client_order_id] for f in h.fills)
    assert isinstance(h.fills[0], Fill)


def test_fetch_bars_slices_and_resamples_the_source():
    idx = pd.date_range("2024-03-04 00:00", periods=10, freq="1min", tz="UTC", name="time")
    frame = pd.DataFrame({"open": range(10), "high": range(1, 11), "low": range(10),
                          "close": range(1, 11), "volume": [1.0] * 10}, index=idx,
                         dtype=float)
    h = Harness(bar_source=None)
    h.venue.bar_source = {"TEST/USD": frame}
    part = run(h.venue.fetch_bars("TEST/USD", "1m", int(idx[2].value), int(idx[5].value)))
    assert list(part.index) == list(idx[2:5])
    five = run(h.venue.fetch_bars("TEST/USD", "5m"))
    assert list(five["volume"]) == [5.0, 5.0] and list(five["close"]) == [5.0, 10.0]
    assert run(h.venue.fetch_bars("NOPE", "1m")).empty
    assert len(run(h.venue.fetch_bars("TEST/USD", "1m", int(idx[0].value) + MINUTE))) == 9
