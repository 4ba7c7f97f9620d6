"""Every rejection a real venue would give, with its reason in the report."""

from __future__ import annotations

import pytest

from engine.execution.broker import BrokerUnavailable
from engine.models import OrderStatus, OrderType, TimeInForce, crypto_spot, krx_stock
from tests.brokers.paper.harness import D, Harness, run

S = OrderStatus
SAMSUNG = krx_stock("005930")
BTC = crypto_spot("BTC/USDT", tick="0.01", lot="0.00001", min_qty="0.0001", min_notional=5)


def rejected(h: Harness, order, *words: str) -> None:
    last = h.updates_of(order)[-1]
    assert last.status is S.REJECTED, last
    for word in words:
        assert word in last.reason, last.reason
    assert h.fills_of(order) == []


def test_unknown_symbol():
    h = Harness(SAMSUNG)
    rejected(h, h.buy(1, 70_000, symbol="999999"), "unknown symbol", "999999")


def test_off_tick_limit_and_stop_prices_name_the_nearest_valid_price():
    h = Harness(SAMSUNG)
    rejected(h, h.buy(1, 71_234), "not on the tick grid", "tick 100", "71200")
    rejected(h, h.place("BUY", 1, OrderType.STOP, stop=71_250), "stop price", "tick grid")
    assert h.status(h.buy(1, 71_200)) is S.ACCEPTED


def test_quantity_rules_lot_and_minimum():
    h = Harness(BTC)
    h.trade(40_000)
    rejected(h, h.buy("0.000015", 40_000), "not a multiple of the lot size 0.00001")
    rejected(h, h.buy("0.00005", 40_000), "below the minimum 0.0001")
    rejected(h, h.buy("0", 40_000), "quantity must be positive")
    assert h.status(h.buy("0.00013", 40_000)) is S.ACCEPTED


def test_minimum_notional_for_limit_and_market_orders():
    h = Harness(BTC)
    h.trade(40_000)
    rejected(h, h.buy("0.0001", 40_000), "notional 4.0", "below the minimum 5 USDT")
    rejected(h, h.buy("0.0001"), "below the minimum")  # valued at the last price
    assert h.status(h.buy("0.0002", 40_000)) is S.ACCEPTED


def test_krx_daily_price_band_around_the_previous_close_seen_in_the_data():
    h = Harness(SAMSUNG)
    h.trade(70_000, dt=5 * 3600)  # 14:00 KST on day 1: the session closes at 70,000
    h.advance(20 * 3600)  # day 2, 10:00 KST
    # 70,000 x 1.3 = 91,000 and x 0.7 = 49,000 (both on the tick grid).
    rejected(h, h.buy(1, 91_100), "outside today's price limits 49000..91000", "70000")
    rejected(h, h.buy(1, 48_950), "outside today's price limits")
    assert h.status(h.buy(1, 91_000)) is S.ACCEPTED
    assert h.status(h.buy(1, 49_000)) is S.ACCEPTED


def test_band_base_rolls_with_sessions_and_can_be_set_when_data_has_no_previous_close():
    h = Harness(SAMSUNG)
    h.trade(70_000)
    assert h.status(h.buy(1, 120_000)) is S.ACCEPTED  # no previous close known: no band
    h.venue.set_reference_price("005930", 100_000)
    rejected(h, h.buy(1, 130_100), "outside today's price limits")
    h.advance(24 * 3600)
    h.trade(80_000)  # day 2: day 1 closed at 70,000
    rejected(h, h.buy(1, 91_100), "previous close 70000")


def test_insufficient_cash_counts_the_fees():
    h = Harness(SAMSUNG, initial_cash=700_000)
    h.trade(70_000)
    # 10 x 70,000 = 700,000 plus 105 commission: 105 short.
    rejected(h, h.buy(10, 70_000), "insufficient cash", "700105", "700000 KRW is available")
    h2 = Harness(SAMSUNG, initial_cash=700_105)
    h2.trade(70_000)
    assert h2.status(h2.buy(10, 70_000)) is S.ACCEPTED


def test_open_buys_reserve_cash():
    h = Harness(SAMSUNG, initial_cash=1_000_000)
    h.trade(70_000)
    assert h.status(h.buy(10, 69_000)) is S.ACCEPTED  # reserves 690,104 (ceiling fee)
    rejected(h, h.buy(5, 69_000), "insufficient cash")


def test_selling_more_than_held_when_short_selling_is_not_allowed():
    h = Harness(SAMSUNG)
    h.trade(70_000)
    assert h.filled(h.buy(10)) == 10
    rejected(h, h.sell(11, 70_000), "insufficient holdings", "only 10", "short selling")
    assert h.status(h.sell(6, 71_000)) is S.ACCEPTED
    # 6 are promised to the open sell: only 4 more can be sold.
    rejected(h, h.sell(5, 71_000), "only 4 is available", "6 in open sell orders")
    rejected(h, h.sell(5), "insufficient holdings")
    assert h.filled(h.sell(4)) == 4


@pytest.mark.parametrize(("kind", "tif", "words"), [
    (OrderType.STOP, TimeInForce.IOC, ("STOP orders cannot be IOC",)),
    (OrderType.STOP_LIMIT, TimeInForce.FOK, ("STOP_LIMIT orders cannot be FOK",)),
])
def test_unsupported_order_type_and_time_in_force(kind, tif, words):
    h = Harness()
    h.trade(100)
    rejected(h, h.place("BUY", 1, kind, price=101, stop=101, tif=tif), *words)


def test_missing_prices_and_post_only_on_the_wrong_order():
    h = Harness()
    h.trade(100)
    rejected(h, h.place("BUY", 1, OrderType.LIMIT), "needs a limit price")
    rejected(h, h.place("BUY", 1, OrderType.STOP), "needs a stop price")
    rejected(h, h.place("BUY", 1, OrderType.STOP_LIMIT, stop=101), "needs a limit price")
    rejected(h, h.place("BUY", 1, OrderType.MARKET, post_only=True), "post-only")


def test_reduce_only_may_not_open_or_grow_a_position():
    h = Harness()
    h.trade(100)
    rejected(h, h.buy(1, reduce_only=True), "reduce-only")
    h.buy(3)
    rejected(h, h.buy(1, reduce_only=True), "reduce-only")
    rejected(h, h.sell(4, reduce_only=True), "exceeds the position of 3")
    assert h.filled(h.sell(3, reduce_only=True)) == 3


def test_a_client_order_id_is_accepted_once():
    h = Harness()
    h.trade(100)
    order = h.buy(1, 99)
    run(h.venue.place_order(order))
    assert [u.status for u in h.updates_of(order)] == [S.ACCEPTED, S.REJECTED]
    assert "duplicate" in h.updates_of(order)[-1].reason
    assert len(h.venue.open_orders()) == 1


def test_commands_fail_fast_when_disconnected():
    h = Harness()
    run(h.venue.disconnect())
    with pytest.raises(BrokerUnavailable):
        h.buy(1, 100)
    assert h.updates == []


def test_rejected_orders_appear_in_history_with_their_reason():
    h = Harness(SAMSUNG)
    h.buy(1, 71_234)
    history = run(h.venue.fetch_order_history())
    assert [(o.status, "tick grid" in o.reason) for o in history] == [(S.REJECTED, True)]
    assert history[0].filled_qty == D(0)
