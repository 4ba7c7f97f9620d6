"""Vectorised numerics behind the batch indicators (numpy and pandas' compiled ewm).

Two ideas keep these both fast and accurate:

* Exponential averages are a first-order recursion, run by pandas' compiled ``ewm``
  in C: the same recurrence the streaming classes apply one bar at a time.
* Rolling sums are differences of prefix sums, which lose precision as the
  prefix grows. Each block of windows therefore gets its own prefix sums of the
  prices *minus a value from that block*, so the error is bounded by the block's
  own price moves, never by the series length. Rolling variance additionally
  bounds its rounding error per block and recomputes exactly (two-pass) every
  window whose standard deviation that error could distort.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from numpy.lib.stride_tricks import sliding_window_view

EPS = float(np.finfo(np.float64).eps)
# A rolling standard deviation is trusted when its rounding error is below this
# fraction of the price level; otherwise the window is recomputed exactly.
STD_TOLERANCE = 1e-11
_MEAN_CHUNK = 16_384  # windows per prefix-sum restart for rolling means


def ewma(x: np.ndarray, alpha: float) -> np.ndarray:
    """``y[0] = x[0]``, ``y[i] = (1 - alpha) * y[i-1] + alpha * x[i]`` (pandas adjust=False)."""
    if len(x) == 0:
        return np.empty(0)
    # pandas' compiled recursion (what ta uses); scipy.signal.lfilter did the same but
    # importing scipy.signal cost the terminal's launch 0.5-1 s.
    y = pd.Series(x).ewm(alpha=alpha, adjust=False).mean().to_numpy(copy=True)
    y[0] = x[0]  # exactly the seed, as the streaming form has it
    return y


def wilder(x: np.ndarray, period: int, seed: float) -> np.ndarray:
    """``y[-1] = seed``, ``y[i] = (y[i-1] * (period - 1) + x[i]) / period`` (Wilder's smoothing)."""
    if len(x) == 0:
        return np.empty(0)
    seeded = np.concatenate(([seed], x))
    return pd.Series(seeded).ewm(alpha=1.0 / period, adjust=False).mean().to_numpy(copy=True)[1:]


def rolling_mean(x: np.ndarray, period: int) -> np.ndarray:
    """Mean of the last ``period`` values; NaN for the first ``period - 1``."""
    n = len(x)
    out = np.empty(n)
    out[: period - 1] = np.nan
    for start in range(period - 1, n, _MEAN_CHUNK):  # ``start``: last row of the first window
        end = min(start + _MEAN_CHUNK, n)
        shift = x[start]
        prefix = np.cumsum(x[start - period + 1 : end] - shift)
        sums = out[start:end]
        sums[0] = prefix[period - 1]
        np.subtract(prefix[period:], prefix[: end - start - 1], out=sums[1:])
        sums /= period
        sums += shift
    return out


def rolling_mean_std(x: np.ndarray, period: int) -> tuple[np.ndarray, np.ndarray]:
    """Rolling mean and population standard deviation (ddof=0); NaN during warm-up."""
    n = len(x)
    mean = np.empty(n)
    std = np.empty(n)
    mean[: period - 1] = np.nan
    std[: period - 1] = np.nan
    if n < period:
        return mean, std
    block = max(period, 256)  # windows per block; each block reads block + period - 1 prices
    width = block + period - 1
    windows = n - period + 1
    full = windows // block
    step = max(1, _MEAN_CHUNK // block)  # blocks per pass, so temporaries stay small and reused
    for first in range(0, full, step):
        count = min(step, full - first)
        part = x[first * block : (first + count) * block + period - 1]
        seg = sliding_window_view(part, width)[::block]
        lo = period - 1 + first * block
        hi = lo + count * block
        _block_stats(
            part, seg, period, mean[lo:hi].reshape(count, block), std[lo:hi].reshape(count, block)
        )
    done = full * block
    if done < windows:  # the last, partial block: pad a small copy with its last price
        tail = x[done:]
        padded = np.concatenate([tail, np.full(width - len(tail), x[-1])])
        part_mean = np.empty((1, block))
        part_std = np.empty((1, block))
        _block_stats(padded, padded[None, :], period, part_mean, part_std)
        mean[period - 1 + done :] = part_mean[0, : windows - done]
        std[period - 1 + done :] = part_std[0, : windows - done]
    return mean, std


def _block_stats(
    x: np.ndarray, seg: np.ndarray, period: int, mean: np.ndarray, std: np.ndarray
) -> None:
    """Fill ``mean``/``std`` (blocks x block) from ``seg`` (blocks x width) read from ``x``.

    ``x`` must be the array ``seg`` views, starting at the first row of ``seg``.
    """
    block = mean.shape[1]
    shift = seg[:, period - 1 : period]  # a price inside the block: sums are of deviations
    dev = seg - shift
    sq = dev * dev
    prefix = np.cumsum(dev, axis=1, out=dev)
    prefix2 = np.cumsum(sq, axis=1, out=sq)
    _window_sums(prefix, period, mean)
    _window_sums(prefix2, period, std)
    mean /= period  # the window mean minus the shift
    var = std
    var /= period
    dev = dev[:, :block]
    np.multiply(mean, mean, out=dev)
    var -= dev
    np.maximum(var, 0.0, out=var)
    np.sqrt(var, out=var)
    _fix_inaccurate(x, seg.strides[0] // seg.strides[1], period, std, mean, shift, prefix2[:, -1])
    mean += shift


def _window_sums(prefix: np.ndarray, period: int, out: np.ndarray) -> None:
    """Sums of each ``period``-long window from per-row prefix sums, into ``out``."""
    block = out.shape[1]
    out[:, 0] = prefix[:, period - 1]
    np.subtract(prefix[:, period:], prefix[:, : block - 1], out=out[:, 1:])


def _fix_inaccurate(
    x: np.ndarray,
    row_step: int,
    period: int,
    sd: np.ndarray,
    mean_dev: np.ndarray,
    shift: np.ndarray,
    sum_sq: np.ndarray,
) -> None:
    """Recompute exactly the windows whose deviation the prefix-sum rounding could distort.

    The variance of a window is off by at most ``err`` (a bound from the block's
    sum of squared deviations), so its standard deviation is off by at most
    ``err / sd``, and by at most ``sqrt(err)`` when ``sd`` is ~0. A window is
    recomputed when that could exceed ``STD_TOLERANCE`` times the price level.
    In ordinary data this happens only when prices go almost flat right after
    a large move. Row ``r``, column ``c`` is the window starting at
    ``x[r * row_step + c]``.
    """
    width = sd.shape[1] + period - 1
    err = (4.0 * (1.0 + np.sqrt(period)) * (1.0 + 2.0 * np.sqrt(width)) / period) * EPS * sum_sq
    level = np.abs(shift[:, 0]) + np.sqrt(sum_sq / width)
    tol = STD_TOLERANCE * level
    risky_rows = np.flatnonzero(err > tol * tol)
    if len(risky_rows) == 0:
        return
    limit = err[risky_rows] / tol[risky_rows]  # sd below this may be inaccurate
    rows, cols = np.nonzero(sd[risky_rows] < limit[:, None])
    if len(rows) == 0:
        return
    rows = risky_rows[rows]
    first = rows * row_step + cols
    valid = first <= len(x) - period  # windows over the tail's padding are never used
    rows, cols, first = rows[valid], cols[valid], first[valid]
    windows = sliding_window_view(x, period)[first]
    centre = windows.mean(axis=1)
    dev = windows - centre[:, None]
    drift = dev.mean(axis=1)  # corrected two-pass: removes the centre's own rounding
    var = np.maximum((dev * dev).mean(axis=1) - drift * drift, 0.0)
    sd[rows, cols] = np.sqrt(var)
    mean_dev[rows, cols] = (centre + drift) - shift[rows, 0]
