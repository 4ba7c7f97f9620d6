"""SMA crossover: long while the fast SMA is above the slow one.

Used for the independent check against backtesting.py and for the speed
benchmark, so it is deliberately plain: buy ``size`` units when the fast SMA
crosses above the slow one, close the position when it crosses below.
"""

from __future__ import annotations

from engine.indicators import SMA
from engine.models import Bar
from engine.strategy import Param, Strategy, register_strategy


@register_strategy
class SmaCross(Strategy):
    """Long on a fast-over-slow SMA cross, flat on the cross back."""

    name = "sma_cross"
    fast = Param(int, 10, low=2, high=500, help="fast SMA period")
    slow = Param(int, 30, low=3, high=2000, help="slow SMA period")
    size = Param(float, 0.0, low=0.0, high=1e9,
                 help="units per entry; 0 = max_position_pct of equity")

    def on_start(self) -> None:
        self.fast_sma, self.slow_sma = SMA(self.fast), SMA(self.slow)
        self.prev_diff = float("nan")

    def on_bar(self, bar: Bar) -> None:
        diff = self.fast_sma.update(bar.close) - self.slow_sma.update(bar.close)
        prev, self.prev_diff = self.prev_diff, diff
        if not (prev == prev and diff == diff):  # NaN while warming up
            return
        # Strict crossings, like backtesting.py's crossover(): an exact tie is no cross.
        if prev < 0 < diff and self.position() == 0:
            qty = self.size or self.size_by_fraction(bar.close)
            if qty:
                self.buy(qty, tag="cross_up")
        elif prev > 0 > diff and self.position() > 0:
            self.close(tag="cross_down")
