"""Value-at-Risk and Expected Shortfall of returns, three ways.

VaR is the loss not exceeded with probability ``confidence`` over one period
(of the returns given) scaled by sqrt(horizon); ES is the mean loss beyond it.
Both are positive fractions (0.021 = a 2.1% loss) and ES >= VaR always.

* ``historical_var``: the empirical quantile of losses (numpy's linear
  interpolation), ES the mean of losses at or beyond it.
* ``parametric_var``: normal (mean and std of the sample), optionally with the
  Cornish-Fisher correction for skew and kurtosis.
* ``garch_var``: a GARCH(1,1) (``arch``, Student-t innovations) fitted to the
  returns; the one-step conditional volatility gives VaR and ES. Falls back to
  the historical estimate (flagged) when the series is short or the fit fails.
* ``portfolio_var``: historical simulation on position values, or parametric
  with the covariance matrix.

Fits take tens of milliseconds for ~2,000 returns: callers on the event loop
should run ``garch_var`` in a worker (``asyncio.to_thread``).
"""

from __future__ import annotations

import logging
import math
import warnings
from dataclasses import dataclass

import numpy as np

log = logging.getLogger(__name__)


def _stats():
    """scipy.stats, imported on first use: it costs ~1 s at the terminal's launch."""
    from scipy import stats

    return stats


@dataclass(frozen=True, slots=True)
class VarResult:
    var: float
    es: float
    method: str
    confidence: float
    horizon: int
    n_obs: int
    fallback: bool = False  # True when the asked-for method could not run


def _clean(returns: np.ndarray | list[float]) -> np.ndarray:
    r = np.asarray(returns, dtype=float)
    return r[np.isfinite(r)]


def _check(confidence: float, horizon: int) -> None:
    if not 0.5 < confidence < 1:
        raise ValueError(f"confidence must be in (0.5, 1), got {confidence}")
    if horizon < 1:
        raise ValueError(f"horizon must be >= 1 period, got {horizon}")


def historical_var(returns: np.ndarray | list[float], confidence: float = 0.99,
                   horizon: int = 1) -> VarResult:
    _check(confidence, horizon)
    r = _clean(returns)
    if len(r) == 0:
        return VarResult(math.nan, math.nan, "historical", confidence, horizon, 0)
    losses = -r
    var = float(np.quantile(losses, confidence))
    tail = losses[losses >= var]
    es = float(tail.mean()) if len(tail) else var
    scale = math.sqrt(horizon)
    return VarResult(var * scale, max(es, var) * scale, "historical", confidence, horizon, len(r))


def parametric_var(returns: np.ndarray | list[float], confidence: float = 0.99, horizon: int = 1,
                   *, cornish_fisher: bool = False) -> VarResult:
    _check(confidence, horizon)
    r = _clean(returns)
    if len(r) < 2:
        return VarResult(math.nan, math.nan, "parametric", confidence, horizon, len(r))
    mu, sd = float(r.mean()), float(r.std(ddof=1))
    z = float(_stats().norm.ppf(confidence))
    if cornish_fisher and len(r) > 3:
        s, k = float(_stats().skew(r)), float(_stats().kurtosis(r))
        zl = -z  # the left-tail quantile of returns
        zl = (zl + (zl**2 - 1) * s / 6 + (zl**3 - 3 * zl) * k / 24 - (2 * zl**3 - 5 * zl) * s**2 / 36)
        z_eff = -zl
    else:
        z_eff = z
    var = -(mu - z_eff * sd)
    # ES of the normal: mu - sd * pdf(z) / (1 - c), as a loss.
    es = -(mu - sd * float(_stats().norm.pdf(z)) / (1 - confidence))
    scale = math.sqrt(horizon)
    method = "cornish-fisher" if cornish_fisher else "parametric"
    return VarResult(var * scale, max(es, var) * scale, method, confidence, horizon, len(r))


def garch_var(returns: np.ndarray | list[float], confidence: float = 0.99,
              horizon: int = 1) -> VarResult:
    """One-step GARCH(1,1)-t VaR/ES; historical fallback (flagged) when it cannot fit."""
    _check(confidence, horizon)
    r = _clean(returns)
    if len(r) < 250 or np.std(r) == 0:
        fallback = historical_var(r, confidence, horizon)
        return VarResult(fallback.var, fallback.es, "garch->historical", confidence, horizon,
                         len(r), fallback=True)
    from arch import arch_model

    scale = 100.0 / float(np.std(r))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            res = arch_model(r * scale, mean="Constant", vol="GARCH", p=1, q=1, dist="t",
                             rescale=False).fit(disp="off", show_warning=False)
            forecast = res.forecast(horizon=1, reindex=False)
        except Exception as exc:
            log.warning("GARCH VaR fit failed (%s); using historical VaR", exc)
            fallback = historical_var(r, confidence, horizon)
            return VarResult(fallback.var, fallback.es, "garch->historical", confidence,
                             horizon, len(r), fallback=True)
    mu = float(forecast.mean.values[-1, 0]) / scale
    sigma = math.sqrt(float(forecast.variance.values[-1, 0])) / scale
    nu = float(res.params["nu"])
    # Standardised t: unit variance, quantile and ES of its left tail.
    std = math.sqrt((nu - 2) / nu)
    q = float(_stats().t.ppf(1 - confidence, nu))
    es_t = (_stats().t.pdf(q, nu) / (1 - confidence)) * (nu + q * q) / (nu - 1)
    var = -(mu + sigma * q * std)
    es = -(mu - sigma * float(es_t) * std)
    s = math.sqrt(horizon)
    return VarResult(var * s, max(es, var) * s, "garch", confidence, horizon, len(r))


def portfolio_var(returns: np.ndarray, values: np.ndarray, confidence: float = 0.99,
                  horizon: int = 1, method: str = "historical") -> VarResult:
    """VaR/ES in money of positions ``values`` given a returns matrix (rows = periods).

    ``historical``: the portfolio's PnL on each past period, ``returns @ values``;
    ``parametric``: sqrt(v' S v) from the covariance ``S``.
    """
    _check(confidence, horizon)
    r = np.asarray(returns, dtype=float)
    v = np.asarray(values, dtype=float)
    if r.ndim != 2 or r.shape[1] != len(v):
        raise ValueError(f"returns must be periods x {len(v)} assets, got {r.shape}")
    r = r[np.isfinite(r).all(axis=1)]
    if method == "historical":
        res = historical_var(r @ v, confidence, horizon)
        return VarResult(res.var, res.es, "portfolio-historical", confidence, horizon, len(r))
    if method == "parametric":
        if len(r) < 2:
            return VarResult(math.nan, math.nan, "portfolio-parametric", confidence, horizon, len(r))
        mu = float(r.mean(axis=0) @ v)
        sd = float(np.sqrt(v @ np.cov(r, rowvar=False, ddof=1).reshape(len(v), len(v)) @ v))
        z = float(_stats().norm.ppf(confidence))
        var = -(mu - z * sd)
        es = -(mu - sd * float(_stats().norm.pdf(z)) / (1 - confidence))
        s = math.sqrt(horizon)
        return VarResult(var * s, max(es, var) * s, "portfolio-parametric", confidence, horizon,
                         len(r))
    raise ValueError(f"method must be 'historical' or 'parametric', got {method!r}")
