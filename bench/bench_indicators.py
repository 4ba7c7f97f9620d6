"""Benchmark: batch indicators on 1,000,000 bars, this engine vs the ``ta`` library.

Same series, same parameters, in one run; prints each time and the ratio
(ta / ours: above 1 means we are faster). Target: no slower than ``ta``.

    python bench/bench_indicators.py [--bars 1000000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import numpy as np
import pandas as pd
import ta

from engine import indicators as ind


def frame(n: int, seed: int = 7) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    close = 100 * np.exp(np.cumsum(rng.normal(0, 1e-3, n)))
    spread = np.abs(rng.normal(0, 5e-4, n)) * close
    index = pd.date_range("2020-01-01", periods=n, freq="1min", tz="UTC")
    return pd.DataFrame({"high": close + spread, "low": close - spread, "close": close,
                         "volume": rng.integers(1, 1000, n).astype(float)}, index=index)


def best(repeat: int, fn: Callable[[], object]) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--bars", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=7)
    args = ap.parse_args()
    df = frame(args.bars)
    c, h, lo = df["close"], df["high"], df["low"]
    cases = {
        "SMA(20)": (lambda: ind.sma(c, 20), lambda: ta.trend.SMAIndicator(c, 20).sma_indicator()),
        "EMA(20)": (lambda: ind.ema(c, 20), lambda: ta.trend.EMAIndicator(c, 20).ema_indicator()),
        "RSI(14)": (lambda: ind.rsi(c, 14), lambda: ta.momentum.RSIIndicator(c, 14).rsi()),
        "Bollinger(20,2)": (lambda: ind.bollinger(c, 20, 2.0),
                            lambda: _ta_bollinger(c)),
        "ATR(14)": (lambda: ind.atr(h, lo, c, 14),
                    lambda: ta.volatility.AverageTrueRange(h, lo, c, 14).average_true_range()),
        "MACD(12,26,9)": (lambda: ind.macd(c, 12, 26, 9), lambda: _ta_macd(c)),
    }
    print(f"{args.bars:,} bars, best of {args.repeat}")
    print(f"{'indicator':<18}{'ours ms':>10}{'ta ms':>10}{'ta/ours':>10}")
    for name, (ours, theirs) in cases.items():
        # Round-robin, best of each: a busy machine slows both alike, not one of them.
        t_ours = t_ta = float("inf")
        for _ in range(args.repeat):
            t_ours = min(t_ours, best(1, ours))
            t_ta = min(t_ta, best(1, theirs))
        print(f"{name:<18}{t_ours * 1e3:>10.1f}{t_ta * 1e3:>10.1f}{t_ta / t_ours:>9.1f}x")
    t = best(args.repeat, lambda: ind.vwap(df, price="typical"))
    print(f"{'VWAP (session)':<18}{t * 1e3:>10.1f}{'-':>10}{'(no ta equivalent)':>20}")


def _ta_bollinger(c: pd.Series) -> tuple[pd.Series, ...]:
    bb = ta.volatility.BollingerBands(c, 20, 2)
    return bb.bollinger_mavg(), bb.bollinger_hband(), bb.bollinger_lband()


def _ta_macd(c: pd.Series) -> tuple[pd.Series, ...]:
    m = ta.trend.MACD(c, 26, 12, 9)
    return m.macd(), m.macd_signal(), m.macd_diff()


if __name__ == "__main__":
    main()
