"""Fees, taxes and the venue's own books: exact to the currency unit."""

from __future__ import annotations

from decimal import Decimal

import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.models import Fill, Liquidity, OrderStatus, OrderType, Side, TimeInForce, krx_stock
from engine.portfolio.ledger import Ledger
from tests.brokers.paper.harness import D, Harness, run

S = OrderStatus
SAMSUNG = krx_stock("005930")


def utc(text: str) -> int:
    return int(pd.Timestamp(text, tz="UTC").value)


def krw(h: Harness):
    return next(a for a in run(h.venue.fetch_balances()) if a.currency == "KRW")


def test_krx_commission_and_sell_tax_exactly():
    h = Harness(SAMSUNG, initial_cash=10_000_000)
    h.trade(70_000)
    h.buy(10)
    h.trade(71_000)
    h.sell(10)
    buy, sell = h.fills
    assert (buy.commission, buy.tax) == (D(105), D(0))  # 700,000 x 0.015%
    # 710,000 x 0.015% = 106.5 -> 106 (truncated); tax 0.18% in 2024 = 1,278.
    assert (sell.commission, sell.tax) == (D(106), D(1_278))
    account = krw(h)
    assert account.cash == D(10_000_000) - 700_000 - 105 + 710_000 - 106 - 1_278
    assert account.fees == D(105 + 106 + 1_278)
    assert account.realized_pnl == D(10_000)


def test_sell_tax_uses_the_fill_date_in_korea():
    # 2025-12-31 23:30 UTC is 2026-01-01 08:30 in Seoul: the 2026 rate (0.20%) applies,
    # not 2025's (0.15%).
    h = Harness(SAMSUNG, start=utc("2025-12-31 23:00"), initial_cash=10_000_000)
    h.trade(70_000)
    h.buy(10)
    h.clock.advance_to(utc("2025-12-31 23:30"))
    h.trade(70_000, dt=0)
    h.sell(10)
    assert h.fills[-1].tax == D(1_400)
    h2 = Harness(SAMSUNG, start=utc("2025-12-31 05:00"), initial_cash=10_000_000)
    h2.trade(70_000)
    h2.buy(10)
    h2.sell(10)
    assert h2.fills[-1].tax == D(1_050)


def test_maker_and_taker_commission_rates():
    h = Harness()  # TEST/USD: maker 0.1%, taker 0.2%
    h.trade(100)
    h.buy(10)
    resting = h.buy(10, 99)
    h.trade(98)
    taker, maker = h.fills
    assert (taker.liquidity, taker.commission) == (Liquidity.TAKER, D("2.000"))
    assert (maker.liquidity, maker.commission) == (Liquidity.MAKER, D("0.990"))
    assert maker.client_order_id == resting.client_order_id


def test_positions_and_balances_answer_from_the_venue_books():
    h = Harness(SAMSUNG, initial_cash=10_000_000)
    h.trade(70_000)
    h.buy(10)
    h.trade(72_000)
    (pos,) = run(h.venue.fetch_positions())
    assert (pos.broker, pos.quantity, pos.avg_price, pos.cost_basis) == \
        ("paper", D(10), D(70_000), D(700_000))
    assert pos.last_price == D(72_000)
    account = krw(h)
    assert account.equity == account.cash + 720_000
    assert account.unrealized_pnl == D(20_000)


def test_a_fill_the_cash_cannot_pay_is_clipped_and_the_rest_cancelled():
    h = Harness(SAMSUNG, initial_cash=1_000_000)
    h.bar(70_000, 70_000, 70_000, 70_000)
    order = h.buy(14)  # valued at 70,000: 980,147 reserved
    h.bar(75_000, 75_000, 75_000, 75_000)  # gaps up: 14 would cost 1,050,157
    assert h.fills_of(order) == [(D(13), D(75_000))]  # 975,146 fits
    last = h.updates_of(order)[-1]
    assert last.status is S.CANCELLED and "insufficient cash" in last.reason
    assert krw(h).cash == D(1_000_000) - 975_000 - 146
    assert krw(h).buying_power >= 0


# ---- invariants over random order flow -----------------------------------------------

PRICES = [48_000 + 100 * i for i in range(41)]  # crosses KRX's 50,000 tick boundary


@st.composite
def operations(draw):
    ops = []
    for _ in range(draw(st.integers(5, 30))):
        kind = draw(st.sampled_from(["trade", "trade", "book", "limit", "limit", "market",
                                     "stop", "cancel", "amend"]))
        ops.append((kind, draw(st.sampled_from(list(Side))), draw(st.integers(1, 30)),
                    draw(st.integers(0, len(PRICES) - 1)), draw(st.sampled_from(list(
                        TimeInForce))), draw(st.integers(1, 200))))
    return ops


def apply(h: Harness, op) -> None:
    kind, side, qty, i, tif, size = op
    price = PRICES[i]
    if kind == "trade":
        h.trade(price, size=size)
    elif kind == "book":
        h.book([(PRICES[max(i - 1, 0)], size), (PRICES[max(i - 2, 0)], size)],
               [(price, size), (PRICES[min(i + 1, 40)], size)])
    elif kind == "limit":
        h.place(side, qty, OrderType.LIMIT, price, tif=tif)
    elif kind == "market":
        h.place(side, qty, OrderType.MARKET, tif=tif)
    elif kind == "stop":
        h.place(side, qty, OrderType.STOP, stop=price)
    elif h.venue.open_orders():
        wo = h.venue.open_orders()[size % len(h.venue.open_orders())]
        if kind == "cancel":
            h.cancel(wo.order)
        else:
            run(h.venue.amend_order(wo.order, quantity=wo.filled + qty,
                                    price=D(price) if wo.limit is not None else None))


def check_books(h: Harness, opening: Decimal) -> None:
    venue, inst = h.venue, SAMSUNG
    account = krw(h)
    positions = run(venue.fetch_positions())
    cost = sum((p.cost_basis for p in positions), D(0))
    # The books' identity, exact: cash + cost of holdings + fees == opening + realized.
    assert account.cash + cost + account.fees == opening + account.realized_pnl
    # The same cash from the fills alone.
    flows = sum(((-f.side.sign) * f.quantity * f.price - f.fee for f in h.fills), D(0))
    assert account.cash == opening + flows
    held = sum((f.side.sign * f.quantity for f in h.fills), D(0))
    assert venue.account.holding(inst) == held >= 0  # never short: KRX retail
    # Reservations are exactly what the open orders hold, and never overdraw.
    working = venue.open_orders()
    assert venue.account.reserved_cash("KRW") == sum((w.reserved_cash for w in working), D(0))
    assert venue.account.reserved_qty(inst.symbol) == \
        sum((w.reserved_qty for w in working), D(0)) <= held
    assert account.buying_power >= 0
    for fill in h.fills:
        assert inst.is_valid_price(fill.price) and fill.quantity > 0
    # Each report's cumulative filled quantity is what the fills before it add up to.
    so_far: dict[str, Decimal] = {}
    for report in h.reports:
        cid = report.client_order_id
        if isinstance(report, Fill):
            so_far[cid] = so_far.get(cid, D(0)) + report.quantity
        elif report.filled_qty is not None:
            assert report.filled_qty == so_far.get(cid, D(0))


def check_against_a_ledger(h: Harness, opening: Decimal) -> None:
    """An independent ledger fed the venue's fills agrees to the unit."""
    ledger = Ledger()
    ledger.open_account("paper", "KRW", opening)
    for fill in h.fills:
        ledger.apply_fill(fill, SAMSUNG)
    assert ledger.account("paper").cash == krw(h).cash
    assert ledger.quantity("paper", SAMSUNG.symbol) == h.venue.account.holding(SAMSUNG)


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ops=operations(), latency=st.sampled_from([0, 30]))
def test_books_reconcile_under_random_order_flow(ops, latency):
    opening = D(8_000_000)
    h = Harness(SAMSUNG, initial_cash=opening, latency_ms=latency)
    h.trade(50_000)
    for op in ops:
        apply(h, op)
        check_books(h, opening)
    h.advance(1)
    check_books(h, opening)
    check_against_a_ledger(h, opening)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ops=operations(), data=st.data())
def test_books_reconcile_in_bar_mode(ops, data):
    opening = D(8_000_000)
    h = Harness(SAMSUNG, initial_cash=opening, bar_participation=0.5)
    h.bar(50_000, 50_000, 50_000, 50_000)
    for op in ops:
        if op[0] in ("trade", "book"):
            a, b = sorted(data.draw(st.lists(st.integers(0, 40), min_size=2, max_size=2)))
            o = data.draw(st.integers(a, b))
            c = data.draw(st.integers(a, b))
            h.bar(PRICES[o], PRICES[b], PRICES[a], PRICES[c], v=op[5])
        else:
            apply(h, op)
        check_books(h, opening)
    check_against_a_ledger(h, opening)


def test_perpetual_futures_short_on_margin_and_cash_moves_by_pnl_and_fees():
    from engine.models import crypto_perp

    perp = crypto_perp("BTC/USDT:USDT", tick="0.1", lot="0.001", max_leverage=10,
                       contract_size="0.5")
    h = Harness(perp, initial_cash={"USDT": 10_000})
    h.trade(40_000)
    short = h.sell("0.2")  # notional 0.2 x 40,000 x 0.5 = 4,000; margin 400
    assert h.fills_of(short) == [(D("0.2"), D(40_000))]
    usdt = run(h.venue.fetch_balances())[0]
    assert usdt.cash == D(10_000) - D("2.0")  # taker 0.05% of 4,000
    assert usdt.margin_used == D(400) and usdt.buying_power == usdt.cash - 400
    (pos,) = run(h.venue.fetch_positions())
    assert (pos.quantity, pos.contract_size) == (D("-0.2"), D("0.5"))
    h.trade(39_000)
    h.buy("0.2")
    usdt = run(h.venue.fetch_balances())[0]
    assert usdt.realized_pnl == D(100)
    assert usdt.cash == D(10_000) - D("2.0") + 100 - D("1.95")
    big = h.sell(10)  # 195,000 notional: 19,500 margin is more than there is
    assert h.status(big) is S.REJECTED and "as margin" in h.reason(big)
