"""The shipped defaults, the schema, and reading settings back."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.settings import Settings, build_schema, is_secret_name, load_settings
from engine.settings.document import render_defaults
from engine.settings.model import DEFAULT
from engine.settings.values import coerce
from engine.strategy import get_strategy

DEFAULT_TOML = Path(__file__).parents[3] / "config" / "default.toml"


def test_defaults_load_with_every_key_from_the_defaults():
    s = load_settings(env={})
    assert isinstance(s, Settings)
    assert len(s) == len(build_schema())
    assert all(s.source_of(p) == DEFAULT for p, _ in s.items())
    assert s.risk.max_position_pct == 10.0  # a percentage, as in seed 004
    assert s.brokers.paper.enabled is True
    assert s.brokers.binance.live is False and s.brokers.binance.environment == ""
    assert s.brokers.kiwoom.live is False and s.brokers.kiwoom.fake is False
    assert s.replay.symbols == ("AAPL", "MSFT", "IBM", "GOOG", "005930")


def test_shipped_default_toml_is_generated_from_the_schema():
    # Regenerate with: python -m engine.settings.document > config/default.toml
    assert DEFAULT_TOML.read_text(encoding="utf-8") == render_defaults(build_schema())


def test_every_schema_default_passes_its_own_rules_and_no_key_looks_secret():
    for key in build_schema().keys.values():
        assert coerce(key, key.default) == key.default, key.path
        assert key.doc, key.path
        assert not is_secret_name(key.name), key.path


def test_hybrid_section_is_derived_from_the_strategy_params():
    schema = build_schema()
    hybrid = get_strategy("hybrid")
    for name, param in hybrid.params.items():
        key = schema[f"strategy.hybrid.{name}"]
        assert (key.default, key.low, key.high) == (param.default, param.low, param.high)
    assert {k.name for k in schema.sections["strategy.hybrid"]} == set(hybrid.params)


def test_attribute_and_path_access_agree_and_name_near_misses():
    s = load_settings(env={})
    assert s.get("risk.max_position_pct") == s.risk.max_position_pct
    assert s.get("brokers.binance")["markets"] == ("spot",)
    assert s.strategy.hybrid.bb_std == 2.0
    with pytest.raises(AttributeError, match="did you mean 'risk.max_position_pct'"):
        _ = s.risk.max_positon_pct
    with pytest.raises(KeyError, match="did you mean"):
        s.get("gui.them")


def test_settings_are_read_only():
    s = load_settings(env={})
    with pytest.raises(AttributeError, match="read-only"):
        s.risk.max_position_pct = 50  # type: ignore[misc]
    with pytest.raises(AttributeError, match="read-only"):
        s.risk = None  # type: ignore[misc]
    assert isinstance(s.replay.symbols, tuple)


def test_inherited_strategy_keys_point_at_real_general_keys_with_compatible_ranges():
    from engine.settings.schema import INHERITED

    schema = build_schema()
    for param, general in INHERITED.items():
        g = schema[general]
        for section, keys in schema.sections.items():
            for k in keys:
                if section.startswith("strategy.") and k.name == param:
                    # every general value the strategy may inherit must be valid for it
                    if k.low is not None:
                        assert g.low is not None and g.low >= k.low, (k.path, general)
                    if k.high is not None:
                        assert g.high is not None and g.high <= k.high, (k.path, general)
                    if k.choices is not None:
                        assert set(g.choices or ()) <= set(k.choices), (k.path, general)


def test_every_broker_table_is_accepted_by_its_adapter():
    """The settings schema and the adapters' own config readers agree on every key."""
    from brokers.ccxt.config import CcxtConfig
    from brokers.kiwoom.config import KiwoomConfig
    from brokers.paper.config import PaperConfig
    from engine.settings import broker_settings, default_settings

    s = default_settings().with_overrides({"brokers.binance.markets": ["spot", "linear"],
                                           "brokers.binance.leverage": 5,
                                           "brokers.binance.margin_mode": "isolated"})
    config = CcxtConfig.from_settings(broker_settings(s, "binance"))
    assert config.environment == "demo" and not config.live  # USD-M: demo trading
    assert config.leverage_for("BTC/USDT:USDT") == 5
    assert not KiwoomConfig.from_mapping(broker_settings(s, "kiwoom")).live
    PaperConfig.from_settings(broker_settings(s, "paper"))
