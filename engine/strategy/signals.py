"""Signals: what a strategy decided and why, published for the GUI and the log."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Signal:
    """A decision with its ingredients.

    ``action`` is e.g. BUY, SELL, SELL_SL, SELL_TP, HOLD. ``components`` holds
    each rule's contribution (seed 004: ema_cross, rsi, bb_break, vwap_break,
    ai) and ``scores`` the totals (buy_score, sell_score) so a chart can show on
    hover exactly why a marker is there.
    """

    strategy_id: str
    symbol: str
    ts_ns: int
    action: str
    price: float
    components: dict[str, float] = field(default_factory=dict)
    scores: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class StrategyStateChanged:
    """A strategy started, stopped, halted or failed (the strategies panel listens)."""

    strategy_id: str
    state: str  # "running" | "stopped" | "halted" | "error"
    ts_ns: int
    detail: str = ""
