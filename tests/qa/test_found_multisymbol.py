"""Multi-symbol backtests through the Python API (the CLI takes one --data only)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from engine.backtest.runner import BacktestConfig, run_backtest
from engine.data import sample
from engine.errors import UserError
from engine.models import OrderStatus
from tests.qa._strategies import HERE


def _entries(result, symbol):
    return [(t.entry_ns, t.exit_ns) for t in result.trades if t.symbol == symbol]


def test_builtin_strategy_on_two_symbols_does_not_mix_their_prices():
    """sma_cross on AAPL+MSFT: each symbol's bars must feed only that symbol's SMAs.

    Today every bar (AAPL's and MSFT's interleaved) updates ONE pair of SMAs and the
    strategy trades only symbols[0] (AAPL): the AAPL trades differ from AAPL alone
    (34 vs 18 round trips on 2003-2006) and MSFT is never traded. Refusing several
    symbols with a UserError would also be acceptable; silently wrong trades are not.
    """
    aapl = sample.load_daily("AAPL").loc["2003":"2006"]
    msft = sample.load_daily("MSFT").loc["2003":"2006"]
    params = {"size": 100}  # fixed size: the legs cannot crowd each other out of cash
    alone = run_backtest(BacktestConfig("sma_cross", ("AAPL",), params, timeframe="1d"), aapl)
    try:
        both = run_backtest(BacktestConfig("sma_cross", ("AAPL", "MSFT"), params,
                                           timeframe="1d"), {"AAPL": aapl, "MSFT": msft})
    except UserError:
        return
    assert _entries(both, "AAPL") == _entries(alone, "AAPL")


def test_symbols_quoted_in_different_currencies_all_trade_or_are_refused():
    """A KRX stock (KRW) and a crypto pair (USDT) in one run: the account is opened in
    the first symbol's currency only, so every order of the other leg is rejected by
    the paper venue ("0 USDT is available"), silently: no rejection count, no warning."""
    krx = sample.synthetic_krx("005930", start="2013-01-07", end="2013-01-08")
    idx = pd.date_range("2013-01-06", "2013-01-08 23:59", freq="1min", tz="UTC")
    px = 13.5 + np.cumsum(np.random.default_rng(1).normal(0, 0.01, len(idx)))
    btc = pd.DataFrame({"open": px, "high": px + 0.01, "low": px - 0.01, "close": px,
                        "volume": 1.0}, index=idx)
    config = BacktestConfig(f"{HERE}:BuyEach", ("005930", "BTC/USDT"), {"qty": 1},
                            timeframe="1m")
    try:
        result = run_backtest(config, {"005930": krx, "BTC/USDT": btc})
    except UserError:
        return  # refused up front, naming the currencies: fine
    rejected = [o for o in result.orders if o.status is OrderStatus.REJECTED]
    assert not rejected, [(o.symbol, o.reason) for o in rejected]
    assert {f.symbol for f in result.fills} == {"005930", "BTC/USDT"}


def test_fill_time_is_the_open_of_the_bar_it_filled_at_with_mixed_calendars():
    """AAPL daily bars (open 14:30 UTC) with a 24/7 pair's daily bars (open 00:00 UTC):
    AAPL's market order fills at the 2012-01-04 open (410.00) but the fill is stamped
    2012-01-05 00:00, the other symbol's bar close, because the clock never moves back
    to a bar that opens before the last close. Trade entry/exit times are then wrong."""
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
