"""Stored instruments come back equal, rules and schedules included."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

import pytest

from engine.models import crypto_perp, crypto_spot, krx_stock, us_stock
from engine.storage import load_instrument, load_instruments, save_instrument, save_instruments

INSTRUMENTS = [
    krx_stock("005930", name="Samsung Electronics"),
    krx_stock("069500", name="KODEX 200", etf=True),
    krx_stock("123456", board="KONEX"),
    us_stock("AAPL", name="Apple"),
    crypto_spot("BTC/USDT", min_notional="5.0"),
    crypto_perp("BTC/USDT:USDT", max_leverage=125),
]


@pytest.mark.parametrize("inst", INSTRUMENTS, ids=lambda i: i.symbol)
def test_an_instrument_round_trips_exactly(db, inst):
    save_instrument(db, inst)
    back = load_instrument(db, inst.symbol, inst.venue)
    assert back == inst
    assert back.snap_price(71_234) == inst.snap_price(71_234)


def test_saving_again_replaces_the_instrument(db):
    save_instruments(db, INSTRUMENTS)
    cheaper = replace(INSTRUMENTS[0], lot_size=Decimal("10"), name="renamed")
    save_instrument(db, cheaper)
    assert load_instrument(db, "005930") == cheaper
    assert len(load_instruments(db)) == len(INSTRUMENTS)


def test_the_same_symbol_on_two_venues_must_be_told_apart(db):
    save_instrument(db, crypto_spot("ETH/USDT", venue="BINANCE"))
    save_instrument(db, crypto_spot("ETH/USDT", venue="UPBIT"))
    with pytest.raises(ValueError, match="BINANCE, UPBIT"):
        load_instrument(db, "ETH/USDT")
    assert load_instrument(db, "ETH/USDT", "UPBIT").venue == "UPBIT"
    assert load_instrument(db, "NOPE") is None
