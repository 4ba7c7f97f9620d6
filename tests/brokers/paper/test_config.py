"""Paper venue settings: defaults, conversions, and errors that name the key."""

from __future__ import annotations

import pytest

from brokers.paper import PaperConfig
from engine.errors import ConfigError
from tests.brokers.paper.harness import D


def test_defaults_are_safe():
    cfg = PaperConfig.from_settings({})
    assert cfg.cash == {"KRW": D(10_000_000)}
    assert (cfg.latency_ns, cfg.slippage_bps, cfg.fill_on_touch, cfg.bar_fill_on_touch,
            cfg.bar_participation, cfg.bus_market_data) == (0, D(0), False, True, None, True)


def test_values_are_converted_exactly():
    cfg = PaperConfig.from_settings({
        "initial_cash": {"usdt": "1000.5", "KRW": 5_000_000}, "latency_ms": 12.5,
        "slippage_bps": 2.5, "bar_participation": 0.1, "bar_timeframe": "5M",
    })
    assert cfg.cash == {"USDT": D("1000.5"), "KRW": D(5_000_000)}
    assert cfg.latency_ns == 12_500_000 and cfg.slippage_bps == D("2.5")
    assert cfg.bar_participation == 0.1 and cfg.bar_timeframe == "5m"
    assert PaperConfig.from_settings({"initial_cash": 100, "currency": "usd"}).cash == \
        {"USD": D(100)}


@pytest.mark.parametrize(("settings", "words"), [
    ({"cash": 5}, ["unknown setting", "cash", "initial_cash"]),
    ({"latency_ms": -1}, ["latency_ms", "outside the allowed range"]),
    ({"latency_ms": "soon"}, ["latency_ms", "not a number"]),
    ({"slippage_bps": float("nan")}, ["slippage_bps"]),
    ({"fill_on_touch": "yes"}, ["fill_on_touch", "true or false"]),
    ({"bar_participation": 0}, ["bar_participation", "(0, 1]"]),
    ({"bar_participation": 1.5}, ["bar_participation"]),
    ({"initial_cash": -5}, ["initial_cash", ">= 0"]),
    ({"initial_cash": {"KRW": "lots"}}, ["initial_cash.KRW", "not a number"]),
    ({"bar_timeframe": "7x"}, ["bar_timeframe"]),
])
def test_bad_settings_name_the_key(settings, words):
    with pytest.raises(ConfigError) as err:
        PaperConfig.from_settings(settings, where="[brokers.paper]")
    for word in words:
        assert word in str(err.value)
    assert str(err.value).startswith("[brokers.paper]")
