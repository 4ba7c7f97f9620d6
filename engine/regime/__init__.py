"""Regime detection (GARCH volatility, trend/range) and regime-aware strategy allocation."""

from engine.regime.allocation import DEFAULT_PREFERENCES, Preference, StrategyManager
from engine.regime.detect import (
    GarchFit,
    Regime,
    RegimeDetector,
    classify,
    efficiency_ratio,
    fit_garch,
)

__all__ = [
    "DEFAULT_PREFERENCES",
    "GarchFit",
    "Preference",
    "Regime",
    "RegimeDetector",
    "StrategyManager",
    "classify",
    "efficiency_ratio",
    "fit_garch",
]
