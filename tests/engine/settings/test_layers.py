"""Defaults < user file (or --config) < TT_ variables < overrides, each value with its source."""

from __future__ import annotations

import pytest

from engine.settings import SettingsError, Source, load_settings
from engine.settings.model import DEFAULT


def test_user_file_overrides_defaults_and_env_overrides_both(user_file):
    user_file.write_text("[risk]\nmax_position_pct = 7\ndaily_max_loss_pct = 1.5\n"
                         "[brokers.binance]\nenabled = true\n", encoding="utf-8")
    s = load_settings(env={"TT_RISK__MAX_POSITION_PCT": "5", "TT_BROKERS__BINANCE__LIVE": "true"})
    assert s.risk.max_position_pct == 5.0
    assert s.source_of("risk.max_position_pct") == Source("env", "TT_RISK__MAX_POSITION_PCT")
    assert s.risk.daily_max_loss_pct == 1.5
    assert s.source_of("risk.daily_max_loss_pct") == Source("file", f"{user_file}:3")
    assert s.brokers.binance.enabled is True and s.brokers.binance.live is True
    assert s.risk.stop_loss_pct == 1.0 and s.source_of("risk.stop_loss_pct") == DEFAULT
    assert str(s.source_of("risk.daily_max_loss_pct")) == f"file {user_file}:3"


def test_config_flag_file_replaces_the_user_file(user_file, write):
    user_file.write_text("[gui]\ntheme = \"light\"\nbook_levels = 20\n", encoding="utf-8")
    other = write("[gui]\nbook_levels = 15\n", "other.toml")
    s = load_settings(user_file=other, env={})
    assert s.gui.book_levels == 15
    assert s.gui.theme == "dark"  # the user file was not read at all
    assert load_settings(env={}).gui.theme == "light"


def test_env_values_parse_as_the_declared_type():
    s = load_settings(env={
        "TT_REPLAY__SYMBOLS": "005930, BTC/USDT",
        "TT_REPLAY__SPEED": "max",
        "TT_GUI__BOOK_LEVELS": "12",
        "TT_RISK__FLATTEN_AT_SESSION_END": "off",
        "TT_BROKERS__PAPER__INITIAL_CASH": "1_000_000",
        "TT_STRATEGY__HYBRID__BB_STD": "2.5",
        "TT_DATA__DATABASE_URL": "postgresql+psycopg://u@localhost/tt",
    })
    assert s.replay.symbols == ("005930", "BTC/USDT")
    assert s.replay.speed == "max"
    assert s.gui.book_levels == 12 and isinstance(s.gui.book_levels, int)
    assert s.risk.flatten_at_session_end is False
    assert s.brokers.paper.initial_cash == 1_000_000.0
    assert s.strategy.hybrid.bb_std == 2.5
    assert s.data.database_url == "postgresql+psycopg://u@localhost/tt"
    assert load_settings(env={"TT_REPLAY__SYMBOLS": '["A,B", "C"]'}).replay.symbols == ("A,B", "C")
    assert load_settings(env={"TT_REPLAY__SPEED": "60"}).replay.speed == 60


def test_live_trading_is_off_unless_set_per_broker(user_file):
    s = load_settings(env={})
    assert not s.brokers.binance.live and not s.brokers.kiwoom.live
    user_file.write_text("[brokers.kiwoom]\nlive = true\n", encoding="utf-8")
    s = load_settings(env={})
    assert s.brokers.kiwoom.live and not s.brokers.binance.live


def test_with_overrides_returns_a_new_validated_settings():
    s = load_settings(env={"TT_GUI__THEME": "light"})
    t = s.with_overrides({"risk.max_position_pct": 4, "gui": {"book_levels": "14"},
                          "brokers.binance.live": "true"})
    assert (t.risk.max_position_pct, t.gui.book_levels, t.brokers.binance.live) == (4.0, 14, True)
    assert t.source_of("risk.max_position_pct") == Source("override")
    assert t.source_of("gui.theme") == Source("env", "TT_GUI__THEME")  # untouched keep theirs
    assert s.risk.max_position_pct == 10.0  # the original is unchanged
    with pytest.raises(SettingsError) as exc:
        s.with_overrides({"risk.max_position_pct": 101, "gui.them": "dark",
                          "brokers.binance.api_key": "k-e-y-1234"})
    assert [str(p) for p in exc.value.problems] == [
        "override: risk.max_position_pct = 101: must be a number between 0 and 100",
        'override: gui.them = "dark": unknown setting; did you mean gui.theme?',
        "override: brokers.binance.api_key = ***: secrets are never read from settings; store "
        "it in the OS keyring (trading-terminal config secret set binance api_key) or in the "
        "environment variable TT_SECRET_BINANCE_API_KEY",
    ]
    assert "k-e-y-1234" not in str(exc.value)


def test_repr_lists_what_changed():
    s = load_settings(env={"TT_GUI__THEME": "light"})
    assert repr(s) == f"Settings({len(s)} keys; changed: gui.theme='light')"
    assert s.changed() == {"gui.theme": "light"}
