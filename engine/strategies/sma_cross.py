"""SMA crossover: long while the fast SMA is above the slow one (optionally short below).

Used for the independent check against backtesting.py and for the speed
benchmark, so it is deliberately plain: on the cross up buy ``size`` units
(or ``max_position_pct`` of equity when ``size`` is 0); on the cross down
close the long, and with ``reverse`` go short the same size (where the
instrument can be sold short), so the strategy is always in the market. A
reversal is one order for the difference (``order_target``).
"""

from __future__ import annotations

from engine.indicators import SMA
from engine.models import Bar
from engine.strategy import Param, Strategy, register_strategy


@register_strategy
class SmaCross(Strategy):
    """Long on a fast-over-slow SMA cross, flat (or short) on the cross back."""

    name = "sma_cross"
    fast = Param(int, 10, low=2, high=500, help="fast SMA period")
    slow = Param(int, 30, low=3, high=2000, help="slow SMA period")
    size = Param(float, 0.0, low=0.0, high=1e9,
                 help="units per entry; 0 = max_position_pct of equity")
    reverse = Param(bool, False, help="go short on the cross down (always in the market)")

    def on_start(self) -> None:
        self.fast_sma, self.slow_sma = SMA(self.fast), SMA(self.slow)
        self.prev_diff = float("nan")

    def on_bar(self, bar: Bar) -> None:
        diff = self.fast_sma.update(bar.close) - self.slow_sma.update(bar.close)
        prev, self.prev_diff = self.prev_diff, diff
        # Strict crossings, like backtesting.py's crossover(): an exact tie is no cross.
        if prev < 0 < diff:
            self.enter(bar, 1)
        elif prev > 0 > diff:
            self.enter(bar, -1)

    def enter(self, bar: Bar, direction: int) -> None:
        held = self.position()
        if held * direction > 0:
            return
        qty = self.size or self.size_by_fraction(bar.close)
        inst = self.engine.instruments.find(self.symbol)
        can_short = inst is None or inst.allows_short
        if qty and (direction > 0 or (self.reverse and can_short)):
            # Long to short (or back) in one order through flat, like a trader's reversal.
            self.order_target(direction * qty, tag="cross")
        elif held:
            self.close(tag="cross")
