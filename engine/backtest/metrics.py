"""Backtest metrics, honest and documented.

Inputs: the equity curve (one value per bar, indexed by time), the round-trip
trades, the position held on each bar and the traded notional. Returns are
measured on *daily* equity (the last value of each UTC day, the first day's
against the initial equity), so intraday bar noise does not inflate the Sharpe
ratio, and annualised with 252 trading days (365 for markets that trade every
day, ``periods_per_year``).

==================  ==================================================================
metric              definition
==================  ==================================================================
total_return_pct    final / initial equity - 1
annual_return_pct   (1 + total) ** (365.25 / calendar days) - 1  (CAGR; NaN under a day)
volatility_pct      std of daily returns * sqrt(periods_per_year)
sharpe              mean(daily return - rf/periods) / std(daily return) * sqrt(periods)
sortino             same numerator / downside deviation (root mean square of negative days)
calmar              annual_return / max_drawdown
max_drawdown_pct    largest fall from a running peak of the per-bar equity curve
max_dd_duration     longest time from a peak until equity is back above it (or the end)
win_rate_pct        winning trades / trades (by net PnL)
profit_factor       gross net-profit of winners / gross net-loss of losers
expectancy          mean net PnL per trade
avg_win, avg_loss   mean net PnL of winners / of losers
exposure_pct        share of bars with a position open
turnover            traded notional / mean equity
var_95_pct, es_95   historical 1-day VaR and Expected Shortfall of daily returns at 95%
==================  ==================================================================
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

from engine.backtest.trades import RoundTrip
from engine.risk.drawdown import drawdown_curve, max_drawdown_duration


@dataclass(frozen=True, slots=True)
class Metrics:
    start: str
    end: str
    bars: int
    initial_equity: float
    final_equity: float
    total_return_pct: float
    annual_return_pct: float
    volatility_pct: float
    sharpe: float
    sortino: float
    calmar: float
    max_drawdown_pct: float
    max_dd_duration: str
    trades: int
    win_rate_pct: float
    profit_factor: float
    expectancy: float
    avg_win: float
    avg_loss: float
    best_trade: float
    worst_trade: float
    exposure_pct: float
    turnover: float
    fees: float
    var_95_pct: float
    es_95_pct: float

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def _nan_to_none(x: float) -> float:
    return x if math.isfinite(x) else float("nan")


def _annualised(total: float, days: float) -> float:
    """CAGR; NaN for a run under a day (compounding hours to a year is noise, and
    overflows a float: +1% in an hour "is" 10^37 % a year)."""
    if days < 1 or not total > -1:
        return float("nan")
    try:
        return math.expm1(math.log1p(total) * 365.25 / days)
    except OverflowError:
        return float("inf")


def daily_returns(equity: pd.Series) -> pd.Series:
    """Each UTC day's return, from the previous day's last equity (the first day's from
    the curve's first value): a run whose loss is on its first day shows that loss."""
    closes = equity.groupby(equity.index.normalize()).last()
    before = pd.Series([float(equity.iloc[0])], index=[closes.index[0] - pd.Timedelta(days=1)])
    return pd.concat([before, closes]).pct_change().iloc[1:]


def _loss(value: float) -> float:
    """A fall reported as a positive number; a flat curve's is 0.0, not -0.0 ("-0.00%")."""
    return float(0.0 - value)


def compute_metrics(
    equity: pd.Series,
    trades: Sequence[RoundTrip],
    *,
    exposure: pd.Series | np.ndarray | None = None,
    traded_notional: float = 0.0,
    fees: float = 0.0,
    periods_per_year: int = 252,
    risk_free_rate: float = 0.0,
) -> Metrics:
    """Metrics of one run; see the module docstring for each definition."""
    if equity.empty:
        raise ValueError("the equity curve is empty: no bars were processed")
    equity = equity.astype(float)
    initial, final = float(equity.iloc[0]), float(equity.iloc[-1])
    total = final / initial - 1.0 if initial else float("nan")
    days = (equity.index[-1] - equity.index[0]).total_seconds() / 86_400 if len(equity) > 1 else 0
    annual = _annualised(total, days)
    daily = daily_returns(equity)
    rf = risk_free_rate / periods_per_year
    sd = float(daily.std(ddof=1)) if len(daily) > 1 else float("nan")
    root = math.sqrt(periods_per_year)
    sharpe = float((daily.mean() - rf) / sd * root) if sd and sd == sd else float("nan")
    downside = daily[daily < 0]
    dd_dev = float(np.sqrt((downside**2).sum() / len(daily))) if len(daily) else float("nan")
    sortino = float((daily.mean() - rf) / dd_dev * root) if dd_dev else float("nan")
    dd = drawdown_curve(equity)
    max_dd = _loss(dd.min())
    calmar = annual / (max_dd / 100) if max_dd > 0 and annual == annual else float("nan")
    pnl = np.array([float(t.net_pnl) for t in trades], dtype=float)
    wins, losses = pnl[pnl > 0], pnl[pnl < 0]
    if exposure is None:
        exposure_pct = float("nan")
    else:
        exposure_pct = float(np.mean(np.asarray(exposure) != 0) * 100)
    var95 = _loss(np.quantile(daily, 0.05) * 100) if len(daily) >= 2 else float("nan")
    tail = daily[daily <= np.quantile(daily, 0.05)] if len(daily) >= 2 else daily
    es95 = _loss(tail.mean() * 100) if len(tail) else float("nan")
    return Metrics(
        start=str(equity.index[0]),
        end=str(equity.index[-1]),
        bars=len(equity),
        initial_equity=initial,
        final_equity=final,
        total_return_pct=total * 100,
        annual_return_pct=annual * 100,
        volatility_pct=sd * root * 100 if sd == sd else float("nan"),
        sharpe=_nan_to_none(sharpe),
        sortino=_nan_to_none(sortino),
        calmar=_nan_to_none(calmar),
        max_drawdown_pct=max_dd,
        max_dd_duration=str(max_drawdown_duration(equity)),
        trades=len(pnl),
        win_rate_pct=float(len(wins) / len(pnl) * 100) if len(pnl) else float("nan"),
        profit_factor=float(wins.sum() / -losses.sum()) if len(losses) and losses.sum() else
        (float("inf") if len(wins) else float("nan")),
        expectancy=float(pnl.mean()) if len(pnl) else float("nan"),
        avg_win=float(wins.mean()) if len(wins) else float("nan"),
        avg_loss=float(losses.mean()) if len(losses) else float("nan"),
        best_trade=float(pnl.max()) if len(pnl) else float("nan"),
        worst_trade=float(pnl.min()) if len(pnl) else float("nan"),
        exposure_pct=exposure_pct,
        turnover=traded_notional / float(equity.mean()) if float(equity.mean()) else float("nan"),
        fees=fees,
        var_95_pct=var95,
        es_95_pct=es95,
    )
