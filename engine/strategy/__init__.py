"""The strategy API. See ``engine.strategy.base`` for a complete example."""

from engine.strategy.base import Strategy, warmup_count
from engine.strategy.params import Param, ParamError
from engine.strategy.registry import get_strategy, register_strategy, strategy_names
from engine.strategy.runner import StrategyRunner
from engine.strategy.signals import Signal, StrategyStateChanged

__all__ = [
    "Param",
    "ParamError",
    "Signal",
    "Strategy",
    "StrategyRunner",
    "StrategyStateChanged",
    "get_strategy",
    "register_strategy",
    "strategy_names",
    "warmup_count",
]
