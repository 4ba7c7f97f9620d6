"""Tick mode: orders against a live book and trade prints."""

from __future__ import annotations

from engine.models import Liquidity, OrderStatus, OrderType, TimeInForce
from tests.brokers.paper.harness import D, Harness

S = OrderStatus
IOC, FOK = TimeInForce.IOC, TimeInForce.FOK


def liquidity_of(h: Harness, order) -> list[Liquidity]:
    return [f.liquidity for f in h.fills if f.client_order_id == order.client_order_id]


def test_market_buy_walks_the_book_and_the_rest_is_cancelled_when_it_runs_out():
    h = Harness()
    h.book([(99, 5)], [(100, 5), (101, 3)])
    order = h.buy(10)
    assert h.fills_of(order) == [(D(5), D(100)), (D(3), D(101))]
    assert liquidity_of(h, order) == [Liquidity.TAKER] * 2
    last = h.updates_of(order)[-1]
    assert last.status is S.CANCELLED and last.filled_qty == 8
    assert "liquidity" in last.reason


def test_size_taken_from_a_snapshot_is_not_taken_twice_until_the_next_book():
    h = Harness()
    h.book([(99, 5)], [(100, 5), (101, 5)])
    first, second = h.buy(4), h.buy(4)
    assert h.fills_of(first) == [(D(4), D(100))]
    assert h.fills_of(second) == [(D(1), D(100)), (D(3), D(101))]
    h.book([(99, 5)], [(100, 5), (101, 5)])  # a fresh snapshot: size is back
    assert h.fills_of(h.buy(5)) == [(D(5), D(100))]


def test_market_sell_walks_the_bids():
    h = Harness()
    h.trade(100)
    h.buy(10)  # holdings to sell (no short selling of TEST)
    h.book([(100, 6), (99, 6)], [(101, 5)])
    sell = h.sell(10)
    assert h.fills_of(sell) == [(D(6), D(100)), (D(4), D(99))]


def test_an_order_resting_before_the_first_book_takes_from_it_on_arrival_of_the_book():
    h = Harness()
    early = h.buy(10, 200)  # no data yet: waits
    h.book([(100, 6)], [(101, 5), (102, 9)])
    assert h.fills_of(early) == [(D(5), D(101)), (D(5), D(102))]


def test_marketable_limit_takes_up_to_its_price_then_rests_and_later_fills_as_maker():
    h = Harness()
    h.book([(99, 5)], [(100, 2), (101, 2), (102, 5)])
    order = h.buy(6, 101)
    assert h.fills_of(order) == [(D(2), D(100)), (D(2), D(101))]
    assert h.status(order) is S.ACCEPTED  # 2 still resting at 101
    h.trade(100, size=10)  # a print below 101: the market traded through it
    assert h.fills_of(order)[-1] == (D(2), D(101))
    assert liquidity_of(h, order) == [Liquidity.TAKER, Liquidity.TAKER, Liquidity.MAKER]


def test_ioc_remainder_is_cancelled():
    h = Harness()
    h.book([(99, 5)], [(100, 2), (101, 2), (102, 5)])
    order = h.buy(6, 101, tif=IOC)
    assert h.filled(order) == 4
    last = h.updates_of(order)[-1]
    assert last.status is S.CANCELLED and last.filled_qty == 4 and "IOC" in last.reason


def test_fok_fills_everything_or_nothing():
    h = Harness()
    h.book([(99, 5)], [(100, 2), (101, 2), (102, 5)])
    killed = h.buy(6, 101, tif=FOK)
    assert h.fills_of(killed) == []
    assert h.status(killed) is S.CANCELLED and "FOK" in h.reason(killed)
    done = h.buy(4, 101, tif=FOK)
    assert h.fills_of(done) == [(D(2), D(100)), (D(2), D(101))]
    market_killed = h.place("BUY", 100, OrderType.MARKET, tif=FOK)
    assert h.fills_of(market_killed) == [] and h.status(market_killed) is S.CANCELLED


def test_a_resting_limit_needs_a_trade_through_it_by_default():
    h = Harness()
    h.trade(101)
    order = h.buy(3, 99)
    h.trade(99, size=10)  # at the limit: our place in the queue is unknown
    assert h.fills_of(order) == []
    h.trade(98, size=10)  # through it: everyone at 99 was filled
    assert h.fills_of(order) == [(D(3), D(99))]
    assert liquidity_of(h, order) == [Liquidity.MAKER]


def test_fill_on_touch_fills_at_the_limit_price_print():
    h = Harness(fill_on_touch=True)
    h.trade(101)
    buy = h.buy(3, 99)
    h.trade(99, size=10)
    assert h.fills_of(buy) == [(D(3), D(99))]


def test_price_time_priority_shares_the_trade_size():
    h = Harness()
    h.trade(101)
    a = h.buy(3, 99)
    b = h.buy(3, 99)
    c = h.buy(3, 100)
    h.trade(98, size=5)
    assert h.fills_of(c) == [(D(3), D(100))]  # better price first
    assert h.fills_of(a) == [(D(2), D(99))]  # then the earlier order
    assert h.fills_of(b) == []
    h.trade(98, size=2)
    assert h.fills_of(a)[-1] == (D(1), D(99))
    assert h.fills_of(b) == [(D(1), D(99))]


def test_resting_sell_limit_fills_when_a_trade_prints_above_it():
    h = Harness()
    h.trade(100)
    h.buy(5)  # something to sell
    sell = h.sell(5, 102)
    h.trade(102, size=9)
    assert h.fills_of(sell) == []
    h.trade(103, size=2)
    assert h.fills_of(sell) == [(D(2), D(102))]
    h.trade(104, size=9)
    assert h.fills_of(sell)[-1] == (D(3), D(102))
    assert h.status(sell) is None or h.status(sell) is S.ACCEPTED  # FILLED is told by fills
    assert h.venue.open_orders() == []


def test_stop_market_triggers_on_a_trade_at_its_stop_and_pays_slippage_away_from_us():
    h = Harness(slippage_bps=100)
    h.trade(100)
    stop = h.place("BUY", 2, OrderType.STOP, stop=105)
    h.trade(104)
    assert h.fills_of(stop) == []
    h.trade(106)
    # 106 * 1.01 = 107.06, rounded up (against the buyer) to the 1-unit tick.
    assert h.fills_of(stop) == [(D(2), D(108))]


def test_sell_stop_triggers_on_touch():
    h = Harness()
    h.trade(100)
    h.buy(4)
    stop = h.place("SELL", 4, OrderType.STOP, stop=95)
    h.trade(96)
    assert h.fills_of(stop) == []
    h.trade(95)
    assert h.fills_of(stop) == [(D(4), D(95))]


def test_stop_limit_fills_at_the_trigger_when_within_the_limit_else_rests():
    h = Harness()
    h.trade(100)
    within = h.place("BUY", 1, OrderType.STOP_LIMIT, price=106, stop=105)
    h.trade(105)
    assert h.fills_of(within) == [(D(1), D(105))]

    h2 = Harness()
    h2.trade(100)
    gapped = h2.place("BUY", 1, OrderType.STOP_LIMIT, price=106, stop=105)
    h2.trade(108)  # triggered above its limit: becomes a resting buy at 106
    assert h2.fills_of(gapped) == []
    h2.trade(106)
    assert h2.fills_of(gapped) == []
    h2.trade(105)
    assert h2.fills_of(gapped) == [(D(1), D(106))]
    assert liquidity_of(h2, gapped) == [Liquidity.MAKER]


def test_an_order_placed_before_any_data_meets_the_first_trade():
    h = Harness()
    limit = h.buy(2, 100)
    assert h.status(limit) is S.ACCEPTED and h.fills_of(limit) == []
    market = h.buy(1)  # a market buy cannot be valued (cash check) without a price
    assert h.status(market) is S.REJECTED and "no market price" in h.reason(market)
    h.trade(97, size=1)
    # The market opened through the limit: the order gets the better price.
    assert h.fills_of(limit) == [(D(2), D(97))]
    assert liquidity_of(h, limit) == [Liquidity.TAKER]


def test_without_a_book_a_marketable_limit_or_market_order_trades_at_the_last_price():
    h = Harness()
    h.trade(100)
    assert h.fills_of(h.buy(3, 102)) == [(D(3), D(100))]
    assert h.fills_of(h.buy(3)) == [(D(3), D(100))]
    # At the last price is not through it: it rests, like a resting order would.
    rests = h.buy(3, 100)
    assert h.fills_of(rests) == [] and h.status(rests) is S.ACCEPTED
    touch = Harness(fill_on_touch=True)
    touch.trade(100)
    assert touch.fills_of(touch.buy(3, 100)) == [(D(3), D(100))]


def test_post_only_is_rejected_when_it_would_take_liquidity():
    h = Harness()
    h.book([(99, 5)], [(100, 5)])
    taker = h.buy(1, 100, post_only=True)
    assert h.status(taker) is S.REJECTED and "post-only" in h.reason(taker)
    maker = h.buy(1, 99, post_only=True)
    assert h.status(maker) is S.ACCEPTED and h.fills_of(maker) == []


def test_bars_are_ignored_for_matching_once_trades_are_seen():
    h = Harness()
    h.trade(100)
    order = h.buy(1, 95)
    h.bar(100, 101, 90, 100)  # a bar summarising trades: not matched twice
    assert h.fills_of(order) == []
    h.trade(94)
    assert h.fills_of(order) == [(D(1), D(95))]


def test_malformed_prints_are_ignored():
    h = Harness()
    h.trade(100)
    order = h.buy(1, 99)
    h.trade(float("nan"))
    h.trade(-5)
    assert h.fills_of(order) == []
    assert h.venue.matching.markets["TEST/USD"].last == 100
