"""Tiny strategies for the QA reproductions, loaded as ``module:Class`` (never registered,
so the global strategy list other tests check stays as it is)."""

from __future__ import annotations

from engine.models import Bar
from engine.strategy import Param, Strategy

HERE = "tests.engine.backtest.as_used.strategies"


class BuyEach(Strategy):
    """Buy ``qty`` of each symbol on that symbol's first bar, then hold."""

    name = "qa_buy_each"
    qty = Param(float, 1.0, low=0.0, high=1e9)

    @property
    def warmup_bars(self) -> int:
        return 0

    def on_start(self) -> None:
        self.done: set[str] = set()

    def on_bar(self, bar: Bar) -> None:
        if bar.symbol not in self.done:
            self.done.add(bar.symbol)
            self.buy(self.qty, symbol=bar.symbol)


class FailsOnStart(Strategy):
    """Raises once, in on_start (like funding_arbitrage given one symbol)."""

    name = "qa_fails_on_start"

    def on_start(self) -> None:
        raise ValueError("needs two symbols")
