"""The venue's shortcuts give what the engine's own methods give, to the Decimal exponent.

``Terms`` (an instrument's constants) and ``Market.snap`` (remembered price
snaps) replace engine calls on every order; each is held equal here to the
straightforward call it replaces, comparing ``repr`` so that ``Decimal('1.0')``
vs ``Decimal('1')`` counts as a difference.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from decimal import ROUND_CEILING, Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from brokers.paper.matching import SNAP_MEMO, Market
from brokers.paper.terms import Terms
from engine.models import (
    FeeSchedule,
    Instrument,
    Liquidity,
    Side,
    crypto_perp,
    crypto_spot,
    krx_stock,
    us_stock,
)

D = Decimal
INSTRUMENTS = [
    krx_stock("005930"),
    krx_stock("069500", etf=True),
    us_stock("AAPL", commission="0.0005"),
    crypto_spot("BTC/USDT", maker="0.001", taker="0.0015"),
    crypto_perp("BTC/USDT:USDT", max_leverage=7, contract_size="0.5"),
    replace(crypto_spot("SYN/USD", tick="0.01", lot="1", min_notional=0), currency="USD",
            currency_unit=D("1e-10"), allows_short=True,
            fees=FeeSchedule(maker=D("0.0002"), taker=D("0.0002"))),
]

instruments = st.sampled_from(INSTRUMENTS)
liquidity = st.sampled_from(list(Liquidity))
sides = st.sampled_from(list(Side))
dates = st.one_of(st.none(), st.dates(date(1995, 1, 1), date(2030, 12, 31)))


@st.composite
def price_qty(draw, inst: Instrument) -> tuple[Decimal, Decimal]:
    """A price on the instrument's grid and a whole number of lots (what fills carry)."""
    raw = draw(st.floats(0.01, 2_000_000, allow_nan=False, allow_infinity=False))
    price = inst.snap_price(raw)
    lots = draw(st.integers(1, 100_000))
    return price, inst.lot_size * lots


def reference_cost(inst: Instrument, price: Decimal, qty: Decimal,
                   liq: Liquidity | None) -> Decimal:
    """What the venue charged before Terms: Instrument methods, step by step."""
    notional = inst.notional(price, qty)
    if liq is None:
        rate = max(inst.fees.maker, inst.fees.taker)
        fee = (notional * rate).quantize(inst.currency_unit, rounding=ROUND_CEILING)
    else:
        fee = inst.fees_for(Side.BUY, price, qty, liq).commission
    if inst.asset_class.is_derivative:
        notional = notional / inst.max_leverage
    return notional + fee


@settings(max_examples=300, deadline=None)
@given(st.data(), instruments, liquidity, sides, dates)
def test_terms_charge_what_the_instrument_charges(data, inst, liq, side, on):
    price, qty = data.draw(price_qty(inst))
    terms = Terms(inst)
    fees = inst.fees_for(side, price, qty, liq, on=on)
    notional = terms.notional(price, qty)
    assert repr(notional) == repr(inst.notional(price, qty))
    assert repr(terms.commission(notional, liq)) == repr(fees.commission)
    assert repr(terms.tax(notional, side, on)) == repr(fees.tax)
    if not terms.taxed:  # the venue's shortcut for instruments without a sell tax
        assert repr(terms.no_tax) == repr(fees.tax)
    for charge in (None, liq):
        assert repr(terms.cost(price, qty, charge)) == repr(reference_cost(inst, price, qty,
                                                                           charge))
    assert repr(terms.tied_up(notional) + terms.commission(notional, liq)) == \
        repr(reference_cost(inst, price, qty, liq))


@settings(max_examples=100, deadline=None)
@given(instruments, st.lists(st.floats(0.001, 3_000_000, allow_nan=False, allow_infinity=False),
                             min_size=1, max_size=30), st.randoms())
def test_remembered_snaps_equal_fresh_ones(inst, prices, rnd):
    market = Market(inst)
    again = prices + rnd.sample(prices, len(prices))  # every price twice: memo hits too
    for price in again:
        assert repr(market.snap(price)) == repr(inst.snap_price(price))


def test_the_snap_memo_stays_bounded_and_right_when_it_overflows():
    inst = INSTRUMENTS[-1]
    market = Market(inst)
    prices = [100 + i / 100 for i in range(SNAP_MEMO + 50)]
    for price in prices + prices[:10]:
        assert market.snap(price) == inst.snap_price(price)
    assert len(market._snapped) <= SNAP_MEMO


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), 0.0, -1.0])
def test_bad_prices_raise_as_before_and_are_not_remembered(bad):
    inst = INSTRUMENTS[0]
    market = Market(inst)
    with pytest.raises(ValueError):
        inst.snap_price(bad)
    with pytest.raises(ValueError):
        market.snap(bad)
    assert not market._snapped
