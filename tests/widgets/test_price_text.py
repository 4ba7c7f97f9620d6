"""Prices with the decimals of the instrument's tick."""

from __future__ import annotations

from engine.instruments import InstrumentRegistry
from engine.models import crypto_spot, krx_stock, us_stock
from widgets.price_text import plain_price, price_text


def registry() -> InstrumentRegistry:
    reg = InstrumentRegistry()
    for inst in (us_stock("AAPL"), krx_stock("005930"),
                 crypto_spot("DOGE/USDT", tick="0.00001", lot="1")):
        reg.add(inst)
    return reg


def test_prices_carry_the_tick_decimals():
    reg = registry()
    assert price_text(reg, "AAPL")(450.2) == "450.20"
    assert price_text(reg, "AAPL")(1234.5) == "1,234.50"
    assert price_text(reg, "005930")(71_000.0) == "71,000"  # KRX ticks are whole won
    assert price_text(reg, "DOGE/USDT")(0.1234) == "0.12340"


def test_unknown_symbols_and_bad_prices_fall_back_to_the_plain_format():
    reg = registry()
    assert price_text(reg, "NOPE") is plain_price
    assert plain_price(450.2) == "450.2" and plain_price(0.00012) == "0.00012"
    fmt = price_text(reg, "AAPL")
    assert fmt(float("nan")) == "-" and fmt(0.0) == "0" and fmt(-1.5) == "-1.5"
