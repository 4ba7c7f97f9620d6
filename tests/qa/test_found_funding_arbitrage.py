"""funding_arbitrage cannot be backtested: no funding rates ever reach it."""

from __future__ import annotations

import numpy as np
import pandas as pd

from engine.backtest.runner import BacktestConfig, run_backtest
from engine.errors import UserError
from terminal.cli import main


def _minutes(start: str, n: int, base: float, seed: int) -> pd.DataFrame:
    idx = pd.date_range(start, periods=n, freq="1min", tz="UTC")
    px = base + np.cumsum(np.random.default_rng(seed).normal(0, 5, n))
    return pd.DataFrame({"open": px, "high": px + 2, "low": px - 2, "close": px,
                         "volume": 10.0}, index=idx)


def test_funding_arbitrage_with_perp_and_spot_trades_or_says_why_not():
    """The documented set-up (symbols [perpetual, spot]) runs to completion with 0 trades
    and no warning: the strategy only acts on FundingRate events, and run_backtest has
    no way to take funding rates and never publishes any. entry_rate=0 means "enter at
    any funding >= 0", so a working backtest must enter at the first funding event."""
    perp, spot = "BTC/USDT:USDT", "BTC/USDT"
    frames = {perp: _minutes("2024-01-01", 3 * 24 * 60, 40_000, 1),
              spot: _minutes("2024-01-01", 3 * 24 * 60, 40_000, 2)}
    config = BacktestConfig("funding_arbitrage", (perp, spot),
                            {"entry_rate": 0.0, "exit_rate": -0.05}, timeframe="1m",
                            cash=1_000_000)
    try:
        result = run_backtest(config, frames)
    except UserError as exc:
        assert "funding" in str(exc)
        return
    assert result.fills or any("funding" in w for w in result.warnings), (
        result.metrics.trades, result.warnings)


def test_cli_funding_arbitrage_on_one_symbol_is_a_user_error(capsys):
    """`backtest --strategy funding_arbitrage --data AAPL` exits 0 and prints metrics of a
    strategy that never started. Its stderr says both "raised 1 time(s)" and "stopped
    after 10 errors", each followed by "; the run went on without those bars". A wrong
    number of symbols is a user mistake: one line, exit status 2."""
    code = main(["--log-level", "ERROR", "backtest", "--strategy", "funding_arbitrage",
                 "--data", "AAPL", "--from", "2012-01-01", "--no-save", "--json", "-q"])
    _, err = capsys.readouterr()
    assert code == 2, err
    assert "two symbols" in err
