"""Market regimes: volatility from a GARCH(1,1) model, trend or range from price path.

Volatility regime: a GARCH(1,1) (``arch``) fitted to the returns gives the
conditional volatility of every bar; the latest one is ``low`` below the 33rd
percentile of the fitted history, ``high`` above the 67th, else ``normal``.

Trend regime: Kaufman's efficiency ratio over ``window`` bars (net move /
path length). At or above ``trend_threshold`` the market trends, up or down
by the sign of the net move; below it, it ranges.

A GARCH fit on a few thousand returns takes tens to hundreds of milliseconds:
``RegimeDetector`` refits only every ``refit_every`` bars, and live callers run
``fit_garch`` in a worker (``asyncio.to_thread``) rather than on the event loop.
"""

from __future__ import annotations

import logging
import warnings
from collections import deque
from dataclasses import dataclass

import numpy as np

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class GarchFit:
    mu: float
    omega: float
    alpha: float
    beta: float
    conditional_vol: np.ndarray  # per bar, in return units
    forecast_vol: float  # next bar

    def next_vol(self, vol: float, ret: float) -> float:
        """One step of the variance recursion: sigma2' = omega + alpha*eps2 + beta*sigma2."""
        eps = ret - self.mu
        return float(np.sqrt(self.omega + self.alpha * eps * eps + self.beta * vol * vol))

    @property
    def persistence(self) -> float:
        return self.alpha + self.beta


@dataclass(frozen=True, slots=True)
class Regime:
    volatility: str  # "low" | "normal" | "high" | "unknown"
    trend: str  # "up" | "down" | "range" | "unknown"
    vol_percentile: float
    efficiency: float

    @property
    def label(self) -> str:
        return f"{self.trend}/{self.volatility}"


def fit_garch(returns: np.ndarray) -> GarchFit | None:
    """GARCH(1,1) with a constant mean on ``returns``; None if it cannot be fitted."""
    from arch import arch_model

    r = np.asarray(returns, dtype=float)
    r = r[np.isfinite(r)]
    if len(r) < 100 or np.std(r) == 0:
        return None
    scale = 100.0 / np.std(r)  # arch is happiest with returns of order 1
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            res = arch_model(r * scale, mean="Constant", vol="GARCH", p=1, q=1,
                             rescale=False).fit(disp="off", show_warning=False)
        except Exception as exc:  # numerical failure: no regime is better than a wrong one
            log.warning("GARCH fit failed: %s", exc)
            return None
    params = res.params
    forecast = float(np.sqrt(res.forecast(horizon=1, reindex=False).variance.values[-1, 0]))
    return GarchFit(float(params["mu"]) / scale, float(params["omega"]) / scale**2,
                    float(params["alpha[1]"]),
                    float(params["beta[1]"]), np.asarray(res.conditional_volatility) / scale,
                    forecast / scale)


def efficiency_ratio(closes: np.ndarray) -> float:
    closes = np.asarray(closes, dtype=float)
    if len(closes) < 2:
        return 0.0
    path = float(np.abs(np.diff(closes)).sum())
    return abs(float(closes[-1] - closes[0])) / path if path > 0 else 0.0


def classify(fit: GarchFit | None, closes: np.ndarray, trend_threshold: float = 0.3,
             vol: float | None = None) -> Regime:
    """Regime from the fitted model (``vol``: current conditional vol, default its forecast)."""
    er = efficiency_ratio(closes)
    if len(closes) < 2:
        trend = "unknown"
    elif er >= trend_threshold:
        trend = "up" if closes[-1] > closes[0] else "down"
    else:
        trend = "range"
    if fit is None:
        return Regime("unknown", trend, float("nan"), er)
    current = fit.forecast_vol if vol is None else vol
    pct = float((fit.conditional_vol < current).mean() * 100)
    level = "low" if pct < 33.3 else "high" if pct > 66.7 else "normal"
    return Regime(level, trend, pct, er)


class RegimeDetector:
    """Keeps the recent closes of one symbol and classifies the regime as bars arrive."""

    def __init__(self, *, window: int = 60, history: int = 2_000, refit_every: int = 390,
                 trend_threshold: float = 0.3) -> None:
        self.window = window
        self.refit_every = refit_every
        self.trend_threshold = trend_threshold
        self.closes: deque[float] = deque(maxlen=history)
        self.fit: GarchFit | None = None
        self.vol = float("nan")  # current conditional volatility
        self._since = 0
        self.regime = Regime("unknown", "unknown", float("nan"), 0.0)

    def update(self, close: float) -> Regime:
        if not close > 0:
            return self.regime
        if self.closes and self.fit is not None:
            self.vol = self.fit.next_vol(self.vol, float(np.log(close / self.closes[-1])))
        self.closes.append(close)
        self._since += 1
        if (self.fit is None and len(self.closes) >= 200) or self._since >= self.refit_every:
            self.refit()
        recent = np.fromiter(self.closes, float)[-self.window:]
        self.regime = classify(self.fit, recent, self.trend_threshold,
                               None if self.vol != self.vol else self.vol)
        return self.regime

    def refit(self) -> None:
        closes = np.fromiter(self.closes, float)
        self.fit = fit_garch(np.diff(np.log(closes)))
        self.vol = self.fit.forecast_vol if self.fit is not None else float("nan")
        self._since = 0
