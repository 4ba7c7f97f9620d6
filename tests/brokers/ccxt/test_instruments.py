"""Venue rules as Instruments: the engine's snapping agrees with ccxt's precision helpers."""

from __future__ import annotations

from decimal import Decimal

import ccxt
from hypothesis import given, settings
from hypothesis import strategies as st

from brokers.ccxt.instruments import instrument_from_market
from engine.models import AssetClass
from tests.brokers.ccxt.fake_binance.markets import DEFAULT_MARKETS, linear_symbol, spot_symbol

D = Decimal


def _exchange() -> ccxt.binance:
    ex = ccxt.binance({"options": {"crossMarginPairsData": [], "isolatedMarginPairsData": []}})
    raw = [spot_symbol(m) if m.kind == "spot" else linear_symbol(m) for m in DEFAULT_MARKETS]
    ex.set_markets([ex.parse_market(r) for r in raw])
    return ex


EX = _exchange()
SYMBOLS = sorted(EX.markets)


def test_markets_become_instruments_with_exact_rules():
    spot = instrument_from_market(EX.markets["BTC/USDT"])
    perp = instrument_from_market(EX.markets["BTC/USDT:USDT"], leverage=10)
    assert spot.asset_class is AssetClass.CRYPTO_SPOT and not spot.allows_short
    assert spot.tick_schedule.top_tick == D("0.01") and spot.lot_size == D("0.00001")
    assert spot.min_notional == D("5") and spot.currency == "USDT" and spot.base_asset == "BTC"
    assert spot.fees.taker == D("0.001")
    assert perp.asset_class is AssetClass.CRYPTO_PERP and perp.allows_short
    assert perp.tick_schedule.top_tick == D("0.1") and perp.lot_size == D("0.001")
    assert perp.min_notional == D("100") and perp.max_leverage == D(10)
    assert perp.contract_size == D(1) and perp.fees.maker == D("0.0002")
    assert instrument_from_market(EX.markets["ETH/USDT:USDT"]).max_leverage == D(20)


prices = st.decimals(min_value=D("0.5"), max_value=D("200000"), places=6, allow_nan=False,
                     allow_infinity=False)
amounts = st.decimals(min_value=D("0.000001"), max_value=D("900"), places=8, allow_nan=False,
                      allow_infinity=False)


@settings(max_examples=300, deadline=None)
@given(symbol=st.sampled_from(SYMBOLS), price=prices)
def test_price_rounding_agrees_with_ccxt(symbol, price):
    inst = instrument_from_market(EX.markets[symbol])
    assert D(EX.price_to_precision(symbol, str(price))) == inst.snap_price(price, "nearest")


@settings(max_examples=300, deadline=None)
@given(symbol=st.sampled_from(SYMBOLS), amount=amounts)
def test_amount_rounding_agrees_with_ccxt(symbol, amount):
    inst = instrument_from_market(EX.markets[symbol])
    expected = inst.snap_qty(amount, "down")
    try:
        got = D(EX.amount_to_precision(symbol, str(amount)))
    except ccxt.InvalidOrder:
        got = D(0)
    assert got == expected
    assert inst.is_valid_qty(expected) or expected < inst.min_qty
