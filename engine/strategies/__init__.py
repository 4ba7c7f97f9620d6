"""Built-in strategies (importing this package registers them by name)."""

from engine.strategies.hybrid import HybridStrategy
from engine.strategies.seed002 import FundingArbitrage, MeanReversion, RangeTrading, TrendFollowing
from engine.strategies.seed003 import BollingerBands, EmaCrossover, RsiMeanReversion
from engine.strategies.sma_cross import SmaCross

__all__ = [
    "BollingerBands",
    "EmaCrossover",
    "FundingArbitrage",
    "HybridStrategy",
    "MeanReversion",
    "RangeTrading",
    "RsiMeanReversion",
    "SmaCross",
    "TrendFollowing",
]
