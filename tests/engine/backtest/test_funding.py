"""Funding in backtests: settled by the paper venue at its times, booked once, traded on."""

from __future__ import annotations

from decimal import Decimal

import numpy as np
import pandas as pd
import pytest

from engine.backtest.runner import BacktestConfig, default_instrument, run_backtest
from engine.errors import UserError
from engine.models import Side

PERP, SPOT = "BTC/USDT:USDT", "BTC/USDT"
UNIT = default_instrument(PERP).currency_unit
START = pd.Timestamp("2024-01-01", tz="UTC")


def minutes(days: int, seed: int) -> pd.DataFrame:
    n = days * 24 * 60
    px = (40_000 + np.cumsum(np.random.default_rng(seed).normal(0, 3, n))).round(1)
    idx = pd.date_range(START, periods=n, freq="1min", name="time")
    return pd.DataFrame({"open": px, "high": px + 1, "low": px - 1, "close": px,
                         "volume": 10.0}, index=idx)


def settlements(*rates: float) -> pd.Series:
    """One rate every 8 hours from 08:00 on the first day."""
    times = START + pd.Timedelta(hours=8) * np.arange(1, len(rates) + 1)
    return pd.Series(rates, index=pd.DatetimeIndex(times))


@pytest.fixture(scope="module")
def carry():
    frames = {PERP: minutes(3, 1), SPOT: minutes(3, 2)}
    rates = settlements(0.0005, 0.0004, 0.0003, 0.0002, -0.0010, 0.0001)
    config = BacktestConfig("funding_arbitrage", (PERP, SPOT),
                            {"entry_rate": 0.0003, "exit_rate": 0.0001, "notional_pct": 20},
                            cash=1_000_000.0, commission=0.0004)
    result = run_backtest(config, frames, funding={PERP: rates})
    return frames, rates, result, result.funding


def test_enters_on_the_first_rate_that_pays_and_unwinds_when_it_turns(carry):
    frames, rates, result, _ = carry
    at = {(f.symbol, f.side): f for f in result.fills}
    first = rates.index[0].value  # 0.0005 >= entry_rate: short the perpetual, buy the spot
    short, buy = at[(PERP, Side.SELL)], at[(SPOT, Side.BUY)]
    # Sent at the settlement, filled at the next minute's open (after it: it pays nothing).
    assert short.ts_ns == buy.ts_ns == first
    assert float(short.price) == frames[PERP].loc[rates.index[0], "open"]
    assert short.quantity == buy.quantity > 0
    unwind = rates.index[4].value  # -0.1% < exit_rate: both legs closed
    assert at[(PERP, Side.BUY)].ts_ns == at[(SPOT, Side.SELL)].ts_ns == unwind
    assert len(result.fills) == 4


def test_each_settlement_while_short_is_paid_by_the_venue_and_booked_once(carry):
    frames, rates, result, payments = carry
    qty = next(f.quantity for f in result.fills if f.symbol == PERP)
    # Held short from the first settlement's fill to the fifth's: settlements 2-5 apply.
    held = rates.iloc[1:5]
    assert [p.ts_ns for p in payments] == [t.value for t in held.index]
    for payment, (when, rate) in zip(payments, held.items(), strict=True):
        last = frames[PERP]["close"][frames[PERP].index < when].iloc[-1]  # closed by then
        expected = (qty * Decimal(str(last)) * Decimal(str(rate))).quantize(UNIT)
        assert payment.amount == expected  # shorts receive positive funding, pay negative
        assert payment.asset == "USDT" and payment.broker == "paper"
    received = sum(p.amount for p in payments)
    # The equity curve counts the funding: final equity is cash after every fill and payment.
    fees = sum(f.fee for f in result.fills)
    pnl = sum((f.price if f.side is Side.SELL else -f.price) * f.quantity for f in result.fills)
    assert result.equity.iloc[-1] == pytest.approx(float(Decimal(1_000_000) + pnl - fees
                                                         + received), rel=1e-12)


def test_funding_rates_are_checked():
    frames = {PERP: minutes(1, 1), SPOT: minutes(1, 2)}
    config = BacktestConfig("funding_arbitrage", (PERP, SPOT))
    with pytest.raises(UserError, match="BTC/USDT, which is not a perpetual"):
        run_backtest(config, frames, funding={SPOT: settlements(0.0001)})
    with pytest.raises(UserError, match="ETH/USDT:USDT, which is not in the run"):
        run_backtest(config, frames, funding={"ETH/USDT:USDT": settlements(0.0001)})
    with pytest.raises(UserError, match="2024-01-01 16:00:00.*nan"):
        run_backtest(config, frames, funding={PERP: settlements(0.0001, float("nan"))})
