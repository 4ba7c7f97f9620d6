"""Batch indicators over pandas Series/DataFrames (charts, backtests, research).

Every function returns float64 aligned to the input index, NaN during warm-up,
and means exactly what the streaming class of the same name computes bar by bar.

Agreement with the ``ta`` library (checked by tests/engine/indicators): after
warm-up ``sma``, ``ema``, ``bollinger``, ``atr`` and ``macd`` equal ``ta`` to
1e-9 relative to the price level (``|ours - ta| <= 1e-9 * max|close|``: a
relative error per value would be meaningless for a MACD or a band width that
crosses zero), and ``rsi`` equals it to 1e-9 absolute on its 0..100 scale.
One exception: in a near-flat window pandas' rolling standard deviation
(inside ``ta``'s Bollinger Bands) keeps running sums whose rounding error the
square root magnifies to ~1e-8 of the price; there ``bollinger`` equals the
exact per-window value instead. Otherwise ``ta`` differs from us only in its warm-up: ``ta`` fills ATR's warm-up
with 0.0 and raises on series shorter than the period; we give NaN. ``vwap``
resets every session and has no ``ta`` equivalent (``ta``'s VWAP is a rolling
window); it is checked against a plain pandas groupby/cumsum instead.

Non-finite input (NaN, inf; negative volume for VWAP) is malformed market
data. Such a row is skipped, exactly as the streaming form skips the update:
it does not move the indicator and its output repeats the previous row's
value (NaN if there is none yet).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from engine.errors import DataValidationError
from engine.indicators import kernels
from engine.indicators.checks import (
    NS_PER_DAY,
    as_floats,
    check_aligned,
    check_k,
    check_period,
    check_price_source,
    column,
    index_of,
)

__all__ = ["atr", "bollinger", "ema", "macd", "rsi", "sma", "vwap"]


def sma(close: pd.Series, period: int) -> pd.Series:
    """Simple moving average of the last ``period`` closes (``ta.trend.SMAIndicator``).

    >>> sma(pd.Series([1.0, 2.0, 3.0, 4.0]), 2).tolist()
    [nan, 1.5, 2.5, 3.5]
    """
    period = check_period("sma", "period", period)
    x = as_floats("sma", "close", close)
    out = _skipping_bad_rows(lambda v: kernels.rolling_mean(v, period), x)
    return pd.Series(out, index=index_of(close, len(x)), name="sma")


def ema(close: pd.Series, period: int) -> pd.Series:
    """Exponential moving average, alpha = 2 / (period + 1), seeded with the first close.

    Matches ``ta.trend.EMAIndicator`` (pandas ``ewm(span=period, adjust=False)``);
    the first ``period - 1`` values are NaN.
    """
    period = check_period("ema", "period", period)
    x = as_floats("ema", "close", close)

    def compute(v: np.ndarray) -> np.ndarray:
        # pandas' compiled recursion with its own warm-up NaNs: no copies on the way.
        series = pd.Series(v, copy=False).ewm(alpha=2.0 / (period + 1.0), adjust=False,
                                              min_periods=period)
        return series.mean().to_numpy()

    return pd.Series(_skipping_bad_rows(compute, x), index=index_of(close, len(x)), name="ema",
                     copy=False)


def rsi(close: pd.Series, period: int = 14) -> pd.Series:
    """Relative strength index, 0..100, with Wilder smoothing (``ta.momentum.RSIIndicator``).

    Like ``ta``, the averages of gains and losses start at 0 on the first close
    and the first value appears at the ``period``-th close; while no close has
    ever fallen (a flat series included) the RSI reads 100.
    """
    period = check_period("rsi", "period", period)
    x = as_floats("rsi", "close", close)
    return pd.Series(
        _skipping_bad_rows(lambda v: _rsi(v, period), x),
        index=index_of(close, len(x)),
        name="rsi",
    )


def _rsi(x: np.ndarray, period: int) -> np.ndarray:
    n = len(x)
    if n < period:
        return np.full(n, np.nan)
    change = np.empty(n)
    change[0] = 0.0
    np.subtract(x[1:], x[:-1], out=change[1:])
    gain = np.maximum(change, 0.0)
    loss = np.maximum(-change, 0.0)
    alpha = 1.0 / period
    avg_gain = kernels.ewma(gain, alpha)
    avg_loss = kernels.ewma(loss, alpha)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = 100.0 * avg_gain / (avg_gain + avg_loss)
    out[avg_loss == 0.0] = 100.0
    out[: period - 1] = np.nan
    return out


def bollinger(close: pd.Series, period: int = 20, k: float = 2.0) -> pd.DataFrame:
    """Bollinger bands: columns ``mid`` (SMA), ``upper``/``lower`` = mid +/- k * std.

    The standard deviation is the population one (ddof=0), as in
    ``ta.volatility.BollingerBands``. A window of identical closes has std 0.

    Example::

        bands = bollinger(df["close"], 20, 2.0)
        touched = df["close"] <= bands["lower"]
    """
    period = check_period("bollinger", "period", period)
    k = check_k("bollinger", k)
    x = as_floats("bollinger", "close", close)

    def compute(v: np.ndarray) -> list[np.ndarray]:
        mid, width = kernels.rolling_mean_std(v, period)
        width *= k
        upper = mid + width
        lower = np.subtract(mid, width, out=width)
        return [mid, upper, lower]

    return _frame(_skipping_bad_rows(compute, x), close, ("mid", "upper", "lower"))


def atr(high: pd.Series, low: pd.Series, close: pd.Series, period: int = 14) -> pd.Series:
    """Average true range with Wilder smoothing (``ta.volatility.AverageTrueRange``).

    True range is ``max(high - low, |high - prev close|, |low - prev close|)``,
    just ``high - low`` on the first bar. The first ATR (at bar ``period``) is
    the mean of the first ``period`` true ranges, then
    ``atr = (atr_prev * (period - 1) + tr) / period``. ``ta`` shows 0.0 during
    warm-up; we show NaN.
    """
    period = check_period("atr", "period", period)
    check_aligned("atr", close, high=high, low=low)
    h = as_floats("atr", "high", high)
    lo = as_floats("atr", "low", low)
    c = as_floats("atr", "close", close)

    def compute(hh: np.ndarray, ll: np.ndarray, cc: np.ndarray) -> np.ndarray:
        n = len(cc)
        out = np.full(n, np.nan)
        if n < period:
            return out
        tr = hh - ll
        prev = cc[:-1]
        np.maximum(tr[1:], np.abs(hh[1:] - prev), out=tr[1:])
        np.maximum(tr[1:], np.abs(ll[1:] - prev), out=tr[1:])
        seed = tr[:period].mean()
        out[period - 1] = seed
        out[period:] = kernels.wilder(tr[period:], period, seed)
        return out

    return pd.Series(_skipping_bad_rows(compute, h, lo, c), index=index_of(close, len(c)), name="atr")


def macd(close: pd.Series, fast: int = 12, slow: int = 26, signal: int = 9) -> pd.DataFrame:
    """MACD (``ta.trend.MACD``): columns ``macd`` = EMA(fast) - EMA(slow),
    ``signal`` = EMA(signal) of macd, ``hist`` = macd - signal.

    Both EMAs are seeded with the first close; ``macd`` starts at bar
    ``max(fast, slow)``, the signal EMA is seeded with that first macd value,
    and ``signal``/``hist`` start ``signal - 1`` bars later.
    """
    fast = check_period("macd", "fast", fast)
    slow = check_period("macd", "slow", slow)
    signal = check_period("macd", "signal", signal)
    x = as_floats("macd", "close", close)

    def compute(v: np.ndarray) -> list[np.ndarray]:
        n = len(v)
        first = max(fast, slow) - 1
        if n <= first:
            return [np.full(n, np.nan) for _ in range(3)]
        line = kernels.ewma(v, 2.0 / (fast + 1.0))
        line -= kernels.ewma(v, 2.0 / (slow + 1.0))
        sig = np.empty(n)
        sig[first:] = kernels.ewma(line[first:], 2.0 / (signal + 1.0))
        line[:first] = np.nan
        sig[: first + signal - 1] = np.nan
        return [line, sig, line - sig]

    return _frame(_skipping_bad_rows(compute, x), close, ("macd", "signal", "hist"))


def vwap(
    df: pd.DataFrame,
    session: pd.Series | np.ndarray | None = None,
    price: str = "typical",
) -> pd.Series:
    """Session VWAP: cumulative sum(price * volume) / sum(volume), reset every session.

    ``session`` holds one label per row; a new session starts wherever the label
    differs from the previous row's (labels that are NaN/NaT count as equal to
    each other, so bars outside any session form their own run). ``None`` means
    one session per UTC calendar date of the index. ``price`` is ``"typical"``
    ((high + low + close) / 3), ``"close"``, or ``"vwap"`` (the bar's own
    ``vwap`` column). Until the session has traded volume the VWAP is NaN; a bar
    with non-finite price/volume or negative volume adds nothing.

    There is no ``ta`` equivalent (``ta``'s VWAP is a rolling window); tests
    check this against a plain pandas ``groupby(...).cumsum()``.

    Example::

        from engine.calendars import get_calendar
        labels = get_calendar("XKRX").session_labels(df.index)
        df["vwap"] = vwap(df, labels)
    """
    price = check_price_source("vwap", price)
    if not isinstance(df, pd.DataFrame):
        raise DataValidationError(f"vwap: expected an OHLCV DataFrame, got {type(df).__name__}")
    px = _vwap_price(df, price)
    volume = column("vwap", df, "volume")
    keys = _session_keys(df, session)
    ok = np.isfinite(px) & np.isfinite(volume) & (volume >= 0.0)
    if ok.all():
        traded = px * volume
    else:
        traded = np.where(ok, px * volume, 0.0)
        volume = np.where(ok, volume, 0.0)
    n = len(px)
    starts = np.ones(n, dtype=bool)
    if n > 1:
        starts[1:] = keys[1:] != keys[:-1]
        if keys.dtype.kind in "fcmMO":  # these can hold NaN/NaT, which never equal themselves
            missing = pd.isna(keys)
            starts[1:] &= ~(missing[1:] & missing[:-1])
    sums = pd.DataFrame({"pv": traded, "v": volume}).groupby(np.cumsum(starts), sort=False).cumsum()
    cum_pv, cum_v = sums["pv"].to_numpy(), sums["v"].to_numpy()
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.where(cum_v > 0.0, cum_pv / cum_v, np.nan)
    return pd.Series(out, index=df.index, name="vwap")


def _vwap_price(df: pd.DataFrame, price: str) -> np.ndarray:
    if price == "typical":
        high, low, close = (column("vwap", df, c) for c in ("high", "low", "close"))
        return (high + low + close) / 3.0
    return column("vwap", df, price)


def _session_keys(df: pd.DataFrame, session: pd.Series | np.ndarray | None) -> np.ndarray:
    if session is None:
        index = df.index
        if not isinstance(index, pd.DatetimeIndex):
            raise DataValidationError(
                "vwap: session=None means one session per UTC date of the index, "
                f"but the index is a {type(index).__name__}, not a DatetimeIndex; "
                "pass session labels"
            )
        return np.floor_divide(index.as_unit("ns").asi8, NS_PER_DAY)
    keys = np.asarray(session)
    if keys.ndim != 1 or len(keys) != len(df):
        raise DataValidationError(
            f"vwap: session has {len(keys)} labels for {len(df)} rows; give one label per row"
        )
    return keys


def _frame(columns: list[np.ndarray], like: object, names: tuple[str, ...]) -> pd.DataFrame:
    """A DataFrame of ``columns`` on ``like``'s index (from a dict: no 2-D copy)."""
    index = index_of(like, len(columns[0]))
    return pd.DataFrame(dict(zip(names, columns, strict=True)), index=index, copy=False)


def _skipping_bad_rows(compute: Callable[..., Any], *inputs: np.ndarray) -> Any:
    """``compute(*inputs)`` (an array or a list of arrays), run only on finite rows.

    A row where any input is non-finite is skipped and repeats the previous
    row's result (NaN if none): the same as the streaming classes, which ignore
    a non-finite update.
    """
    ok = np.isfinite(inputs[0])
    for arr in inputs[1:]:
        ok &= np.isfinite(arr)
    if ok.all():
        return compute(*inputs)
    kept = compute(*(arr[ok] for arr in inputs))
    last = np.cumsum(ok) - 1  # position in the kept rows of each row's latest good row
    if isinstance(kept, list):
        return [_spread(col, last) for col in kept]
    return _spread(kept, last)


def _spread(kept: np.ndarray, last: np.ndarray) -> np.ndarray:
    if len(kept) == 0:
        return np.full(len(last), np.nan)
    out = kept[np.maximum(last, 0)]
    out[last < 0] = np.nan
    return out
