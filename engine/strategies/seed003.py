"""Seed 003's strategies: EMA crossover, RSI mean reversion, Bollinger Bands.

Each trades one symbol, long only by default (``allow_short`` for venues that
allow it), sizing entries as ``size_pct`` % of equity.
"""

from __future__ import annotations

from engine.indicators import EMA, RSI, Bollinger
from engine.models import Bar
from engine.strategy import Param, Strategy, register_strategy


class _Directional(Strategy):
    size_pct = Param(float, 10.0, low=0.0, high=100.0, help="% of equity per entry")
    allow_short = Param(bool, False)

    def go_long(self, bar: Bar, tag: str) -> None:
        """Cover a short if any, then buy."""
        held = self.position()
        if held > 0 or self.open_orders():
            return
        if held < 0:
            self.close(tag=f"{tag}_cover")
        qty = self.size_by_fraction(bar.close, self.size_pct / 100)
        if qty > 0:
            self.buy(qty, tag=tag)
            self.signal("BUY", bar.close, {tag: 1.0})

    def go_short(self, bar: Bar, tag: str) -> None:
        """Close a long if any, then sell short when shorting is allowed."""
        held = self.position()
        if held < 0 or self.open_orders():
            return
        if held > 0:
            self.close(tag=tag)
            self.signal("SELL", bar.close, {tag: 1.0})
        if self.allow_short:
            qty = self.size_by_fraction(bar.close, self.size_pct / 100)
            if qty > 0:
                self.sell(qty, tag=f"{tag}_short")
                self.signal("SHORT", bar.close, {tag: -1.0})

    def exit(self, bar: Bar, tag: str) -> None:
        held = self.position()
        if held != 0 and not self.open_orders():
            self.close(tag=tag)
            self.signal("SELL" if held > 0 else "COVER", bar.close, {tag: 1.0})


@register_strategy
class EmaCrossover(_Directional):
    """Long when the fast EMA crosses above the slow EMA; out (or short) on the cross down."""

    name = "ema_crossover"
    fast = Param(int, 12, low=2, high=500)
    slow = Param(int, 26, low=3, high=2000)

    def on_start(self) -> None:
        self.fast_ema, self.slow_ema = EMA(self.fast), EMA(self.slow)
        self.prev = float("nan")

    def on_bar(self, bar: Bar) -> None:
        diff = self.fast_ema.update(bar.close) - self.slow_ema.update(bar.close)
        prev, self.prev = self.prev, diff
        if not self.slow_ema.ready or prev != prev:
            return
        if prev <= 0 < diff:
            self.go_long(bar, "ema_cross_up")
        elif prev >= 0 > diff:
            self.go_short(bar, "ema_cross_down")


@register_strategy
class RsiMeanReversion(_Directional):
    """Buy when RSI falls below ``oversold``; sell when it rises above ``exit_level``."""

    name = "rsi_mean_reversion"
    period = Param(int, 14, low=2, high=200)
    oversold = Param(float, 30.0, low=0.0, high=100.0)
    overbought = Param(float, 70.0, low=0.0, high=100.0)
    exit_level = Param(float, 50.0, low=0.0, high=100.0, help="RSI at which a long is closed")

    def on_start(self) -> None:
        self.rsi = RSI(self.period)

    def on_bar(self, bar: Bar) -> None:
        value = self.rsi.update(bar.close)
        if not self.rsi.ready:
            return
        held = self.position()
        if value < self.oversold and held <= 0:
            self.go_long(bar, "rsi_oversold")
        elif held > 0 and value > self.exit_level:
            self.exit(bar, "rsi_exit")
        elif held == 0 and value > self.overbought and self.allow_short:
            self.go_short(bar, "rsi_overbought")


@register_strategy
class BollingerBands(_Directional):
    """Mean reversion on the bands: buy below the lower band, exit at the middle.

    With ``mode="breakout"`` it trades the other way: buy a close above the
    upper band, exit when price falls back below the middle.
    """

    name = "bollinger_bands"
    period = Param(int, 20, low=2, high=500)
    k = Param(float, 2.0, low=0.1, high=10.0)
    mode = Param(str, "reversion", choices=("reversion", "breakout"))

    def on_start(self) -> None:
        self.bands = Bollinger(self.period, self.k)

    def on_bar(self, bar: Bar) -> None:
        b = self.bands.update(bar.close)
        if not self.bands.ready:
            return
        held = self.position()
        if self.mode == "reversion":
            if bar.close < b.lower and held <= 0:
                self.go_long(bar, "below_lower_band")
            elif held > 0 and bar.close >= b.mid:
                self.exit(bar, "back_to_mid")
        else:
            if bar.close > b.upper and held <= 0:
                self.go_long(bar, "upper_breakout")
            elif held > 0 and bar.close < b.mid:
                self.exit(bar, "below_mid")
