"""Seed 002's strategies: trend following, mean reversion, range trading, funding arbitrage.

* TrendFollowing: a Donchian breakout confirmed by the EMA trend, exited by an
  ATR trailing stop.
* MeanReversion: the z-score of the close against its SMA; enter at
  ``-entry_z``, exit when it returns to ``-exit_z``.
* RangeTrading: only when the market is ranging (Kaufman efficiency ratio below
  ``max_efficiency``): buy near the bottom of the recent range, sell near the
  top, stop out on a break below it.
* FundingArbitrage: when a perpetual's funding rate pays shorts more than
  ``entry_rate``, short the perpetual and buy the same quantity of the spot
  (delta neutral, collecting funding); unwind both legs when it falls below
  ``exit_rate``.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Sequence
from decimal import Decimal

from engine.errors import UserError
from engine.indicators import ATR, EMA, SMA
from engine.models import Bar, FundingRate, Side
from engine.strategy import Param, Strategy, register_strategy


@register_strategy
class TrendFollowing(Strategy):
    """Donchian breakout in the EMA trend's direction, ATR trailing stop."""

    name = "trend_following"
    breakout = Param(int, 20, low=2, high=500, help="bars of the Donchian channel")
    fast = Param(int, 20, low=2, high=500)
    slow = Param(int, 50, low=3, high=2000)
    atr_period = Param(int, 14, low=2, high=200)
    atr_stop = Param(float, 3.0, low=0.1, high=20.0, help="trailing stop in ATRs")
    size_pct = Param(float, 10.0, low=0.0, high=100.0)

    def on_start(self) -> None:
        self.highs: deque[float] = deque(maxlen=self.breakout)
        self.fast_ema, self.slow_ema, self.atr = EMA(self.fast), EMA(self.slow), ATR(self.atr_period)
        self.stop = float("nan")

    def on_bar(self, bar: Bar) -> None:
        channel_high = max(self.highs) if len(self.highs) == self.breakout else math.inf
        fast, slow = self.fast_ema.update(bar.close), self.slow_ema.update(bar.close)
        atr = self.atr.update(bar.high, bar.low, bar.close)
        self.highs.append(bar.high)
        if not (self.slow_ema.ready and self.atr.ready) or self.open_orders():
            return
        held = self.position()
        if held == 0 and bar.close > channel_high and fast > slow:
            qty = self.size_by_fraction(bar.close, self.size_pct / 100)
            if qty > 0:
                self.stop = bar.close - self.atr_stop * atr
                self.buy(qty, tag="breakout")
                self.signal("BUY", bar.close, {"breakout": 1.0, "trend": 1.0})
        elif held > 0:
            self.stop = max(self.stop, bar.close - self.atr_stop * atr)
            if bar.close < self.stop:
                self.close(tag="atr_stop")
                self.signal("SELL", bar.close, {"atr_stop": 1.0})


@register_strategy
class MeanReversion(Strategy):
    """Fade stretches: buy when the close is ``entry_z`` deviations below its mean."""

    name = "mean_reversion"
    period = Param(int, 20, low=2, high=500)
    entry_z = Param(float, 2.0, low=0.1, high=10.0)
    exit_z = Param(float, 0.0, low=-5.0, high=5.0)
    size_pct = Param(float, 10.0, low=0.0, high=100.0)

    def on_start(self) -> None:
        self.sma = SMA(self.period)
        self.closes: deque[float] = deque(maxlen=self.period)

    def zscore(self, close: float) -> float:
        mean = self.sma.update(close)
        self.closes.append(close)
        if not self.sma.ready:
            return float("nan")
        sd = math.sqrt(sum((c - mean) ** 2 for c in self.closes) / len(self.closes))
        return (close - mean) / sd if sd > 0 else 0.0

    def on_bar(self, bar: Bar) -> None:
        z = self.zscore(bar.close)
        if z != z or self.open_orders():
            return
        held = self.position()
        if held == 0 and z <= -self.entry_z:
            qty = self.size_by_fraction(bar.close, self.size_pct / 100)
            if qty > 0:
                self.buy(qty, tag="stretched_down")
                self.signal("BUY", bar.close, {"zscore": z})
        elif held > 0 and z >= -self.exit_z:
            self.close(tag="reverted")
            self.signal("SELL", bar.close, {"zscore": z})


@register_strategy
class RangeTrading(Strategy):
    """Buy the bottom and sell the top of a range, only while the market ranges."""

    name = "range_trading"
    lookback = Param(int, 40, low=5, high=1000)
    band_pct = Param(float, 20.0, low=1.0, high=50.0, help="% of the range counted as its edge")
    max_efficiency = Param(float, 0.3, low=0.0, high=1.0, help="Kaufman ER below which it ranges")
    size_pct = Param(float, 10.0, low=0.0, high=100.0)

    def on_start(self) -> None:
        self.window: deque[Bar] = deque(maxlen=self.lookback)
        self.floor = float("nan")

    @staticmethod
    def efficiency(closes: list[float]) -> float:
        """Kaufman's efficiency ratio: net move / path length (0 = pure chop, 1 = straight)."""
        path = sum(abs(b - a) for a, b in zip(closes, closes[1:], strict=False))
        return abs(closes[-1] - closes[0]) / path if path > 0 else 0.0

    def on_bar(self, bar: Bar) -> None:
        full = len(self.window) == self.lookback
        if full:
            low = min(b.low for b in self.window)
            high = max(b.high for b in self.window)
            er = self.efficiency([b.close for b in self.window])
        self.window.append(bar)
        if not full or self.open_orders():
            return
        held = self.position()
        edge = (high - low) * self.band_pct / 100
        if held > 0 and (bar.close >= high - edge or bar.close < self.floor):
            tag = "range_top" if bar.close >= high - edge else "range_break"
            self.close(tag=tag)
            self.signal("SELL", bar.close, {tag: 1.0, "efficiency": er})
        elif held == 0 and er <= self.max_efficiency and low < bar.close <= low + edge:
            qty = self.size_by_fraction(bar.close, self.size_pct / 100)
            if qty > 0:
                self.floor = low - edge
                self.buy(qty, tag="range_bottom")
                self.signal("BUY", bar.close, {"range_bottom": 1.0, "efficiency": er})


@register_strategy
class FundingArbitrage(Strategy):
    """Delta-neutral funding carry: short the perpetual, long the spot, while funding pays.

    ``symbols`` are ``[perpetual, spot]``, e.g. ``["BTC/USDT:USDT", "BTC/USDT"]``.
    """

    name = "funding_arbitrage"
    multi_symbol = True
    entry_rate = Param(float, 0.0003, low=0.0, high=0.05, help="funding per interval to enter")
    exit_rate = Param(float, 0.0001, low=-0.05, high=0.05, help="funding below which to unwind")
    notional_pct = Param(float, 20.0, low=0.0, high=100.0, help="% of equity per leg")

    @classmethod
    def check_symbols(cls, symbols: Sequence[str]) -> None:
        if len(symbols) != 2 or ":" not in symbols[0] or ":" in symbols[1]:
            raise UserError("funding_arbitrage needs two symbols, the perpetual and then its "
                            "spot pair (e.g. BTC/USDT:USDT and BTC/USDT); got "
                            + (", ".join(symbols) or "none"))

    def on_start(self) -> None:
        self.check_symbols(self.symbols)
        self.perp, self.spot = self.symbols
        self.last_price: dict[str, float] = {}
        self.rate = float("nan")
        self.subscribe(FundingRate, self.on_funding)

    def on_bar(self, bar: Bar) -> None:
        self.last_price[bar.symbol] = bar.close

    def _on_both_lots(self, qty: Decimal) -> Decimal:
        """``qty`` rounded down onto both legs' lot sizes (the perpetual's is usually the
        coarser): a quantity one leg cannot trade leaves the other unhedged."""
        for symbol in (self.perp, self.spot):
            inst = self.engine.instruments.find(symbol)
            if inst is not None:
                qty = inst.snap_qty(qty)
        return qty

    def on_funding(self, event: FundingRate) -> None:
        if event.symbol != self.perp:
            return
        self.rate = event.rate
        if self.open_orders(self.perp) or self.open_orders(self.spot):
            return
        perp_held, spot_held = self.position(self.perp), self.position(self.spot)
        price = self.last_price.get(self.perp) or self.last_price.get(self.spot)
        if (perp_held == 0) != (spot_held == 0):
            # One leg without the other (the venue refused one): not a carry, just a
            # position. Unwind it rather than add to it.
            self.close(self.perp if perp_held else self.spot, tag="unhedged")
            self.signal("UNHEDGED", price or 0.0, {"funding_rate": event.rate}, symbol=self.perp)
        elif perp_held == 0 and event.rate >= self.entry_rate and price:
            qty = min(self.size_by_fraction(price, self.notional_pct / 100, symbol=self.perp),
                      self.size_by_fraction(price, self.notional_pct / 100, symbol=self.spot))
            qty = self._on_both_lots(qty)
            if qty > 0:
                self.order(Side.SELL, qty, symbol=self.perp, tag="carry_short_perp")
                self.order(Side.BUY, qty, symbol=self.spot, tag="carry_long_spot")
                self.signal("ENTER_CARRY", price, {"funding_rate": event.rate}, symbol=self.perp)
        elif perp_held < 0 and event.rate < self.exit_rate:
            self.close(self.perp, tag="unwind_perp")
            self.close(self.spot, tag="unwind_spot")
            self.signal("EXIT_CARRY", price or 0.0, {"funding_rate": event.rate}, symbol=self.perp)
