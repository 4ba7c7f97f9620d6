"""Settings, environments, credentials: safe defaults and errors that name the key."""

from __future__ import annotations

import sys
import types

import pytest

from brokers.ccxt import create_broker, create_testnet_broker
from brokers.ccxt.config import CcxtConfig
from brokers.ccxt.credentials import Secret, env_name, resolve_credentials
from engine.bus import EventBus
from engine.clock import LiveClock
from engine.errors import ConfigError
from engine.execution.registry import create_broker as registry_create


def test_defaults_are_the_spot_testnet_or_demo_and_never_live():
    assert CcxtConfig.from_settings({}).environment == "testnet"
    both = CcxtConfig.from_settings({"markets": ["spot", "linear"]})
    assert both.environment == "demo" and not both.is_live
    assert CcxtConfig.from_settings({"markets": "linear"}).environment == "demo"
    assert CcxtConfig.from_settings({"live": True}).environment == "live"
    assert CcxtConfig.from_settings({"live": True, "environment": "demo"}).environment == "demo"


@pytest.mark.parametrize(("settings", "message"), [
    ({"environment": "live"}, "needs live = true"),
    ({"markets": ["linear"], "environment": "testnet"}, "futures testnet is retired"),
    ({"markets": ["options"]}, "markets: 'options' is not supported"),
    ({"exchange": "kraken"}, "exchange: 'kraken' is not supported"),
    ({"leverage": 0}, "leverage: expected a whole number in [1, 125]"),
    ({"leverage": {"BTC/USDT:USDT": 200}}, "leverage.BTC/USDT:USDT"),
    ({"margin_mode": "portfolio"}, "margin_mode: 'portfolio' is not one of cross, isolated"),
    ({"reconcile_interval_s": 0}, "reconcile_interval_s: 0 is outside"),
    ({"live": "yes"}, "live: expected true or false"),
    ({"secret": "abc"}, "unknown setting(s) secret"),
])
def test_bad_settings_name_the_key(settings, message):
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")
                       .replace("[", r"\[").replace("]", r"\]")) as info:
        CcxtConfig.from_settings(settings, where="[brokers.binance]")
    assert "[brokers.binance]" in str(info.value)


def test_per_symbol_leverage_and_margin_mode():
    cfg = CcxtConfig.from_settings({"markets": ["linear"], "leverage": {"BTC/USDT:USDT": 7},
                                    "margin_mode": "isolated"})
    assert cfg.leverage_for("BTC/USDT:USDT") == 7 and cfg.leverage_for("ETH/USDT:USDT") is None
    assert cfg.margin_mode_for("ETH/USDT:USDT") == "isolated"


def test_credentials_from_settings_environment_and_the_secrets_module(monkeypatch):
    monkeypatch.delenv(env_name("binance", "api_key"), raising=False)
    monkeypatch.delenv(env_name("binance", "secret"), raising=False)
    monkeypatch.setitem(sys.modules, "engine.settings.secrets", None)  # not written yet
    assert resolve_credentials(None, "binance") is None
    monkeypatch.setenv("TT_SECRET_BINANCE_API_KEY", "env-key-123")
    with pytest.raises(ConfigError, match="set both or neither"):
        resolve_credentials(None, "binance")
    monkeypatch.setenv("TT_SECRET_BINANCE_SECRET", "env-secret-456")
    creds = resolve_credentials(None, "binance")
    assert creds.source == "environment" and creds.api_key.reveal() == "env-key-123"
    module = types.ModuleType("engine.settings.secrets")
    module.get_secret = lambda broker, name: f"ring-{broker}-{name}"
    monkeypatch.setitem(sys.modules, "engine.settings.secrets", module)
    creds = resolve_credentials(None, "binance")
    assert creds.source == "keyring" and creds.secret.reveal() == "ring-binance-secret"
    given = resolve_credentials({"api_key": "k", "secret": "s"}, "binance")
    assert given.source == "settings"
    with pytest.raises(ConfigError, match="give both api_key and secret"):
        resolve_credentials({"api_key": "k"}, "binance")


def test_secrets_never_show_in_repr_str_or_pickle():
    secret = Secret("super-secret-value")
    assert "super-secret-value" not in repr(secret) + str(secret) + f"{secret}"
    with pytest.raises(TypeError):
        __import__("pickle").dumps(secret)
    broker = create_broker(name="binance", bus=EventBus(), clock=LiveClock(),
                           settings={"credentials": {"api_key": "the-key-xyz",
                                                     "secret": "the-secret-xyz"}})
    text = repr(broker) + repr(broker.config) + repr(broker.credentials) + str(vars(broker))
    assert "the-key-xyz" not in text and "the-secret-xyz" not in text
    assert broker.live is False and broker.config.environment == "testnet"


def test_registered_under_ccxt_binance_and_binance_testnet():
    bus, clock = EventBus(), LiveClock()
    for kind in ("ccxt", "binance"):
        broker = registry_create(kind, name="b", bus=bus, clock=clock, markets=["linear"])
        assert broker.config.environment == "demo" and broker.config.markets == ("linear",)
    testnet = registry_create("binance-testnet", bus=bus, clock=clock)
    assert testnet.name == "binance-testnet" and testnet.config.environment == "testnet"
    assert create_testnet_broker(bus=bus, clock=clock,
                                 settings={"markets": ["linear"]}).config.markets == ("spot",)
