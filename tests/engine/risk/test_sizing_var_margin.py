"""Sizing, VaR/ES, drawdown and margin: hand-computed cases and invariants."""

from __future__ import annotations

import math
from decimal import Decimal

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.models import Side, crypto_perp, crypto_spot, krx_stock
from engine.risk.drawdown import DrawdownTracker, drawdown_curve, max_drawdown_duration
from engine.risk.margin import (
    effective_leverage,
    initial_margin,
    leverage_ok,
    liquidation_distance_pct,
    liquidation_price,
)
from engine.risk.sizing import (
    PositionSizer,
    atr_size,
    fixed_fraction,
    fractional_kelly,
    kelly_fraction,
    kelly_from_returns,
    var_size,
)
from engine.risk.var import garch_var, historical_var, parametric_var, portfolio_var

D = Decimal
SAMSUNG = krx_stock("005930")
BTC = crypto_spot("BTC/USDT", lot="0.001")
PERP = crypto_perp("BTC/USDT:USDT", lot="0.001")


def test_fixed_fraction_is_seed_004s_floor():
    # 10% of 10,000,000 = 1,000,000; / 71,200 = 14.04 -> 14 shares
    assert fixed_fraction(D(10_000_000), D(71_200), D("0.10"), SAMSUNG) == 14
    assert fixed_fraction(D(10_000_000), D(71_200), D(0), SAMSUNG) == 0
    assert fixed_fraction(D(1_000), D("50000"), D("0.5"), BTC) == D("0.010")  # lot 0.001
    with pytest.raises(ValueError, match="capital"):
        fixed_fraction(D(-1), D(1), D("0.1"), SAMSUNG)
    with pytest.raises(ValueError, match="fraction"):
        fixed_fraction(D(1), D(1), D("1.5"), SAMSUNG)


def test_kelly():
    assert kelly_fraction(0.6, 1.0) == pytest.approx(0.2)  # 0.6 - 0.4/1
    assert kelly_fraction(0.4, 1.0) < 0
    # half Kelly of 0.2 = 0.1 of 10M at 100 = 10,000 shares; capped at 5% -> 5,000
    assert fractional_kelly(D(10_000_000), D(100), 0.6, 1.0, SAMSUNG, fraction=0.5, cap=0.2) == 10_000
    assert fractional_kelly(D(10_000_000), D(100), 0.6, 1.0, SAMSUNG, fraction=0.5, cap=0.05) == 5_000
    assert fractional_kelly(D(10_000_000), D(100), 0.4, 1.0, SAMSUNG) == 0
    est = kelly_from_returns([0.02] * 12 + [-0.01] * 8)
    assert est.win_rate == 0.6 and est.win_loss_ratio == pytest.approx(2.0)
    assert kelly_from_returns([0.01] * 5) is None


def test_atr_and_var_sizes():
    # Risk 1% of 10M = 100,000 with a stop 2 x 1,500 = 3,000 away -> 33 shares
    assert atr_size(D(10_000_000), D(71_200), D(1_500), D("0.01"), D(2), SAMSUNG) == 33
    # VaR 2% of 10M = 200,000; z(99%) * 2% vol = 0.046527 -> value 4,298,576 -> 60 shares at 71,200
    assert var_size(D(10_000_000), D(71_200), 0.02, D("0.02"), SAMSUNG) == 60


def test_sizer_takes_the_smallest_and_explains_it():
    sizer = PositionSizer(SAMSUNG, capital=D(10_000_000), cash=D(500_000), max_position_pct=10,
                          atr=1_500, risk_per_trade=0.01, atr_multiple=2)
    result = sizer.size(D(71_200))
    assert result.sizes["max_position"] == 14 and result.sizes["atr"] == 33
    assert result.sizes["cash"] == 7  # 500,000 / (71,200 * 1.00015)
    assert result.quantity == 7 and result.binding == "cash"
    assert "bound by cash" in result.explain()


@settings(max_examples=200, deadline=None)
@given(capital=st.integers(0, 10**12), price=st.integers(1, 3_000_000),
       frac=st.decimals(min_value=0, max_value=1, places=3))
def test_fixed_fraction_invariants(capital, price, frac):
    qty = fixed_fraction(D(capital), D(price), frac, SAMSUNG)
    assert qty >= 0 and qty % SAMSUNG.lot_size == 0
    assert qty * price <= capital * frac
    assert fixed_fraction(D(capital * 2), D(price), frac, SAMSUNG) >= qty


def test_historical_var_matches_numpy_and_es_is_beyond_it():
    rng = np.random.default_rng(0)
    r = rng.standard_t(4, 5_000) * 0.01
    res = historical_var(r, 0.99)
    assert res.var == pytest.approx(np.quantile(-r, 0.99))
    assert res.es >= res.var and res.n_obs == 5_000
    assert historical_var(r, 0.99, horizon=4).var == pytest.approx(2 * res.var)


def test_parametric_var_of_a_normal_sample():
    rng = np.random.default_rng(1)
    r = rng.normal(0.0, 0.01, 200_000)
    res = parametric_var(r, 0.99)
    assert res.var == pytest.approx(2.326 * 0.01, rel=0.01)
    assert res.es == pytest.approx(2.665 * 0.01, rel=0.01)
    cf = parametric_var(rng.standard_t(3, 20_000) * 0.01, 0.99, cornish_fisher=True)
    assert cf.method == "cornish-fisher" and cf.es >= cf.var


def test_garch_var_follows_the_conditional_volatility():
    rng = np.random.default_rng(2)
    omega, alpha, beta = 1e-6, 0.1, 0.85
    var = omega / (1 - alpha - beta)
    r = np.empty(3_000)
    for t in range(len(r)):
        r[t] = math.sqrt(var) * rng.standard_normal()
        var = omega + alpha * r[t] ** 2 + beta * var
    res = garch_var(r, 0.99)
    true_sigma = math.sqrt(var)
    assert not res.fallback and res.method == "garch"
    assert res.var == pytest.approx(2.33 * true_sigma, rel=0.35)  # the true next-step quantile
    assert res.es >= res.var
    short = garch_var(r[:100], 0.99)
    assert short.fallback and short.var == pytest.approx(historical_var(r[:100], 0.99).var)


@given(st.lists(st.floats(-0.2, 0.2), min_size=5, max_size=300),
       st.sampled_from([0.9, 0.95, 0.99]))
def test_es_is_never_below_var(returns, confidence):
    for res in (historical_var(returns, confidence), parametric_var(returns, confidence)):
        if not math.isnan(res.var):
            assert res.es >= res.var - 1e-12


def test_portfolio_var_two_ways():
    rng = np.random.default_rng(3)
    r = rng.multivariate_normal([0, 0], [[1e-4, 5e-5], [5e-5, 1e-4]], 50_000)
    values = np.array([1_000_000.0, 500_000.0])
    hist = portfolio_var(r, values, 0.99)
    para = portfolio_var(r, values, 0.99, method="parametric")
    sd = math.sqrt(values @ np.array([[1e-4, 5e-5], [5e-5, 1e-4]]) @ values)
    assert para.var == pytest.approx(2.326 * sd, rel=0.02)
    assert hist.var == pytest.approx(para.var, rel=0.05)
    with pytest.raises(ValueError, match="assets"):
        portfolio_var(r, np.array([1.0]))


def test_drawdown_tracker_and_curve():
    idx = pd.date_range("2024-01-01", periods=7, freq="D", tz="UTC")
    equity = pd.Series([100, 120, 90, 110, 130, 117, 125.0], index=idx)
    tracker = DrawdownTracker()
    for ts, v in equity.items():
        tracker.update(v, ts.value)
    assert tracker.max_pct == pytest.approx(25.0)  # 120 -> 90
    assert tracker.current_pct == pytest.approx((1 - 125 / 130) * 100)
    assert drawdown_curve(equity).min() == pytest.approx(-25.0)
    assert max_drawdown_duration(equity) == pd.Timedelta(days=3)  # day 1 to day 4
    assert tracker.max_duration_ns == pd.Timedelta(days=3).value


@given(st.lists(st.floats(1, 1e6), min_size=1, max_size=200))
def test_streaming_drawdown_equals_batch(values):
    tracker = DrawdownTracker()
    for i, v in enumerate(values):
        tracker.update(v, i)
    curve = drawdown_curve(pd.Series(values))
    assert tracker.max_pct == pytest.approx(-curve.min(), abs=1e-9)


def test_liquidation_prices_isolated_and_cross():
    # long at 50,000 with 10x: 50,000 * 0.9 / 0.996 = 45,180.72...
    long_liq = liquidation_price(50_000, 10, side=Side.BUY, maintenance_rate=0.004)
    assert long_liq == pytest.approx(Decimal("45180.722891566265"), rel=Decimal("1e-12"))
    short_liq = liquidation_price(50_000, 10, side=Side.SELL, maintenance_rate=0.004)
    assert short_liq == pytest.approx(Decimal(55_000) / Decimal("1.004"))
    # Cross margin with more collateral than the isolated margin is further away.
    cross = liquidation_price(50_000, 10, side=Side.BUY, collateral=10_000, qty=1)
    assert cross < long_liq
    assert liquidation_distance_pct(50_000, long_liq) == pytest.approx(9.6386, rel=1e-4)
    assert initial_margin(50_000, "0.5", 10) == 2_500
    assert effective_leverage(150_000, 50_000) == 3 and leverage_ok(150_000, 50_000, 3)
    assert not leverage_ok(150_001, 50_000, 3)


@given(st.floats(100, 1e5), st.floats(1.1, 125), st.sampled_from([Side.BUY, Side.SELL]))
def test_liquidation_is_on_the_losing_side(entry, leverage, side):
    liq = float(liquidation_price(entry, leverage, side=side))
    assert (liq < entry) if side is Side.BUY else (liq > entry)
