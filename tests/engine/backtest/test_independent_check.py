"""The backtester agrees with an independent one (backtesting.py) on the same run.

Same strategy (SMA 10/30 crossover, 100 shares, flat on the cross back), same
fill convention (market orders at the next bar's open), same commission (0.2%
of the notional on entry and exit), on the bundled real daily AAPL prices. The
trades (entry and exit bar and price) and the final equity must agree; the
equity to 1e-9 relative. The instrument keeps fees unrounded (a 1e-10 currency
unit) because backtesting.py does not round commissions to the cent, and a
tick as fine as the data's prices (2000-era quotes are in sixteenths).
"""

from __future__ import annotations

import gzip
from dataclasses import replace
from decimal import Decimal
from importlib import resources

import numpy as np
import pandas as pd
import pytest

backtesting = pytest.importorskip("backtesting")
from backtesting import Backtest, Strategy  # noqa: E402
from backtesting.lib import crossover  # noqa: E402

from engine.backtest.runner import BacktestConfig, run_backtest  # noqa: E402
from engine.models import TickSchedule, us_stock  # noqa: E402

FAST, SLOW, SIZE, COMMISSION, CASH = 10, 30, 100, 0.002, 1_000_000.0


def aapl_daily() -> pd.DataFrame:
    raw = resources.files("resources") / "data" / "us_stocks_daily.csv.gz"
    with raw.open("rb") as fh, gzip.open(fh) as gz:
        df = pd.read_csv(gz)
    df = df[df["Ticker"] == "AAPL"]
    # Bars stamped at the NYSE open (14:30 UTC in winter is close enough for a daily
    # bar's identity; only the order of bars matters to both engines).
    index = pd.to_datetime(df["Date"]).dt.tz_localize("UTC") + pd.Timedelta(hours=14, minutes=30)
    frame = pd.DataFrame({"open": df["Open"].to_numpy(float), "high": df["High"].to_numpy(float),
                          "low": df["Low"].to_numpy(float), "close": df["Close"].to_numpy(float),
                          "volume": df["Volume"].to_numpy(float)},
                         index=pd.DatetimeIndex(index, name="time"))
    return frame.iloc[:1500]


class BtSmaCross(Strategy):
    def init(self):
        close = pd.Series(self.data.Close)
        self.fast = self.I(lambda: close.rolling(FAST).mean())
        self.slow = self.I(lambda: close.rolling(SLOW).mean())

    def next(self):
        if crossover(self.fast, self.slow) and not self.position:
            self.buy(size=SIZE)
        elif crossover(self.slow, self.fast) and self.position:
            self.position.close()


def test_same_trades_and_final_equity_as_backtesting_py():
    frame = aapl_daily()
    bt_data = frame.rename(columns=str.capitalize)
    bt_data.index = bt_data.index.tz_localize(None)
    stats = Backtest(bt_data, BtSmaCross, cash=CASH, commission=COMMISSION,
                     trade_on_close=False, exclusive_orders=False).run()
    theirs = stats["_trades"]

    # Prices as the data has them (2000-era quotes are in 16ths), fees unrounded.
    inst = replace(us_stock("AAPL"), currency_unit=Decimal("1e-10"),
                   tick_schedule=TickSchedule.constant("0.000001"))
    result = run_backtest(
        BacktestConfig("sma_cross", ("AAPL",), {"fast": FAST, "slow": SLOW, "size": SIZE},
                       timeframe="1d", cash=CASH, commission=COMMISSION),
        frame, instruments={"AAPL": inst})
    ours = result.trades
    assert len(ours) == len(theirs) > 20
    index = {ts: i for i, ts in enumerate(frame.index.as_unit("ns").asi8)}
    for trade, (_, row) in zip(ours, theirs.iterrows(), strict=True):
        assert index[trade.entry_ns] == row["EntryBar"]
        assert index[trade.exit_ns] == row["ExitBar"]
        assert float(trade.entry_price) == pytest.approx(row["EntryPrice"], rel=1e-12)
        assert float(trade.exit_price) == pytest.approx(row["ExitPrice"], rel=1e-12)
        assert float(trade.net_pnl) == pytest.approx(row["PnL"], rel=1e-9)
    assert result.equity.iloc[-1] == pytest.approx(stats["Equity Final [$]"], rel=1e-9)
    np.testing.assert_allclose(result.equity.to_numpy(), stats["_equity_curve"]["Equity"].to_numpy(),
                               rtol=1e-9)
