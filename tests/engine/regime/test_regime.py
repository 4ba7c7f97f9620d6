"""Regimes: GARCH volatility levels and trend/range; the manager switches strategies."""

from __future__ import annotations

import numpy as np
import pytest

from engine.regime import RegimeDetector, StrategyManager, classify, efficiency_ratio, fit_garch
from engine.strategies import RangeTrading, TrendFollowing
from engine.strategy import StrategyRunner
from tests.engine.strategy.harness import feed, make_run


def simulate_garch(n, omega=1e-6, alpha=0.1, beta=0.85, seed=0):
    rng = np.random.default_rng(seed)
    var = omega / (1 - alpha - beta)
    r = np.empty(n)
    for t in range(n):
        r[t] = np.sqrt(var) * rng.standard_normal()
        var = omega + alpha * r[t] ** 2 + beta * var
    return r


def test_garch_recovers_its_parameters():
    fit = fit_garch(simulate_garch(4000))
    assert fit is not None
    assert 0.05 < fit.alpha < 0.16 and 0.78 < fit.beta < 0.92
    assert fit.persistence < 1 and fit.forecast_vol > 0
    assert fit_garch(np.zeros(500)) is None and fit_garch(np.ones(10)) is None


def test_volatility_regime_follows_the_conditional_volatility():
    calm = simulate_garch(1500, seed=1)
    closes = 100 * np.exp(np.cumsum(calm))
    fit = fit_garch(np.diff(np.log(closes)))
    lo, hi = np.quantile(fit.conditional_vol, [0.1, 0.9])
    assert classify(fit, closes[-60:], vol=lo).volatility == "low"
    assert classify(fit, closes[-60:], vol=hi).volatility == "high"


def test_trend_or_range_from_the_efficiency_ratio():
    assert efficiency_ratio(np.arange(50.0)) == pytest.approx(1.0)
    assert efficiency_ratio(100 + np.sin(np.arange(200) / 3)) < 0.1
    assert classify(None, np.arange(50.0)).trend == "up"
    assert classify(None, np.arange(50.0)[::-1]).trend == "down"
    assert classify(None, 100 + np.sin(np.arange(60) / 3)).trend == "range"


def test_detector_updates_online():
    det = RegimeDetector(window=40, refit_every=500)
    rng = np.random.default_rng(2)
    for c in 100 * np.exp(np.cumsum(rng.normal(0, 0.001, 600))):
        regime = det.update(float(c))
    assert det.fit is not None and regime.volatility in ("low", "normal", "high")
    assert np.isfinite(det.vol)


def test_manager_runs_trend_strategies_in_trends_and_range_strategies_in_ranges():
    # The harness's own strategy idles at flat prices; the manager gets a second runner.
    run = make_run(RangeTrading, "AAPL", {"lookback": 1000})
    engine = run.engine
    runner = StrategyRunner(engine)
    runner.add(TrendFollowing(engine, "AAPL", strategy_id="trend",
                                      params={"breakout": 10, "fast": 5, "slow": 10}))
    runner.add(RangeTrading(engine, "AAPL", strategy_id="range", params={"lookback": 20}))
    manager = StrategyManager(runner, "AAPL", detector=RegimeDetector(window=30))
    manager.manage("trend")
    manager.manage("range")
    feed(run, [100 + 0.5 * i for i in range(80)])
    assert manager.regime.trend == "up"
    assert runner.state("trend") == "running" and runner.state("range") == "stopped"
    feed(run, [140 + 3 * np.sin(i / 2) for i in range(80)], start=run.engine.clock.now_ns())
    assert manager.regime.trend == "range"
    assert runner.state("range") == "running" and runner.state("trend") == "stopped"
    kinds = [(sid, what) for _, sid, what in manager.switches]
    assert kinds[:2] == [("trend", "start"), ("trend", "stop")] and ("range", "start") in kinds
    assert manager.weights()["range"] > 0


def test_weights_follow_recent_trade_results():
    run = make_run(RangeTrading, "AAPL", {"lookback": 1000})
    runner = StrategyRunner(run.engine)
    a = runner.add(TrendFollowing(run.engine, "AAPL", strategy_id="a"))
    b = runner.add(TrendFollowing(run.engine, "AAPL", strategy_id="b"))
    manager = StrategyManager(runner, "AAPL")
    manager.manage("a")
    manager.manage("b")
    manager.managed["a"].returns.extend([0.02, 0.01, 0.03, 0.015])
    manager.managed["b"].returns.extend([-0.02, 0.005, -0.01, -0.015])
    runner.start("a")
    runner.start("b")
    manager._reweight()
    w = manager.weights()
    assert w["a"] > 1 > w["b"] >= 0.0 and abs((w["a"] + w["b"]) / 2 - 1) < 1e-9
    assert a.allocation == w["a"] and b.allocation == w["b"]
