"""Backtests over several symbols, as a user runs them (found in a QA pass)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from engine.backtest.runner import BacktestConfig, run_backtest
from engine.data import sample
from engine.errors import UserError
from tests.engine.backtest.as_used.strategies import HERE


def _entries(result, symbol):
    return [(t.entry_ns, t.exit_ns) for t in result.trades if t.symbol == symbol]


def test_builtin_strategy_on_two_symbols_does_not_mix_their_prices():
    """sma_cross on AAPL+MSFT runs one instance per symbol: AAPL trades as it does alone
    (one shared pair of SMAs fed both symbols' bars: 34 AAPL round trips instead of 18,
    and MSFT never traded), and MSFT trades on its own prices."""
    aapl = sample.load_daily("AAPL").loc["2003":"2006"]
    msft = sample.load_daily("MSFT").loc["2003":"2006"]
    params = {"size": 100}  # fixed size: the legs cannot crowd each other out of cash
    alone = run_backtest(BacktestConfig("sma_cross", ("AAPL",), params, timeframe="1d"), aapl)
    both = run_backtest(BacktestConfig("sma_cross", ("AAPL", "MSFT"), params, timeframe="1d"),
                        {"AAPL": aapl, "MSFT": msft})
    assert _entries(both, "AAPL") == _entries(alone, "AAPL")
    msft_alone = run_backtest(BacktestConfig("sma_cross", ("MSFT",), params, timeframe="1d"),
                              msft)
    assert _entries(both, "MSFT") == _entries(msft_alone, "MSFT") != []


def test_symbols_quoted_in_different_currencies_are_refused_up_front():
    """A KRX stock (KRW) and a crypto pair (USDT): one account holds one currency, so the
    run is refused, naming both (it used to run with every USDT order silently refused)."""
    krx = sample.synthetic_krx("005930", start="2013-01-07", end="2013-01-08")
    idx = pd.date_range("2013-01-06", "2013-01-08 23:59", freq="1min", tz="UTC")
    px = 13.5 + np.cumsum(np.random.default_rng(1).normal(0, 0.01, len(idx)))
    btc = pd.DataFrame({"open": px, "high": px + 0.01, "low": px - 0.01, "close": px,
                        "volume": 1.0}, index=idx)
    config = BacktestConfig(f"{HERE}:BuyEach", ("005930", "BTC/USDT"), {"qty": 1},
                            timeframe="1m")
    with pytest.raises(UserError, match="005930 in KRW, BTC/USDT in USDT"):
        run_backtest(config, {"005930": krx, "BTC/USDT": btc})


def test_fill_time_is_the_open_of_the_bar_it_filled_at_with_mixed_calendars():
    """AAPL daily bars (open 14:30 UTC) beside a 24/7 pair's (open 00:00 UTC): AAPL's order
    fills at its bar's open and is stamped then (it was stamped at the other symbol's
    next close, a day late)."""
    aapl = sample.load_daily("AAPL").loc["2012-01-01":"2012-01-31"]
    idx = pd.date_range("2012-01-01", "2012-01-31", freq="1D", tz="UTC")
    px = np.linspace(10, 20, len(idx))
    coin = pd.DataFrame({"open": px, "high": px + 0.5, "low": px - 0.5, "close": px + 0.2,
                         "volume": 1.0}, index=idx)
    result = run_backtest(BacktestConfig(f"{HERE}:BuyEach", ("AAPL", "BTC/USD"), {"qty": 10},
                                         timeframe="1d"), {"AAPL": aapl, "BTC/USD": coin})
    fill = next(f for f in result.fills if f.symbol == "AAPL")
    bar_open = aapl.index[aapl["open"] == float(fill.price)][0]
    assert pd.Timestamp(fill.ts_ns, unit="ns", tz="UTC") == bar_open
