"""``trading-terminal config``: exit status 0 or 2, every problem listed, never a traceback."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import keyring
import pytest

from engine.paths import user_config_file
from engine.settings import build_schema
from terminal.cli import main
from tests.memory_keyring import MemoryKeyring

ROOT = Path(__file__).parents[2]
BAD = '[risk]\nmax_position_pct = 500\n[gui]\nthme = "dark"\n[brokers.binance]\napi_key = "AKIA-do-not-print"\n'


@pytest.fixture(autouse=True)
def _no_tt_env(monkeypatch):
    for var in list(os.environ):
        if var.startswith("TT_"):
            monkeypatch.delenv(var)


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return code, out, err


def test_check_bad_file_lists_every_problem_and_exits_2(tmp_path, capsys):
    bad = tmp_path / "bad.toml"
    bad.write_text(BAD, encoding="utf-8")
    code, out, err = run(capsys, "config", "check", str(bad))
    assert code == 2 and out == ""
    assert err.splitlines() == [
        "error: 3 invalid settings:",
        f"  {bad}:2: risk.max_position_pct = 500: must be a number between 0 and 100",
        f'  {bad}:4: gui.thme = "dark": unknown setting; did you mean gui.theme?',
        f"  {bad}:6: brokers.binance.api_key = ***: secrets are never read from settings; store "
        "it in the OS keyring (trading-terminal config secret set binance api_key) or in the "
        "environment variable TT_SECRET_BINANCE_API_KEY",
    ]


def test_check_in_a_subprocess_has_no_traceback(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text(BAD, encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("TT_")}
    proc = subprocess.run([sys.executable, "-m", "terminal.cli", "config", "check", str(bad)],
                          capture_output=True, text=True, cwd=ROOT, env=env, timeout=60)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr and "AKIA-do-not-print" not in proc.stderr
    assert f"{bad}:2: risk.max_position_pct = 500" in proc.stderr


def test_check_ok_file_and_effective_settings(tmp_path, capsys, monkeypatch):
    good = tmp_path / "good.toml"
    good.write_text("[risk]\nmax_position_pct = 5\n", encoding="utf-8")
    n = len(build_schema())
    assert run(capsys, "config", "check", str(good))[:2] == (0, f"ok: {n} keys (1 from {good})\n")
    assert run(capsys, "config", "check")[:2] == (0, f"ok: {n} keys (all defaults)\n")
    monkeypatch.setenv("TT_GUI__THEME", "light")
    assert run(capsys, "--config", str(good), "config", "check")[:2] == (
        0, f"ok: {n} keys (1 from {good}, 1 from the environment)\n")


def test_effective_check_fails_on_a_bad_env_var(capsys, monkeypatch):
    monkeypatch.setenv("TT_GUI__BOOK_LEVELS", "50")
    code, _, err = run(capsys, "config", "check")
    assert code == 2
    assert "TT_GUI__BOOK_LEVELS: gui.book_levels = \"50\": must be an integer between 10 and 20" in err


def test_show_json_gives_values_and_sources(capsys, monkeypatch):
    path = user_config_file()
    path.parent.mkdir(parents=True)
    path.write_text("[replay]\nsymbols = [\"005930\"]\n", encoding="utf-8")
    monkeypatch.setenv("TT_RISK__MAX_POSITION_PCT", "5")
    code, out, _ = run(capsys, "config", "show", "--json")
    assert code == 0
    data = json.loads(out)
    assert data["risk.max_position_pct"] == {"value": 5.0, "source": "env TT_RISK__MAX_POSITION_PCT"}
    assert data["replay.symbols"] == {"value": ["005930"], "source": f"file {path}:2"}
    assert data["gui.theme"] == {"value": "dark", "source": "default"}
    assert not any("secret" in k or "api_key" in k for k in data)


def test_show_text_filtered_by_table(capsys):
    code, out, _ = run(capsys, "config", "show", "brokers.binance")
    assert code == 0
    rows = [line.split() for line in out.splitlines()]
    assert rows[0] == ["brokers.binance.enabled", "false", "default"]
    assert ["brokers.binance.markets", '["spot"]', "default"] in rows
    assert ["brokers.binance.live", "false", "default"] in rows
    assert all(r[0].startswith("brokers.binance.") for r in rows)
    assert run(capsys, "config", "show", "brokerz")[0] == 2


def test_path_names_the_user_file_data_folder_and_database(capsys):
    code, out, _ = run(capsys, "config", "path")
    assert code == 0
    home = os.environ["TRADING_TERMINAL_HOME"]
    assert f"user settings file: {user_config_file()} (not created yet)" in out
    assert f"data folder: {Path(home) / 'data'}" in out
    assert f"database: sqlite:///{Path(home) / 'data' / 'terminal.sqlite3'}" in out


def test_secret_set_status_delete_in_the_keyring(capsys, monkeypatch):
    previous = keyring.get_keyring()
    backend = MemoryKeyring()
    keyring.set_keyring(backend)
    try:
        monkeypatch.setattr(sys, "stdin", io.StringIO("the-api-key-value\n"))
        code, out, _ = run(capsys, "config", "secret", "set", "binance", "api_key", "--stdin")
        assert code == 0 and "the-api-key-value" not in out
        assert backend.store == {("trading-terminal", "binance:api_key"): "the-api-key-value"}
        assert run(capsys, "config", "secret", "status", "binance", "api_key")[1] == \
            "binance api_key: stored in the OS keyring\n"
        assert run(capsys, "config", "secret", "delete", "binance", "api_key")[0] == 0
        assert backend.store == {}
        assert "not set" in run(capsys, "config", "secret", "status", "binance", "api_key")[1]
    finally:
        keyring.set_keyring(previous)
