"""A backtest given trades replays them: the venue matches on the prints, strategies
hear every trade in on_tick, and bars close on the bus at their end."""

from __future__ import annotations

import pandas as pd
import pytest

from engine.backtest.data_source import DataSet
from engine.backtest.payload import make_payload, run_window
from engine.backtest.run_data import RunData
from engine.backtest.runner import BacktestCancelled, BacktestConfig, run_backtest
from engine.data.trades_io import bars_of_trades
from engine.errors import UserError
from engine.models import Bar, Tick
from engine.strategy import Strategy

SYMBOL = "BTC/USDT"
T0 = pd.Timestamp("2024-01-01", tz="UTC")
# (seconds after T0, price): four one-minute bars.
PRINTS = [(0, 100.0), (20, 101.0), (40, 102.0),  # bar 0 closes at 102
          (70, 103.0), (90, 99.0), (110, 104.0),  # bar 1 dips through 100
          (135, 105.0), (165, 106.0),  # bar 2
          (210, 107.0)]  # bar 3


class TickProbe(Strategy):
    """On the first close it may trade at (not a warm-up bar): buy 1 at market and rest a
    buy limit at 100. On the first trade at 105 or more (heard in on_tick): sell all."""

    name = "tick_probe"

    @property
    def warmup_bars(self) -> int:
        return 0

    def on_start(self) -> None:
        self.bought = self.sold = False

    def on_bar(self, bar: Bar) -> None:
        if not self.bought and self.buy(1).order is not None:
            self.bought = True
            self.buy(1, price=100)

    def on_tick(self, tick: Tick) -> None:
        if tick.price >= 105 and not self.sold:
            self.sold = True
            self.sell(self.position())


PROBE = f"{__name__}:TickProbe"


def trades() -> pd.DataFrame:
    index = pd.DatetimeIndex([T0 + pd.Timedelta(seconds=s) for s, _ in PRINTS], name="time")
    return pd.DataFrame({"price": [p for _, p in PRINTS], "size": 1.0, "side": ""},
                        index=index)


def config() -> BacktestConfig:
    return BacktestConfig(PROBE, (SYMBOL,), cash=1_000_000, commission=0.0)


def fills(result) -> list[tuple[float, str, float, float]]:
    return [((f.ts_ns - T0.value) / 1e9, f.side.value, float(f.quantity), float(f.price))
            for f in result.fills]


def test_trades_drive_matching_on_tick_and_the_equity_curve():
    ticks = trades()
    bars = bars_of_trades(SYMBOL, ticks, "1m", "24/7")
    assert bars["close"].tolist() == [102.0, 104.0, 106.0, 107.0]
    result = run_backtest(config(), bars, ticks={SYMBOL: ticks})
    assert fills(result) == [
        (60.0, "BUY", 1.0, 102.0),  # at the close: the last print, not the next open
        (90.0, "BUY", 1.0, 100.0),  # the 99 print went through the limit: filled at it
        (135.0, "SELL", 2.0, 105.0),  # sent from on_tick, at that print
    ]
    # Each point: the account after the fills before that close, marked at the close.
    assert result.equity.tolist() == [1_000_000, 1_000_000 - 202 + 2 * 104,
                                      1_000_000 + 8, 1_000_000 + 8]
    assert result.equity.index[0] == T0 + pd.Timedelta(minutes=1)
    assert result.metrics.trades == 2 and result.warnings == []


def test_the_same_bars_without_trades_fill_at_the_next_open_and_never_tick():
    bars = bars_of_trades(SYMBOL, trades(), "1m", "24/7")
    result = run_backtest(config(), bars)
    assert fills(result) == [(60.0, "BUY", 1.0, 103.0),  # bar 1's open
                             (60.0, "BUY", 1.0, 100.0)]  # bar 1 traded through 100
    assert result.metrics.trades == 0  # still long: on_tick never ran


def test_a_search_window_replays_only_its_own_trades():
    ticks = trades()
    bars = bars_of_trades(SYMBOL, ticks, "1m", "24/7")
    payload = make_payload(PROBE, RunData.of([DataSet(SYMBOL, "1m", bars, "t", ticks=ticks)]),
                           config())
    late = run_window(payload, {}, 1, None)  # from bar 1: bar 0's prints are not replayed
    # Warmed up on bar 0 (no orders), bought at bar 1's close, the limit never reached.
    assert fills(late) == [(120.0, "BUY", 1.0, 104.0), (135.0, "SELL", 1.0, 105.0)]
    assert late.bars == 3


def test_trades_of_a_symbol_not_in_the_run_are_refused_and_cancel_stops_a_replay():
    ticks = trades()
    bars = bars_of_trades(SYMBOL, ticks, "1m", "24/7")
    with pytest.raises(UserError, match="trades given for ETH/USDT, which the run does not"):
        run_backtest(config(), bars, ticks={"ETH/USDT": ticks})
    many = pd.concat([ticks.set_axis(ticks.index + pd.Timedelta(minutes=4 * k))
                      for k in range(6_000)])
    long_bars = bars_of_trades(SYMBOL, many, "1m", "24/7")
    seen: list[float] = []
    done = run_backtest(config(), long_bars, ticks={SYMBOL: many}, progress=seen.append)
    assert seen == [20_000 / 24_000, 1.0] and done.bars == 24_000
    assert len(done.fills) == 3  # the probe trades once, at the start
    with pytest.raises(BacktestCancelled, match="cancelled after 20,000 of 24,000 bars"):
        run_backtest(config(), long_bars, ticks={SYMBOL: many}, cancel=lambda: True)
