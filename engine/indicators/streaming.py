"""Streaming indicators: one ``update`` per bar in O(1), for strategies and live charts.

Each class has a specific ``update(...)`` taking floats, a uniform
``update_bar(bar)`` taking an ``engine.models.Bar``, ``.value`` (NaN, or a record
of NaNs, during warm-up), ``.ready`` and ``.reset()``. After warm-up the values
equal the batch functions of the same name (``engine.indicators.batch``) to
1e-9 relative to the price level (RSI: 1e-9 absolute).

Updates keep a fixed amount of state (a ring buffer of ``period`` floats at
most), never touch pandas and never rescan the window except where noted.
A non-finite input (NaN, inf) is malformed market data: the update is ignored
and the current value returned, so one bad print cannot poison an average for
the rest of the session. ``.value`` is a plain attribute for speed: read it,
never assign it.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Hashable
from typing import NamedTuple, Protocol

from engine.indicators.checks import (
    NS_PER_DAY,
    check_k,
    check_period,
    check_price_source,
)
from engine.indicators.kernels import EPS, STD_TOLERANCE
from engine.models import Bar

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
    "utc_day",
]

INF = math.inf
NAN = math.nan


class BollingerValue(NamedTuple):
    """Bollinger bands at one bar (fields match the batch ``bollinger`` columns)."""

    mid: float
    upper: float
    lower: float


class MACDValue(NamedTuple):
    """MACD at one bar (fields match the batch ``macd`` columns)."""

    macd: float
    signal: float
    hist: float


_NO_BANDS = BollingerValue(NAN, NAN, NAN)
_NO_MACD = MACDValue(NAN, NAN, NAN)


class StreamingIndicator(Protocol):
    """What every streaming indicator offers besides its specific ``update``."""

    @property
    def ready(self) -> bool: ...

    def update_bar(self, bar: Bar) -> object: ...

    def reset(self) -> None: ...


def utc_day(ts_ns: int) -> int:
    """The default VWAP session key: days since the epoch of a UTC timestamp."""
    return ts_ns // NS_PER_DAY


class SMA:
    """Simple moving average of the last ``period`` closes.

    >>> sma = SMA(3)
    >>> [sma.update(c) for c in (1.0, 2.0, 3.0, 4.0)]
    [nan, nan, 2.0, 3.0]
    """

    __slots__ = ("_buf", "_count", "_i", "_sum", "period", "value")

    def __init__(self, period: int) -> None:
        self.period = check_period("SMA", "period", period)
        self.reset()

    def reset(self) -> None:
        self._buf = [0.0] * self.period
        self._i = 0
        self._sum = 0.0
        self._count = 0
        self.value = NAN

    @property
    def ready(self) -> bool:
        return self._count >= self.period

    def update(self, close: float) -> float:
        if not -INF < close < INF:
            return self.value
        buf, i = self._buf, self._i
        total = self._sum - buf[i] + close
        buf[i] = close
        i += 1
        if i == self.period:
            # Once per lap, replace the running sum (and whatever rounding it
            # collected) by the exact sum of the window: amortised O(1).
            i = 0
            total = math.fsum(buf)
        self._i, self._sum = i, total
        if self._count < self.period:
            self._count += 1
            if self._count < self.period:
                return NAN
        value = total / self.period
        self.value = value
        return value

    def update_bar(self, bar: Bar) -> float:
        return self.update(bar.close)


class EMA:
    """Exponential moving average, alpha = 2 / (period + 1), seeded with the first close.

    NaN for the first ``period - 1`` closes, like ``ta``/pandas ``min_periods``.
    """

    __slots__ = ("_alpha", "_count", "_ema", "period", "value")

    def __init__(self, period: int) -> None:
        self.period = check_period("EMA", "period", period)
        self._alpha = 2.0 / (self.period + 1.0)
        self.reset()

    def reset(self) -> None:
        self._ema = NAN
        self._count = 0
        self.value = NAN

    @property
    def ready(self) -> bool:
        return self._count >= self.period

    def update(self, close: float) -> float:
        if not -INF < close < INF:
            return self.value
        count = self._count + 1
        self._count = count
        if count == 1:
            ema = close
        else:
            ema = self._ema
            ema += self._alpha * (close - ema)
        self._ema = ema
        if count >= self.period:
            self.value = ema
            return ema
        return NAN

    def update_bar(self, bar: Bar) -> float:
        return self.update(bar.close)


class RSI:
    """Relative strength index (0..100) with Wilder smoothing, as ``ta`` computes it.

    Average gain and loss start at 0 on the first close; the first value comes
    at the ``period``-th close. While no close has fallen the RSI is 100.
    """

    __slots__ = ("_alpha", "_count", "_gain", "_loss", "_prev", "period", "value")

    def __init__(self, period: int = 14) -> None:
        self.period = check_period("RSI", "period", period)
        self._alpha = 1.0 / self.period
        self.reset()

    def reset(self) -> None:
        self._prev = NAN
        self._gain = 0.0
        self._loss = 0.0
        self._count = 0
        self.value = NAN

    @property
    def ready(self) -> bool:
        return self._count >= self.period

    def update(self, close: float) -> float:
        if not -INF < close < INF:
            return self.value
        count = self._count + 1
        self._count = count
        if count > 1:
            change = close - self._prev
            alpha = self._alpha
            if change > 0.0:
                self._gain += alpha * (change - self._gain)
                self._loss -= alpha * self._loss
            else:
                self._gain -= alpha * self._gain
                self._loss += alpha * (-change - self._loss)
        self._prev = close
        if count < self.period:
            return NAN
        gain, loss = self._gain, self._loss
        value = 100.0 if loss == 0.0 else 100.0 * gain / (gain + loss)
        self.value = value
        return value

    def update_bar(self, bar: Bar) -> float:
        return self.update(bar.close)


class Bollinger:
    """Bollinger bands: SMA(period) +/- k population standard deviations.

    ``value`` is a ``BollingerValue(mid, upper, lower)``.

    The rolling variance is updated in O(1) with Welford's sliding-window
    formulas on prices measured from an anchor near the window mean (so price
    level does not eat precision). It cannot drift: once per lap of the ring
    buffer (amortised O(1)) the mean and variance are recomputed from the
    window itself and the anchor moves to the mean; and the rounding error the
    updates could have collected since is bounded, so when that bound could
    distort the deviation by more than 1e-11 of the price level (only when
    prices go nearly flat right after a large move) it recomputes at once.
    """

    __slots__ = (
        "_anchor",
        "_buf",
        "_count",
        "_err_per_wobble",
        "_i",
        "_m2",
        "_mean",
        "_wobble",
        "k",
        "period",
        "value",
    )

    def __init__(self, period: int = 20, k: float = 2.0) -> None:
        self.period = check_period("Bollinger", "period", period)
        self.k = check_k("Bollinger", k)
        # Bound on the variance's rounding error per unit of accumulated "wobble".
        self._err_per_wobble = 4.0 * EPS * (1.0 + math.sqrt(self.period)) / self.period
        self.reset()

    def reset(self) -> None:
        self._buf = [0.0] * self.period
        self._i = 0
        self._count = 0
        self._anchor = 0.0
        self._mean = 0.0  # of (price - anchor) over the window
        self._m2 = 0.0  # sum of squared deviations from the window mean
        self._wobble = 0.0  # magnitude of the updates since the last exact recompute
        self.value = _NO_BANDS

    @property
    def ready(self) -> bool:
        return self._count >= self.period

    def update(self, close: float) -> BollingerValue:
        if not -INF < close < INF:
            return self.value
        n, buf, i = self.period, self._buf, self._i
        y = close - self._anchor
        mean = self._mean
        if self._count == n:  # slide: ``old`` leaves as ``y`` enters
            old = buf[i] - self._anchor
            change = y - old
            new_mean = mean + change / n
            self._m2 += change * (y - new_mean + old - mean)
            self._wobble += change * change + y * y + old * old + mean * mean
        else:  # warm-up: Welford's add
            self._count += 1
            change = y - mean
            new_mean = mean + change / self._count
            self._m2 += change * (y - new_mean)
            self._wobble += change * change + y * y + mean * mean
        self._mean = new_mean
        buf[i] = close
        i += 1
        if i == n:  # a full lap (the first one ends warm-up)
            i = 0
            self._recompute()
        self._i = i
        if self._count < n:
            return _NO_BANDS
        return self._bands()

    def _bands(self) -> BollingerValue:
        var = self._m2 / self.period
        sd = math.sqrt(var) if var > 0.0 else 0.0
        mid = self._anchor + self._mean
        var_err = self._err_per_wobble * self._wobble
        if var_err:
            tol = STD_TOLERANCE * (abs(mid) + sd)
            if var_err > tol * (sd + tol):  # the rounding could matter: recompute exactly
                self._recompute()
                var = self._m2 / self.period
                sd = math.sqrt(var) if var > 0.0 else 0.0
                mid = self._anchor + self._mean
        width = self.k * sd
        value = BollingerValue(mid, mid + width, mid - width)
        self.value = value
        return value

    def _recompute(self) -> None:
        """Mean and variance from the window itself (corrected two-pass), re-anchored."""
        window = self._buf if self._count == self.period else self._buf[: self._count]
        n = len(window)
        anchor = sum(window) / n
        devs = [v - anchor for v in window]
        drift = sum(devs)
        self._anchor = anchor
        self._mean = drift / n
        self._m2 = max(sum([d * d for d in devs]) - drift * drift / n, 0.0)
        self._wobble = 0.0

    def update_bar(self, bar: Bar) -> BollingerValue:
        return self.update(bar.close)


class ATR:
    """Average true range with Wilder smoothing, seeded like ``ta``.

    The first value (at bar ``period``) is the mean of the first ``period`` true
    ranges (the first bar's true range is just high - low); then
    ``atr = (atr_prev * (period - 1) + tr) / period``.
    """

    __slots__ = ("_count", "_prev", "_sum", "period", "value")

    def __init__(self, period: int = 14) -> None:
        self.period = check_period("ATR", "period", period)
        self.reset()

    def reset(self) -> None:
        self._prev = NAN
        self._sum = 0.0
        self._count = 0
        self.value = NAN

    @property
    def ready(self) -> bool:
        return self._count >= self.period

    def update(self, high: float, low: float, close: float) -> float:
        if not (-INF < high < INF and -INF < low < INF and -INF < close < INF):
            return self.value
        true_range = high - low
        count = self._count + 1
        self._count = count
        if count > 1:
            prev = self._prev
            gap = high - prev if high > prev else prev - high
            if gap > true_range:
                true_range = gap
            gap = low - prev if low > prev else prev - low
            if gap > true_range:
                true_range = gap
        self._prev = close
        n = self.period
        if count < n:
            self._sum += true_range
            return NAN
        if count == n:
            value = (self._sum + true_range) / n
        else:
            value = (self.value * (n - 1) + true_range) / n
        self.value = value
        return value

    def update_bar(self, bar: Bar) -> float:
        return self.update(bar.high, bar.low, bar.close)


class MACD:
    """MACD = EMA(fast) - EMA(slow); signal = EMA(signal) of MACD; hist = MACD - signal.

    ``value`` is a ``MACDValue(macd, signal, hist)``. ``macd`` is available from
    bar ``max(fast, slow)``, ``signal``/``hist`` (and ``ready``) ``signal - 1``
    bars later; until then those fields are NaN.
    """

    __slots__ = (
        "_alpha_fast",
        "_alpha_signal",
        "_alpha_slow",
        "_count",
        "_fast_ema",
        "_first",
        "_signal_count",
        "_signal_ema",
        "_slow_ema",
        "fast",
        "signal",
        "slow",
        "value",
    )

    def __init__(self, fast: int = 12, slow: int = 26, signal: int = 9) -> None:
        self.fast = check_period("MACD", "fast", fast)
        self.slow = check_period("MACD", "slow", slow)
        self.signal = check_period("MACD", "signal", signal)
        self._alpha_fast = 2.0 / (self.fast + 1.0)
        self._alpha_slow = 2.0 / (self.slow + 1.0)
        self._alpha_signal = 2.0 / (self.signal + 1.0)
        self._first = max(self.fast, self.slow)
        self.reset()

    def reset(self) -> None:
        self._fast_ema = self._slow_ema = self._signal_ema = NAN
        self._count = 0
        self._signal_count = 0
        self.value = _NO_MACD

    @property
    def ready(self) -> bool:
        return self._signal_count >= self.signal

    def update(self, close: float) -> MACDValue:
        if not -INF < close < INF:
            return self.value
        count = self._count + 1
        self._count = count
        if count == 1:
            self._fast_ema = self._slow_ema = close
        else:
            self._fast_ema += self._alpha_fast * (close - self._fast_ema)
            self._slow_ema += self._alpha_slow * (close - self._slow_ema)
        if count < self._first:
            return _NO_MACD
        line = self._fast_ema - self._slow_ema
        signal_count = self._signal_count + 1
        self._signal_count = signal_count
        if signal_count == 1:
            signal = line
        else:
            signal = self._signal_ema
            signal += self._alpha_signal * (line - signal)
        self._signal_ema = signal
        if signal_count < self.signal:
            value = MACDValue(line, NAN, NAN)
        else:
            value = MACDValue(line, signal, line - signal)
        self.value = value
        return value

    def update_bar(self, bar: Bar) -> MACDValue:
        return self.update(bar.close)


_NO_SESSION = object()


class VWAP:
    """Session VWAP: cumulative sum(price * volume) / sum(volume), reset every session.

    ``update(price, volume, session_key)`` starts a new session whenever the key
    differs from the previous one (keys that are NaN/NaT count as equal to each
    other). ``update_bar`` takes the price named by ``price`` ("typical" =
    (high + low + close) / 3, "close" or "vwap" = the bar's own vwap) and the
    key ``session_fn(bar.ts_ns)``, by default the UTC date (``utc_day``). The
    value is NaN until the session has traded volume; a bar with non-finite
    price or volume, or negative volume, adds nothing (its session still counts).

    Example::

        from engine.calendars import get_calendar
        cal = get_calendar("XKRX")
        vwap = VWAP(session_fn=lambda ts: cal.session_labels(np.array([ts]))[0])
    """

    __slots__ = ("_key", "_session_fn", "_source", "_v", "_pv", "price", "value")

    def __init__(
        self,
        price: str = "typical",
        session_fn: Callable[[int], Hashable] | None = None,
    ) -> None:
        self.price = check_price_source("VWAP", price)
        self._source = ("typical", "close", "vwap").index(self.price)
        self._session_fn = session_fn or utc_day
        self.reset()

    def reset(self) -> None:
        self._key: object = _NO_SESSION
        self._pv = 0.0
        self._v = 0.0
        self.value = NAN

    @property
    def ready(self) -> bool:
        return self._v > 0.0

    def update(self, price: float, volume: float, session_key: Hashable) -> float:
        key = self._key
        if session_key != key and not (session_key != session_key and key != key):
            self._key = session_key
            self._pv = 0.0
            self._v = 0.0
            self.value = NAN
        if -INF < price < INF and 0.0 <= volume < INF:
            self._pv += price * volume
            self._v += volume
            if self._v > 0.0:
                self.value = self._pv / self._v
        return self.value

    def update_bar(self, bar: Bar) -> float:
        source = self._source
        if source == 0:
            price = (bar.high + bar.low + bar.close) / 3.0
        elif source == 1:
            price = bar.close
        else:
            price = bar.vwap
        return self.update(price, bar.volume, self._session_fn(bar.ts_ns))
