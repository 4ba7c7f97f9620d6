"""A strategy that raises is isolated, and the run says so instead of looking quiet."""

from __future__ import annotations

from engine.backtest.runner import BacktestConfig, run_backtest
from engine.models import Bar
from engine.strategy import Param, Strategy, register_strategy
from tests.engine.backtest.crafted import SYMBOL, v_then_peak


@register_strategy
class RaisesFrom(Strategy):
    """Buys on bar 0, then raises on every bar from ``broken`` on."""

    name = "test_raises_from"
    broken = Param(int, 5, low=0, high=1000)

    def on_start(self) -> None:
        self.n = -1

    def on_bar(self, bar: Bar) -> None:
        self.n += 1
        if self.n == 0:
            self.buy(1)
        if self.n >= self.broken:
            raise KeyError(f"bar {self.n}")


def run(broken: int):
    return run_backtest(BacktestConfig("test_raises_from", (SYMBOL,), {"broken": broken},
                                       cash=10_000, timeframe="1d"), v_then_peak())


def test_a_healthy_run_has_no_strategy_warnings():
    result = run(broken=1000)
    assert not [w for w in result.warnings if "strategy" in w]
    assert len(result.fills) == 1


def test_a_strategy_that_keeps_raising_is_stopped_and_the_run_says_when():
    result = run(broken=5)
    raised, stopped = [w for w in result.warnings if "strategy" in w]
    # Bar 5 is 2024-01-06; bars close a day after they open.
    assert raised.startswith("the strategy raised 10 time(s); first in on_bar at 2024-01-07")
    assert "KeyError: 'bar 5'" in raised
    assert "stopped after 10 errors" in stopped and "2024-01-16" in stopped
    assert result.bars == 60  # the run itself completes; the position stays as it was
    assert len(result.fills) == 1


def test_a_few_errors_are_reported_without_a_stop():
    result = run(broken=55)  # bars 55..59 raise: 5 errors, under the limit of 10
    [raised] = [w for w in result.warnings if "strategy" in w]
    assert raised.startswith("the strategy raised 5 time(s); first in on_bar")
