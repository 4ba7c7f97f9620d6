"""Technical indicators in two forms with one meaning: batch (pandas) and streaming (O(1)).

Batch functions take pandas Series/DataFrames and return float64 aligned to the
input index, NaN during warm-up (charts, backtests, research):

===========================================  =========================================
``sma(close, period)``                       simple moving average
``ema(close, period)``                       EMA, alpha = 2/(period+1), seeded with the first close
``rsi(close, period=14)``                    Wilder RSI, 0..100
``bollinger(close, period=20, k=2.0)``       DataFrame ``mid``, ``upper``, ``lower`` (population std)
``vwap(df, session=None, price="typical")``  session VWAP, reset per session (default: UTC date)
``atr(high, low, close, period=14)``         Wilder ATR, seeded with the mean of the first true ranges
``macd(close, fast=12, slow=26, signal=9)``  DataFrame ``macd``, ``signal``, ``hist``
===========================================  =========================================

Streaming classes hold a fixed amount of state and update in O(1) per bar
(strategies, live charts): ``SMA(period)``, ``EMA(period)``, ``RSI(period)``,
``Bollinger(period, k)``, ``ATR(period)``, ``MACD(fast, slow, signal)``,
``VWAP(price, session_fn)``. Each has a specific ``update(...)`` taking floats
(``ATR.update(high, low, close)``, ``VWAP.update(price, volume, session_key)``,
the others ``update(close)``), ``update_bar(bar)`` taking an
``engine.models.Bar``, ``.value`` (NaN during warm-up; ``Bollinger`` and
``MACD`` give ``BollingerValue(mid, upper, lower)`` / ``MACDValue(macd, signal,
hist)`` records named like the batch columns), ``.ready`` and ``.reset()``.

Both forms agree with each other, and with the ``ta`` library after warm-up, to
1e-9 relative to the price level (RSI: 1e-9 absolute). The only differences
from ``ta`` are at the edges: NaN (not ``ta``'s 0.0) during ATR's warm-up, NaN
(not an exception) for series shorter than the period, and a session VWAP,
which ``ta`` does not have. Non-finite inputs are skipped by both forms alike
(see ``batch``). Bad parameters raise ``engine.errors.ConfigError``.

Example for a strategy author::

    from engine.indicators import ATR, Bollinger, RSI

    class MeanReversion(Strategy):
        def on_start(self):
            self.bands, self.rsi, self.atr = Bollinger(20, 2.0), RSI(14), ATR(14)

        def on_bar(self, bar):
            bands = self.bands.update_bar(bar)      # BollingerValue(mid, upper, lower)
            rsi = self.rsi.update_bar(bar)
            atr = self.atr.update_bar(bar)
            if not (self.bands.ready and self.rsi.ready and self.atr.ready):
                return                              # still warming up (values are NaN)
            if bar.close < bands.lower and rsi < 30 and self.position() == 0:
                self.buy(self.size_by_fraction(bar.close))
            elif bar.close > bands.mid and self.position() > 0:
                self.close()

The same numbers over a whole DataFrame (e.g. to plot or to check a backtest)::

    from engine.indicators import bollinger, rsi
    bands = bollinger(df["close"], 20, 2.0)   # columns mid, upper, lower
    df["rsi"] = rsi(df["close"], 14)
"""

from engine.indicators.batch import atr, bollinger, ema, macd, rsi, sma, vwap
from engine.indicators.streaming import (
    ATR,
    EMA,
    MACD,
    RSI,
    SMA,
    VWAP,
    Bollinger,
    BollingerValue,
    MACDValue,
    StreamingIndicator,
    utc_day,
)

__all__ = [
    "ATR",
    "EMA",
    "MACD",
    "RSI",
    "SMA",
    "VWAP",
    "Bollinger",
    "BollingerValue",
    "MACDValue",
    "StreamingIndicator",
    "atr",
    "bollinger",
    "ema",
    "macd",
    "rsi",
    "sma",
    "utc_day",
    "vwap",
]
