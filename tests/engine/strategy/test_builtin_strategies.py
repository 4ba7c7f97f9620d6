"""Each built-in strategy trades as its rules say on a crafted series."""

from __future__ import annotations

import numpy as np

from engine.models import FundingRate, Side, crypto_perp, crypto_spot
from engine.strategies import (
    BollingerBands,
    EmaCrossover,
    FundingArbitrage,
    MeanReversion,
    RangeTrading,
    RsiMeanReversion,
    SmaCross,
    TrendFollowing,
)
from tests.engine.strategy.harness import MIN, T0, feed, make_run

DOWN_UP_DOWN = [100 - i * 0.5 for i in range(40)] + [80 + i for i in range(40)] + \
    [120 - i for i in range(40)]


def test_sma_cross_buys_the_cross_up_and_sells_the_cross_down():
    run = make_run(SmaCross, "AAPL", {"fast": 5, "slow": 15, "size": 10})
    feed(run, DOWN_UP_DOWN)
    assert run.sides() == ["BUY:AAPL", "SELL:AAPL"]
    buy, sell = run.orders()
    assert 40 < (buy.created_ns - T0) // MIN < 60 and buy.quantity == 10
    assert (sell.created_ns - T0) // MIN > 80 and sell.quantity == 10


def test_ema_crossover_long_only_and_with_shorts():
    run = make_run(EmaCrossover, "AAPL", {"fast": 5, "slow": 15})
    feed(run, DOWN_UP_DOWN)
    assert run.sides() == ["BUY:AAPL", "SELL:AAPL"]
    run = make_run(EmaCrossover, "AAPL", {"fast": 5, "slow": 15, "allow_short": True})
    feed(run, DOWN_UP_DOWN)
    assert run.sides() == ["BUY:AAPL", "SELL:AAPL", "SELL:AAPL"]  # flat, then short
    assert run.engine.ledger.position("paper", "AAPL").quantity < 0


def test_rsi_mean_reversion_buys_oversold_and_exits_above_fifty():
    closes = [100.0] * 5 + [100 - 2 * i for i in range(1, 16)] + [70 + 3 * i for i in range(1, 15)]
    run = make_run(RsiMeanReversion, "AAPL", {"period": 5})
    feed(run, closes)
    assert run.sides() == ["BUY:AAPL", "SELL:AAPL"]
    assert run.signals[0].components == {"rsi_oversold": 1.0}


def test_bollinger_reversion_buys_below_the_band_and_exits_at_the_middle():
    rng = np.random.default_rng(3)
    calm = list(100 + rng.normal(0, 0.2, 30))
    closes = calm + [97.0, 96.5, 98.0, 99.5, 100.5, 100.2]
    run = make_run(BollingerBands, "AAPL", {"period": 20, "k": 2.0})
    feed(run, closes)
    assert run.sides() == ["BUY:AAPL", "SELL:AAPL"]
    assert run.orders()[0].created_ns == T0 + 31 * MIN  # the first close below the band
    breakout = make_run(BollingerBands, "AAPL", {"period": 20, "mode": "breakout"})
    feed(breakout, calm + [103.0, 104.0, 99.0])
    assert breakout.sides() == ["BUY:AAPL", "SELL:AAPL"]


def test_trend_following_enters_on_a_breakout_and_trails_an_atr_stop():
    flat = [100 + (i % 2) * 0.5 for i in range(60)]
    up = [101 + i for i in range(20)]
    down = [120 - 3 * i for i in range(1, 10)]
    run = make_run(TrendFollowing, "AAPL", {"breakout": 20, "fast": 5, "slow": 20, "atr_stop": 2})
    feed(run, flat + up + down, spread=0.3)
    assert run.sides() == ["BUY:AAPL", "SELL:AAPL"]
    assert run.orders()[1].tag == "atr_stop"


def test_mean_reversion_fades_a_two_sigma_drop():
    rng = np.random.default_rng(5)
    closes = list(100 + rng.normal(0, 0.3, 30)) + [98.0, 99.0, 100.3, 100.5]
    run = make_run(MeanReversion, "AAPL", {"period": 20, "entry_z": 2.0})
    feed(run, closes)
    assert run.sides() == ["BUY:AAPL", "SELL:AAPL"]
    assert run.signals[0].components["zscore"] <= -2.0


def test_range_trading_trades_a_range_and_stays_out_of_a_trend():
    wave = [100 + 5 * np.sin(i / 3) for i in range(120)]
    run = make_run(RangeTrading, "AAPL", {"lookback": 30, "band_pct": 20, "max_efficiency": 0.3})
    feed(run, wave, spread=0.2)
    sides = run.sides()
    assert sides[:2] == ["BUY:AAPL", "SELL:AAPL"] and len(sides) >= 4
    for order in run.orders()[::2]:  # every entry near the range bottom
        assert order.price is None and run.engine.oms.get(order.client_order_id).avg_fill_price < 97
    trend = make_run(RangeTrading, "AAPL", {"lookback": 30})
    feed(trend, [100 + 0.5 * i for i in range(120)])
    assert trend.sides() == []


def test_funding_arbitrage_carries_delta_neutral_and_unwinds():
    perp, spot = crypto_perp("BTC/USDT:USDT"), crypto_spot("BTC/USDT")
    run = make_run(FundingArbitrage, [perp.symbol, spot.symbol], {"notional_pct": 20},
                   instruments=[perp, spot])
    feed(run, [50_000.0], symbol=perp.symbol)
    feed(run, [50_010.0], symbol=spot.symbol)
    bus = run.engine.bus
    bus.publish(FundingRate(perp.symbol, 0.0001, T0 + 2 * MIN))  # below entry: nothing
    assert run.orders() == []
    bus.publish(FundingRate(perp.symbol, 0.0005, T0 + 3 * MIN))
    short_perp, long_spot = run.orders()
    assert (short_perp.side, short_perp.symbol) == (Side.SELL, perp.symbol)
    assert (long_spot.side, long_spot.symbol) == (Side.BUY, spot.symbol)
    assert short_perp.quantity == long_spot.quantity > 0  # delta neutral
    bus.publish(FundingRate(perp.symbol, 0.0004, T0 + 4 * MIN))  # still paying: hold
    assert len(run.orders()) == 2
    bus.publish(FundingRate(perp.symbol, 0.00005, T0 + 5 * MIN))
    assert [(o.side, o.symbol) for o in run.orders()[2:]] == [(Side.BUY, perp.symbol),
                                                              (Side.SELL, spot.symbol)]
    ledger = run.engine.ledger
    assert ledger.position("paper", perp.symbol).quantity == 0
    assert ledger.position("paper", spot.symbol).quantity == 0
