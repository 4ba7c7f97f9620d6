"""Seed 002's adaptive allocation: strategies on or off by regime, weighted by results.

``StrategyManager`` watches one symbol's regime (``RegimeDetector``) and each
managed strategy's recent round trips. A strategy runs only in the regimes it
is meant for (``Preference``: trend directions and volatility levels); when
the regime leaves them it is closed out and stopped, and started again when
the regime returns. Among the running ones, ``allocation`` (the multiplier
``Strategy.size_by_fraction`` applies) follows recent performance: the mean
over the standard deviation of the last ``window`` trade returns, floored at
``min_weight``, normalised so the weights average 1.
"""

from __future__ import annotations

import logging
import math
from collections import deque
from dataclasses import dataclass, field

from engine.backtest.trades import round_trips
from engine.models import Bar, Fill, FillEvent
from engine.regime.detect import Regime, RegimeDetector
from engine.strategy.runner import StrategyRunner

log = logging.getLogger(__name__)

ANY_TREND = frozenset({"up", "down", "range", "unknown"})
ANY_VOL = frozenset({"low", "normal", "high", "unknown"})
TRENDING = frozenset({"up", "down"})


@dataclass(frozen=True, slots=True)
class Preference:
    trends: frozenset[str] = ANY_TREND
    volatilities: frozenset[str] = ANY_VOL

    def accepts(self, regime: Regime) -> bool:
        return regime.trend in self.trends and regime.volatility in self.volatilities


DEFAULT_PREFERENCES: dict[str, Preference] = {
    "trend_following": Preference(TRENDING),
    "ema_crossover": Preference(TRENDING),
    "sma_cross": Preference(TRENDING),
    "mean_reversion": Preference(frozenset({"range"})),
    "range_trading": Preference(frozenset({"range"})),
    "rsi_mean_reversion": Preference(frozenset({"range"})),
    "bollinger_bands": Preference(frozenset({"range"})),
}


@dataclass
class _Managed:
    preference: Preference
    fills: list[Fill] = field(default_factory=list)
    returns: deque[float] = field(default_factory=lambda: deque(maxlen=20))


class StrategyManager:
    def __init__(self, runner: StrategyRunner, symbol: str, *, detector: RegimeDetector | None = None,
                 preferences: dict[str, Preference] | None = None, window: int = 20,
                 min_weight: float = 0.25, timeframe: str = "1m") -> None:
        self.runner = runner
        self.symbol = symbol
        self.timeframe = timeframe
        self.detector = detector or RegimeDetector()
        self.preferences = {**DEFAULT_PREFERENCES, **(preferences or {})}
        self.window = window
        self.min_weight = min_weight
        self.managed: dict[str, _Managed] = {}
        self.switches: list[tuple[int, str, str]] = []  # (ts, strategy, "start"/"stop")
        bus = runner.engine.bus
        bus.subscribe(Bar, self._on_bar)
        bus.subscribe(FillEvent, self._on_fill)

    def manage(self, strategy_id: str) -> None:
        strategy = self.runner.get(strategy_id)
        pref = self.preferences.get(strategy.name, Preference())
        self.managed[strategy_id] = _Managed(pref, returns=deque(maxlen=self.window))

    @property
    def regime(self) -> Regime:
        return self.detector.regime

    def _on_bar(self, bar: Bar) -> None:
        if bar.symbol != self.symbol or bar.timeframe != self.timeframe:
            return
        regime = self.detector.update(bar.close)
        if self.runner.engine.kill_switch.latched:
            return
        for sid, managed in self.managed.items():
            state = self.runner.state(sid)
            wanted = managed.preference.accepts(regime)
            if wanted and state == "stopped":
                self.runner.start(sid)
                self.switches.append((bar.ts_ns, sid, "start"))
            elif not wanted and state == "running":
                strategy = self.runner.get(sid)
                strategy.cancel_all()
                strategy.close(tag=f"regime_{regime.label}")
                self.runner.stop(sid)
                self.switches.append((bar.ts_ns, sid, "stop"))
        self._reweight()

    def _on_fill(self, event: FillEvent) -> None:
        managed = self.managed.get(event.order.strategy_id)
        if managed is None:
            return
        managed.fills.append(event.fill)
        trips = round_trips(managed.fills)
        managed.returns.clear()
        for trip in trips[-self.window:]:
            cost = float(trip.entry_price * trip.quantity)
            managed.returns.append(float(trip.net_pnl) / cost if cost else 0.0)

    def score(self, strategy_id: str) -> float:
        """Recent performance: mean / std of trade returns (0 with fewer than 3 trades)."""
        r = list(self.managed[strategy_id].returns)
        if len(r) < 3:
            return 0.0
        mean = sum(r) / len(r)
        sd = math.sqrt(sum((x - mean) ** 2 for x in r) / (len(r) - 1))
        return mean / sd if sd > 0 else (math.copysign(3.0, mean) if mean else 0.0)

    def _reweight(self) -> None:
        running = [sid for sid in self.managed if self.runner.state(sid) == "running"]
        if not running:
            return
        raw = {sid: max(self.min_weight, 1.0 + self.score(sid)) for sid in running}
        mean = sum(raw.values()) / len(raw)
        for sid, weight in raw.items():
            self.runner.get(sid).allocation = weight / mean

    def weights(self) -> dict[str, float]:
        return {sid: self.runner.get(sid).allocation for sid in self.managed}
