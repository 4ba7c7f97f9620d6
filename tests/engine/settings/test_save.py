"""save_user_settings: only changed, valid, non-secret values; what is saved loads back the same."""

from __future__ import annotations

import tomllib

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hyp_settings
from hypothesis import strategies as st

from engine.settings import (
    SettingsError,
    build_schema,
    load_settings,
    save_user_settings,
    validate_file,
)

SCHEMA = build_schema()


def test_mapping_changes_merge_into_the_user_file_and_defaults_drop_out(user_file):
    user_file.write_text("[gui]\ntheme = \"light\"\n[risk]\nstop_loss_pct = 0.5\n", encoding="utf-8")
    written = save_user_settings({"risk.max_position_pct": 5, "risk.stop_loss_pct": 1.0})
    assert written == user_file
    data = tomllib.loads(user_file.read_text(encoding="utf-8"))
    # stop_loss_pct went back to its default, so the file no longer holds it
    assert data == {"gui": {"theme": "light"}, "risk": {"max_position_pct": 5.0}}
    s = load_settings(env={})
    assert s.risk.max_position_pct == 5.0 and s.gui.theme == "light"


def test_saving_a_settings_writes_file_and_override_values_but_not_env(user_file):
    user_file.write_text("[gui]\nbook_levels = 12\n", encoding="utf-8")
    s = load_settings(env={"TT_GUI__THEME": "light"}).with_overrides({"replay.speed": "max"})
    save_user_settings(s)
    data = tomllib.loads(user_file.read_text(encoding="utf-8"))
    assert data == {"gui": {"book_levels": 12}, "replay": {"speed": "max"}}


def test_secrets_and_bad_values_are_refused_and_nothing_is_written(user_file):
    user_file.write_text("[gui]\nbook_levels = 12\n", encoding="utf-8")
    before = user_file.read_bytes()
    with pytest.raises(SettingsError) as exc:
        save_user_settings({"brokers.binance.api_key": "AK-0123456789", "gui.book_levels": 99})
    assert "AK-0123456789" not in str(exc.value)
    assert len(exc.value.problems) == 2
    assert user_file.read_bytes() == before


def test_saving_to_a_new_folder_creates_it(tmp_path):
    path = tmp_path / "deep" / "er" / "settings.toml"
    save_user_settings({"app.log_level": "DEBUG"}, path)
    assert validate_file(path).app.log_level == "DEBUG"
    assert [p.name for p in path.parent.iterdir()] == ["settings.toml"]  # no temp file left


def _value(key):
    """Any value the key accepts."""
    if key.choices is not None:
        return st.sampled_from(key.choices)
    if key.kind is bool:
        return st.booleans()
    if key.kind is int:
        return st.integers(int(key.low), int(key.high))
    if key.kind is float:
        return st.floats(key.low, key.high, allow_nan=False)
    if key.path == "brokers.binance.markets":
        return st.sampled_from([("spot",), ("linear",), ("spot", "linear")])
    if key.kind is tuple:
        return st.lists(st.text(st.characters(blacklist_categories=("Cs",)), min_size=1)
                        .filter(str.strip), max_size=3).map(tuple)
    if key.check is None:  # free text such as data.folder
        return st.text(st.characters(blacklist_categories=("Cs",)), max_size=20)
    return st.just(key.default)


CHECKED = [k for k in SCHEMA.keys.values() if k.path != "predictor.kind"]  # http needs a url


@hyp_settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.data())
def test_any_valid_values_round_trip_through_the_user_file(tmp_path, data):
    keys = data.draw(st.lists(st.sampled_from(CHECKED), min_size=1, max_size=12,
                              unique_by=lambda k: k.path))
    changes = {k.path: data.draw(_value(k), label=k.path) for k in keys}
    path = tmp_path / "settings.toml"
    path.unlink(missing_ok=True)
    save_user_settings(changes, path)
    loaded = validate_file(path)
    for p, v in changes.items():
        assert loaded.get(p) == v, p
