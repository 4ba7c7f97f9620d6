"""Backtests over several symbols: bars opening together, a perpetual beside a spot
pair, and an equity curve that is the account valued at every close."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

import numpy as np
import pandas as pd
import pytest

from engine.backtest.runner import BacktestConfig, run_backtest
from engine.indicators import SMA
from engine.models import Bar, Side, crypto_perp, crypto_spot
from engine.strategy import Strategy

SPOT, PERP = "SYN/USD", "SYN/USD:USD"


class CrossEach(Strategy):
    """Always in the market in every symbol: long 2 above SMA(20), short 2 below."""

    name = "test_cross_each"

    def on_start(self) -> None:
        self.sma = {s: SMA(20) for s in self.symbols}

    def on_bar(self, bar: Bar) -> None:
        mean = self.sma[bar.symbol].update(bar.close)
        if mean != mean or bar.close == mean:
            return
        want = 2 if bar.close > mean else -2
        held = self.position(bar.symbol)
        if held != want and not self.open_orders(bar.symbol):
            delta = want - held
            (self.buy if delta > 0 else self.sell)(abs(delta), symbol=bar.symbol)


def minutes(n: int, start: str, seed: int, level: float) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    close = (level * np.exp(np.cumsum(rng.normal(0, 0.002, n)))).round(2)
    open_ = np.r_[close[0], close[:-1]]
    index = pd.date_range(start, periods=n, freq="1min", tz="UTC", name="time")
    return pd.DataFrame({"open": open_, "high": np.maximum(open_, close),
                         "low": np.minimum(open_, close), "close": close,
                         "volume": 100.0}, index=index)


@pytest.fixture(scope="module")
def run():
    spot = replace(crypto_spot(SPOT, tick="0.01", lot="1", min_notional=0), currency="USD",
                   allows_short=True)
    perp = replace(crypto_perp(PERP, tick="0.01"), currency="USD")
    # The perpetual starts 200 minutes later, then both trade the same minutes.
    data = {SPOT: minutes(1_500, "2024-01-01", 1, 100.0),
            PERP: minutes(1_300, "2024-01-01 03:20", 2, 300.0)}
    config = BacktestConfig("tests.engine.backtest.test_multi_symbol:CrossEach", (SPOT, PERP),
                            cash=1_000_000.0, commission=0.0005)
    return data, run_backtest(config, data, instruments={SPOT: spot, PERP: perp})


def test_bars_opening_together_run_and_both_symbols_trade(run):
    data, result = run
    traded = {f.symbol for f in result.fills}
    assert traded == {SPOT, PERP}
    # Market orders fill at the next bar's open of their own symbol, both while the
    # symbols' bars open at the same instants.
    for fill in result.fills:
        frame = data[fill.symbol]
        opens = frame["open"].to_numpy()[frame.index.as_unit("ns").asi8 == fill.ts_ns]
        assert len(opens) == 1
        assert float(fill.price) == opens[0]
    # One equity point per distinct close, not per bar.
    closes = data[SPOT].index.union(data[PERP].index) + pd.Timedelta("1min")
    assert list(result.equity.index) == list(closes)


def test_equity_is_the_account_valued_at_each_close(run):
    """Replay the fills by hand: cash, positions, and the last close of each symbol."""
    data, result = run
    cash, qty, cost = 1_000_000.0, {SPOT: 0.0, PERP: 0.0}, {SPOT: 0.0, PERP: 0.0}
    last = {s: float(f["close"].iloc[0]) for s, f in data.items()}
    fills = sorted(result.fills, key=lambda f: f.ts_ns)
    closes = {s: f["close"] for s, f in data.items()}
    expected, exposed, i = [], [], 0
    for end in result.equity.index:
        while i < len(fills) and fills[i].ts_ns < end.value:
            f = fills[i]
            q, p, fee = float(f.quantity), float(f.price), float(f.fee)
            signed = q if f.side is Side.BUY else -q
            if f.symbol == PERP:  # margined: realised PnL and fees touch the cash
                if qty[PERP] and (qty[PERP] > 0) != (signed > 0):
                    closing = min(abs(signed), abs(qty[PERP]))
                    part = cost[PERP] * closing / abs(qty[PERP])
                    cash += (1 if qty[PERP] > 0 else -1) * closing * p - part
                    cost[PERP] -= part
                    rest = abs(signed) - closing
                    cost[PERP] += (1 if signed > 0 else -1) * rest * p
                else:
                    cost[PERP] += signed * p
                cash -= fee
            else:
                cash -= signed * p + fee
            qty[f.symbol] += signed
            i += 1
        for s in last:
            at = closes[s].index + pd.Timedelta("1min")
            if (at <= end).any():
                last[s] = float(closes[s][at <= end].iloc[-1])
        value = cash + sum(qty[s] * last[s] - (cost[s] if s == PERP else 0.0)
                           for s in qty if qty[s])
        expected.append(value)
        exposed.append(any(qty.values()))
    np.testing.assert_allclose(result.equity.to_numpy(), expected, rtol=1e-9)
    assert result.metrics.exposure_pct == pytest.approx(100 * float(np.mean(exposed)))


def test_a_symbol_not_yet_trading_is_not_in_the_picture(run):
    data, result = run
    first_perp_fill = min(f.ts_ns for f in result.fills if f.symbol == PERP)
    assert first_perp_fill > data[PERP].index[0].value
    assert Decimal(0) not in {f.quantity for f in result.fills}
