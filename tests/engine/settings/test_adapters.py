"""Settings build the engine's real objects: risk limits, strategy params, broker tables."""

from __future__ import annotations

from dataclasses import fields

from brokers.kiwoom.config import KiwoomConfig
from brokers.paper.config import PaperConfig
from engine.risk.limits import RiskLimits
from engine.risk.portfolio import PortfolioLimits
from engine.settings import (
    broker_settings,
    data_folder,
    database_url,
    enabled_brokers,
    engine_config,
    live_enabled,
    load_settings,
    portfolio_limits,
    risk_limits,
    strategy_params,
)
from engine.storage.database import resolve_url
from engine.strategy import get_strategy


def test_every_risk_limits_field_is_a_risk_setting_and_is_used():
    s = load_settings(env={"TT_RISK__MAX_POSITION_PCT": "4", "TT_RISK__MAX_LEVERAGE": "2"})
    limits = risk_limits(s)
    assert {f.name for f in fields(RiskLimits)} <= set(s.risk.as_dict())
    assert limits.max_position_pct == 4.0 and limits.max_leverage == 2.0
    assert limits == RiskLimits(**{f.name: s.get(f"risk.{f.name}") for f in fields(RiskLimits)})


def test_portfolio_limits_come_from_risk_and_kill_switch():
    s = load_settings(env={"TT_KILL_SWITCH__AUTO_ON_DRAWDOWN": "false",
                           "TT_RISK__TRAILING_STOP_PCT": "1.5"})
    limits = portfolio_limits(s)
    names = set(s.risk.as_dict()) | set(s.kill_switch.as_dict())
    assert {f.name for f in fields(PortfolioLimits)} <= names
    assert limits.auto_on_drawdown is False and limits.trailing_stop_pct == 1.5


def test_engine_config_from_kill_switch():
    s = load_settings(env={"TT_KILL_SWITCH__FLATTEN_POSITIONS": "false",
                           "TT_KILL_SWITCH__MAX_BROKER_ERRORS": "9"})
    cfg = engine_config(s)
    assert cfg.flatten_on_kill is False and cfg.max_broker_errors == 9
    assert cfg.default_broker == "paper"


def test_strategy_params_inherit_general_settings_unless_set_for_the_strategy(user_file):
    user_file.write_text("[risk]\nmax_position_pct = 5\nstop_loss_pct = 0.5\n"
                         "[strategy.hybrid]\nstop_loss_pct = 0.8\nbb_std = 2.5\n"
                         "[predictor]\nkind = \"builtin\"\n", encoding="utf-8")
    params = strategy_params(load_settings(env={}), "hybrid")
    assert params["max_position_pct"] == 5.0  # from [risk]
    assert params["stop_loss_pct"] == 0.8  # the strategy's own wins
    assert params["bb_std"] == 2.5
    assert params["predictor"] == "builtin"  # from [predictor] kind
    assert set(params) == set(get_strategy("hybrid").params)
    assert get_strategy("hybrid").validate_params(params) == params


def test_other_registered_strategies_have_sections_too():
    s = load_settings(env={"TT_STRATEGY__SMA_CROSS__FAST": "7"})
    assert strategy_params(s, "sma_cross")["fast"] == 7


def test_paper_table_is_what_the_paper_venue_accepts():
    s = load_settings(env={"TT_BROKERS__PAPER__LATENCY_MS": "20", "TT_BROKERS__PAPER__CURRENCY": "USD"})
    cfg = PaperConfig.from_settings(broker_settings(s, "paper"))
    assert cfg.latency_ns == 20_000_000 and set(cfg.cash) == {"USD"}
    with_limit = s.with_overrides({"brokers.paper.bar_participation": 0.1})
    assert PaperConfig.from_settings(broker_settings(with_limit, "paper")).bar_participation == 0.1


def test_kiwoom_table_is_what_the_kiwoom_config_reads():
    s = load_settings(env={"TT_BROKERS__KIWOOM__ACCOUNT": "8012345611", "TT_BROKERS__KIWOOM__FAKE": "1"})
    cfg = KiwoomConfig.from_mapping(broker_settings(s, "kiwoom"))
    assert cfg.account == "8012345611" and cfg.fake and not cfg.live


def test_enabled_and_live_brokers():
    s = load_settings(env={"TT_BROKERS__BINANCE__ENABLED": "true"})
    assert enabled_brokers(s) == ["paper", "binance"]
    assert not live_enabled(s, "binance") and not live_enabled(s, "paper")
    assert live_enabled(s.with_overrides({"brokers.binance.live": True}), "binance")


def test_data_folder_and_database_url(tmp_path):
    s = load_settings(env={})
    assert str(resolve_url(database_url(s))) == str(resolve_url(None))
    t = s.with_overrides({"data.folder": str(tmp_path)})
    assert data_folder(t) == tmp_path
    assert database_url(t) == f"sqlite:///{tmp_path / 'terminal.sqlite3'}"
