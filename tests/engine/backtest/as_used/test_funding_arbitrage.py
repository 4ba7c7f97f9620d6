"""funding_arbitrage as a user first runs it: without funding rates, and on one symbol."""

from __future__ import annotations

import numpy as np
import pandas as pd

from engine.backtest.runner import BacktestConfig, run_backtest
from terminal.cli import main


def _minutes(start: str, n: int, base: float, seed: int) -> pd.DataFrame:
    idx = pd.date_range(start, periods=n, freq="1min", tz="UTC")
    px = base + np.cumsum(np.random.default_rng(seed).normal(0, 5, n))
    return pd.DataFrame({"open": px, "high": px + 2, "low": px - 2, "close": px,
                         "volume": 10.0}, index=idx)


def test_funding_arbitrage_without_rates_says_the_funding_is_missing():
    """[perpetual, spot] without funding rates: the run says the perpetual's funding is
    missing (it used to finish with 0 trades and no word; with rates it trades, see
    test_funding.py)."""
    perp, spot = "BTC/USDT:USDT", "BTC/USDT"
    frames = {perp: _minutes("2024-01-01", 3 * 24 * 60, 40_000, 1),
              spot: _minutes("2024-01-01", 3 * 24 * 60, 40_000, 2)}
    config = BacktestConfig("funding_arbitrage", (perp, spot),
                            {"entry_rate": 0.0, "exit_rate": -0.05}, timeframe="1m",
                            cash=1_000_000)
    result = run_backtest(config, frames)
    assert not result.fills
    assert any(w.startswith(f"{perp}: no funding rates were given") for w in result.warnings)


def test_cli_funding_arbitrage_on_one_symbol_is_a_user_error(capsys):
    """`backtest --strategy funding_arbitrage --data AAPL`: a wrong number of symbols is a
    user mistake, one line and exit status 2 (it printed the metrics of a strategy that
    never started)."""
    code = main(["--log-level", "ERROR", "backtest", "--strategy", "funding_arbitrage",
                 "--data", "AAPL", "--from", "2012-01-01", "--no-save", "--json", "-q"])
    _, err = capsys.readouterr()
    assert code == 2, err
    assert "two symbols" in err
