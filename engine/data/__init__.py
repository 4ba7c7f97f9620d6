"""Market data processing: validating trades, building bars, resampling.

``TickValidator`` drops malformed trades, ``BarAggregator`` turns trades into
time-bucketed bars aligned to the market calendar, ``resample`` cuts OHLCV
frames into coarser bars with the same buckets.
"""

from engine.data.bars import BarAggregator, Bucketing
from engine.data.resample import resample
from engine.data.ticks import TickValidator

__all__ = ["BarAggregator", "Bucketing", "TickValidator", "resample"]
