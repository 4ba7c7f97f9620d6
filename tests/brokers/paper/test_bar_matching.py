"""Bar mode: the backtester's conventions (those of backtesting.py)."""

from __future__ import annotations

import pytest

from engine.models import Bar, Liquidity, OrderStatus, OrderType, TimeInForce
from tests.brokers.paper.harness import MINUTE, D, Harness

S = OrderStatus
STOP, STOP_LIMIT = OrderType.STOP, OrderType.STOP_LIMIT


def liquidity_of(h: Harness, order) -> list[Liquidity]:
    return [f.liquidity for f in h.fills if f.client_order_id == order.client_order_id]


def started() -> Harness:
    """A venue that has seen one bar closing at 100 (so orders can be valued)."""
    h = Harness()
    h.bar(100, 101, 99, 100)
    return h


def test_market_order_after_bar_t_fills_at_the_open_of_bar_t_plus_1():
    h = started()
    order = h.buy(5)
    assert h.fills_of(order) == []  # nothing until the next bar
    h.bar(103, 110, 102, 108)
    assert h.fills_of(order) == [(D(5), D(103))]
    assert liquidity_of(h, order) == [Liquidity.TAKER]


def test_market_order_slippage_is_rounded_against_the_trader():
    h = Harness(slippage_bps=10)
    h.bar(100, 101, 99, 100)
    h.buy(1)
    h.bar(1000, 1001, 999, 1000)  # buy: 1000 * 1.001 = 1001
    h.sell(1)
    h.bar(1000, 1001, 999, 1000)  # sell: 1000 * 0.999 = 999
    assert [(f.side.value, f.price) for f in h.fills] == [("BUY", D(1001)), ("SELL", D(999))]


def test_an_order_placed_as_bar_t_closes_never_fills_in_bar_t():
    # The order reaches the venue before the venue's handler sees bar t (handler
    # order on the bus): it was placed at bar t's end, so bar t is not for it.
    h = started()
    bar_t = Bar("TEST/USD", "1m", h.bar_ts, 100, 120, 80, 110, 1000)
    h.bar_ts += MINUTE
    h.clock.advance_to(h.bar_ts)
    order = h.buy(1, 100)
    h.venue.on_bar(bar_t)
    assert h.fills_of(order) == []
    h.bar(105, 106, 99, 100)
    assert h.fills_of(order) == [(D(1), D(100))]


@pytest.mark.parametrize(("bar", "expected"), [
    ((103, 104, 98, 100), (D(2), D(100))),  # dips to the limit: fills at the limit
    ((97, 99, 95, 98), (D(2), D(97))),  # gaps below it: fills at the better open
    ((103, 104, 100, 102), (D(2), D(100))),  # low == limit: a touch fills (default)
    ((103, 104, 101, 102), None),  # never reached
])
def test_buy_limit_fills_at_min_of_limit_and_open(bar, expected):
    h = started()
    order = h.buy(2, 100)
    h.bar(*bar)
    assert h.fills_of(order) == ([expected] if expected else [])


def test_bar_touch_can_be_switched_off():
    h = Harness(bar_fill_on_touch=False)
    h.bar(100, 101, 99, 100)
    order = h.buy(2, 99)
    h.bar(101, 104, 99, 102)
    assert h.fills_of(order) == []
    h.bar(101, 104, 98, 102)
    assert h.fills_of(order) == [(D(2), D(99))]


@pytest.mark.parametrize(("bar", "expected"), [
    ((101, 106, 100, 102), (D(2), D(105))),
    ((108, 109, 107, 108), (D(2), D(108))),  # gap above: the better open
    ((101, 104, 100, 102), None),
])
def test_sell_limit_fills_at_max_of_limit_and_open(bar, expected):
    h = started()
    h.buy(2)
    h.bar(100, 100, 100, 100)
    order = h.sell(2, 105)
    h.bar(*bar)
    assert h.fills_of(order) == ([expected] if expected else [])


def test_resting_limit_is_maker_and_a_limit_marketable_at_the_open_is_taker():
    h = started()
    resting = h.buy(1, 100)
    h.bar(102, 103, 101, 102)
    h.bar(101, 101, 99, 100)  # filled while resting
    marketable = h.buy(1, 105)
    h.bar(100, 101, 99, 100)  # marketable at its first open
    assert liquidity_of(h, resting) == [Liquidity.MAKER]
    assert liquidity_of(h, marketable) == [Liquidity.TAKER]
    assert h.fills_of(marketable) == [(D(1), D(100))]


@pytest.mark.parametrize(("bar", "price"), [
    ((101, 107, 100, 106), D(105)),  # triggered inside the bar: at the stop
    ((108, 110, 107, 109), D(108)),  # gapped over the stop: at the open
    ((101, 104, 100, 102), None),
])
def test_buy_stop_fills_at_max_of_stop_and_open(bar, price):
    h = started()
    order = h.place("BUY", 3, STOP, stop=105)
    h.bar(*bar)
    assert h.fills_of(order) == ([(D(3), price)] if price else [])


def test_sell_stop_fills_at_min_of_stop_and_open_with_slippage():
    h = Harness(slippage_bps=100)
    h.bar(100, 101, 99, 100)
    h.buy(3)
    h.bar(100, 100, 100, 100)
    order = h.place("SELL", 3, STOP, stop=95)
    h.bar(96, 97, 94, 95)
    # 95 * 0.99 = 94.05 rounded down (against the seller) to 94.
    assert h.fills_of(order) == [(D(3), D(94))]
    gap = Harness()
    gap.bar(100, 101, 99, 100)
    gap.buy(3)
    gap.bar(100, 100, 100, 100)
    order = gap.place("SELL", 3, STOP, stop=95)
    gap.bar(90, 91, 88, 90)
    assert gap.fills_of(order) == [(D(3), D(90))]


def test_stop_limit_triggered_in_bar_fills_at_the_stop_when_within_the_limit():
    h = started()
    order = h.place("BUY", 1, STOP_LIMIT, price=106, stop=105)
    h.bar(101, 108, 100, 107)
    assert h.fills_of(order) == [(D(1), D(105))]


def test_stop_limit_with_limit_below_stop_waits_for_the_next_bar():
    # Triggered during the bar: whether the low came before or after the trigger
    # is unknown, so (pessimistically) it only works as a limit from the next bar.
    h = started()
    order = h.place("BUY", 1, STOP_LIMIT, price=103, stop=105)
    h.bar(101, 106, 100, 104)  # stop hit, and low 100 <= 103 too
    assert h.fills_of(order) == []
    h.bar(104, 105, 102, 103)
    assert h.fills_of(order) == [(D(1), D(103))]
    assert liquidity_of(h, order) == [Liquidity.MAKER]


def test_stop_limit_gapped_at_the_open_may_fill_at_its_limit_in_the_same_bar():
    h = started()
    order = h.place("BUY", 1, STOP_LIMIT, price=107, stop=105)
    h.bar(109, 110, 106, 108)  # opened above stop and limit, then came back to 106
    assert h.fills_of(order) == [(D(1), D(107))]


def test_ioc_and_fok_see_only_the_open_of_their_first_bar():
    h = started()
    ioc_hit = h.buy(1, 101, tif=TimeInForce.IOC)
    ioc_miss = h.buy(1, 99, tif=TimeInForce.IOC)
    fok_hit = h.buy(1, 101, tif=TimeInForce.FOK)
    h.bar(100, 101, 95, 96)  # low reached 99, but after the open
    assert h.fills_of(ioc_hit) == [(D(1), D(100))]
    assert h.fills_of(fok_hit) == [(D(1), D(100))]
    assert h.fills_of(ioc_miss) == [] and h.status(ioc_miss) is S.CANCELLED


def test_participation_cap_spreads_a_market_order_over_bars():
    h = Harness(bar_participation=0.1)
    h.bar(100, 101, 99, 100, v=100)
    order = h.buy(25)
    h.bar(101, 102, 100, 101, v=100)
    h.bar(102, 103, 101, 102, v=100)
    h.bar(103, 104, 102, 103, v=100)
    assert h.fills_of(order) == [(D(10), D(101)), (D(10), D(102)), (D(5), D(103))]


def test_participation_cap_goes_by_price_then_time_and_fok_refuses_partial():
    h = Harness(bar_participation=0.1)
    h.bar(100, 101, 99, 100, v=100)
    early = h.buy(6, 100)
    late = h.buy(6, 100)
    better = h.buy(6, 101)
    fok = h.buy(20, 105, tif=TimeInForce.FOK)
    h.bar(102, 103, 99, 100, v=100)  # 10 to share
    assert h.fills_of(fok) == [] and h.status(fok) is S.CANCELLED
    assert h.fills_of(better) == [(D(6), D(101))]
    assert h.fills_of(early) == [(D(4), D(100))]
    assert h.fills_of(late) == []


def test_bar_volume_does_not_limit_fills_by_default():
    h = started()
    order = h.buy(5_000, 100)
    h.bar(100, 101, 99, 100, v=10)
    assert h.fills_of(order) == [(D(5_000), D(100))]


def test_malformed_bars_trade_nothing_and_do_not_become_the_price():
    h = started()
    order = h.buy(1, 100)
    h.bar(float("nan"), 101, 90, float("nan"))
    assert h.fills_of(order) == []
    assert h.venue.matching.markets["TEST/USD"].last == 100
