"""Instrument trading rules: KRX ticks, bands, fees, exact snapping."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from engine.models import (
    Liquidity,
    Side,
    TickSchedule,
    crypto_perp,
    crypto_spot,
    krx_stock,
    to_decimal,
    us_stock,
)

SAMSUNG = krx_stock("005930", name="Samsung Electronics")
KODEX = krx_stock("069500", etf=True)
BTC = crypto_spot("BTC/USDT", tick="0.01", lot="0.00001")


@pytest.mark.parametrize(
    ("price", "tick"),
    [
        (1, 1), (1_999, 1), (2_000, 5), (4_995, 5), (5_000, 10), (19_990, 10),
        (20_000, 50), (49_950, 50), (50_000, 100), (199_900, 100), (200_000, 500),
        (499_500, 500), (500_000, 1000), (3_000_000, 1000),
    ],
)
def test_krx_tick_table_since_2023(price, tick):
    assert SAMSUNG.tick_size(price) == Decimal(tick)


def test_etf_tick_is_flat_five_won():
    assert KODEX.tick_size(1_000) == 5
    assert KODEX.tick_size(45_000) == 5
    assert KODEX.snap_price(45_002) == Decimal(45_000)


def test_snap_directions_across_a_band_boundary():
    assert SAMSUNG.snap_price(71_234, "down") == Decimal(71_200)
    assert SAMSUNG.snap_price(71_234, "up") == Decimal(71_300)
    assert SAMSUNG.snap_price(71_234) == Decimal(71_200)
    assert SAMSUNG.snap_price(71_250) == Decimal(71_300)  # ties go up
    assert SAMSUNG.snap_price(1_999.6, "up") == Decimal(2_000)
    assert SAMSUNG.snap_price(2_003, "down") == Decimal(2_000)
    assert SAMSUNG.tick_up(1_999) == Decimal(2_000)
    assert SAMSUNG.tick_up(2_000) == Decimal(2_005)
    assert SAMSUNG.tick_down(2_000) == Decimal(1_999)
    assert SAMSUNG.tick_down(5_000) == Decimal(4_995)


def test_snapping_is_exact_for_decimal_ticks():
    inst = crypto_spot("ETH/USDT", tick="0.1")
    assert inst.snap_price(0.30000000000000004) == Decimal("0.3")
    assert str(BTC.snap_price(0.1 + 0.2)) == "0.30"
    assert BTC.snap_qty(0.123456789) == Decimal("0.12345")
    assert BTC.snap_qty("0.000009") == 0


def test_krx_price_band_is_thirty_percent_on_valid_ticks():
    lower, upper = SAMSUNG.price_limits(71_000)
    # 71,000 * 1.3 = 92,300 (tick 100) ; 71,000 * 0.7 = 49,700 (tick 50)
    assert (lower, upper) == (Decimal(49_700), Decimal(92_300))
    lower, upper = SAMSUNG.price_limits(15_550)
    # 20,215 -> down to a 50-won tick = 20,200; 10,885 -> up to a 10-won tick = 10,890
    assert (lower, upper) == (Decimal(10_890), Decimal(20_200))
    assert BTC.price_limits(50_000) is None


def test_krx_fees_commission_both_sides_and_sell_tax_by_date():
    buy = SAMSUNG.fees_for(Side.BUY, 70_000, 10, on=date(2026, 3, 2))
    assert buy.commission == Decimal(105)  # 700,000 * 0.015%
    assert buy.tax == 0
    sell = SAMSUNG.fees_for(Side.SELL, 70_000, 10, on=date(2026, 3, 2))
    assert sell.tax == Decimal(1_400)  # 0.20% from 2026-01-01
    sell_2025 = SAMSUNG.fees_for(Side.SELL, 70_000, 10, on=date(2025, 6, 2))
    assert sell_2025.tax == Decimal(1_050)  # 0.15% in 2025
    assert KODEX.fees_for(Side.SELL, 30_000, 10).tax == 0  # ETFs pay no transaction tax
    # Truncated to the won, never rounded up.
    assert SAMSUNG.fees_for(Side.BUY, 1_001, 3).commission == Decimal(0)


def test_crypto_maker_taker_and_perp_rules():
    perp = crypto_perp("BTC/USDT:USDT")
    assert perp.allows_short and not BTC.allows_short
    assert perp.currency == "USDT"
    maker = perp.fees_for(Side.BUY, 50_000, "0.01", Liquidity.MAKER)
    taker = perp.fees_for(Side.BUY, 50_000, "0.01", Liquidity.TAKER)
    assert maker.commission == Decimal("0.1") and taker.commission == Decimal("0.25")


def test_bad_numbers_are_refused_with_what_they_are():
    with pytest.raises(ValueError, match="price must be finite"):
        SAMSUNG.snap_price(float("nan"))
    with pytest.raises(ValueError, match="price must be positive"):
        SAMSUNG.snap_price(-5)
    with pytest.raises(ValueError, match="not a number"):
        to_decimal("abc", what="price")
    with pytest.raises(ValueError, match="not ascending"):
        TickSchedule(top_tick=Decimal(5), bands=((Decimal(10), Decimal(1)), (Decimal(5), Decimal(1))))
    with pytest.raises(ValueError, match="not a multiple"):
        TickSchedule(top_tick=Decimal(7), bands=((Decimal(10), Decimal(1)),))


prices = st.decimals(min_value=Decimal("0.5"), max_value=Decimal(3_000_000), places=2)


@given(prices)
def test_snapped_prices_are_valid_and_bracket_the_input(p):
    down = SAMSUNG.snap_price(p, "down")
    up = SAMSUNG.snap_price(p, "up")
    near = SAMSUNG.snap_price(p)
    for q in (down, up, near):
        assert SAMSUNG.is_valid_price(q)
    if p >= 1:
        assert down <= p <= up
    assert near in (down, up)
    assert abs(near - p) <= abs(p - down) or down < 1
    # No valid price strictly between down and up.
    if down < up:
        assert SAMSUNG.tick_up(down) == up


@given(st.decimals(min_value=Decimal("0.01"), max_value=Decimal(100_000), places=8))
def test_crypto_snapping_exact_on_tick_grid(p):
    q = BTC.snap_price(p, "down")
    assert q % Decimal("0.01") == 0 and q <= max(p, Decimal("0.01"))
    assert p - q < Decimal("0.01") or q == Decimal("0.01")
    lots = BTC.snap_qty(p)
    assert lots <= p and lots % Decimal("0.00001") == 0 and p - lots < Decimal("0.00001")


@given(st.integers(min_value=1, max_value=2_000_000))
def test_tick_up_then_down_round_trips(price):
    p = SAMSUNG.snap_price(price, "down")
    assert SAMSUNG.tick_down(SAMSUNG.tick_up(p)) == p


def test_us_stock_defaults():
    aapl = us_stock("AAPL")
    assert aapl.calendar == "XNYS" and aapl.snap_price(123.456) == Decimal("123.46")


def test_numpy_numbers_convert_exactly():
    import numpy as np

    assert to_decimal(np.float64(100.5)) == Decimal("100.5")
    assert to_decimal(np.float32(0.25)) == Decimal("0.25")
    assert to_decimal(np.int64(7)) == Decimal(7)
    assert SAMSUNG.snap_price(np.float64(71_234.0)) == Decimal(71_200)
