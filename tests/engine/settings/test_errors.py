"""Every kind of mistake is reported with where, key, value and rule -- all at once."""

from __future__ import annotations

import pytest

from engine.errors import ConfigError, UserError
from engine.settings import SettingsError, load_settings, validate_file


def problems(exc: pytest.ExceptionInfo[SettingsError]) -> list[str]:
    return [str(p) for p in exc.value.problems]


def test_out_of_range_names_file_line_key_value_and_range(write):
    path = write("# my settings\n\n[risk]\nstop_loss_pct = 1\nmax_position_pct = 500\n")
    with pytest.raises(SettingsError) as exc:
        validate_file(path)
    assert problems(exc) == [
        f"{path}:5: risk.max_position_pct = 500: must be a number between 0 and 100"]
    assert isinstance(exc.value, ConfigError) and isinstance(exc.value, UserError)
    assert exc.value.exit_code == 2


@pytest.mark.parametrize(("line", "expected"), [
    ('max_orders_per_second = "five"', 'risk.max_orders_per_second = "five": must be an integer '
                                       'between 1 and 1000'),
    ("max_orders_per_second = 2.5", "risk.max_orders_per_second = 2.5: must be an integer "
                                    "between 1 and 1000"),
    ("flatten_at_session_end = 1", "risk.flatten_at_session_end = 1: must be true or false"),
    ("max_position_pct = true", "risk.max_position_pct = true: must be a number between 0 and 100"),
    ("max_position_pct = nan", "risk.max_position_pct = nan: must be a number between 0 and 100, "
                               "not nan"),
])
def test_wrong_type(write, line, expected):
    path = write(f"[risk]\n{line}\n")
    with pytest.raises(SettingsError) as exc:
        validate_file(path)
    assert problems(exc) == [f"{path}:2: {expected}"]


def test_bad_choice_lists_the_choices(write):
    path = write('[gui]\ntheme = "blue"\n[brokers.binance]\nmargin_mode = "cross-ish"\n')
    with pytest.raises(SettingsError) as exc:
        validate_file(path)
    assert problems(exc) == [
        f'{path}:2: gui.theme = "blue": must be one of: "dark", "light"',
        f'{path}:4: brokers.binance.margin_mode = "cross-ish": must be one of: "", "cross", "isolated"',
    ]


def test_unknown_keys_are_errors_with_a_suggestion(write):
    path = write("[risk]\nmax_positon_pct = 5\nflatten_positions = false\n"
                 "[riks]\ndaily_max_loss_pct = 1\n[gui]\ncolour = 1\n")
    with pytest.raises(SettingsError) as exc:
        validate_file(path)
    assert problems(exc) == [
        f"{path}:2: risk.max_positon_pct = 5: unknown setting; did you mean risk.max_position_pct?",
        # the right key in the wrong table
        f"{path}:3: risk.flatten_positions = false: unknown setting; did you mean "
        "kill_switch.flatten_positions?",
        f"{path}:5: riks.daily_max_loss_pct = 1: unknown setting: there is no [riks] table; "
        "did you mean [risk]?",
        f"{path}:7: gui.colour = 1: unknown setting",
    ]


def test_secret_in_a_file_is_refused_without_showing_it(write):
    path = write('[brokers.binance]\nenabled = true\napi_key = "AKIAsuper-secret-value"\n'
                 '[somewhere.else]\npassword = "hunter2hunter2"\n')
    with pytest.raises(SettingsError) as exc:
        validate_file(path)
    text = str(exc.value)
    assert "super-secret" not in text and "hunter2" not in text
    assert problems(exc)[0] == (
        f"{path}:3: brokers.binance.api_key = ***: secrets are never read from settings; store it "
        "in the OS keyring (trading-terminal config secret set binance api_key) or in the "
        "environment variable TT_SECRET_BINANCE_API_KEY")
    assert problems(exc)[1].startswith(f"{path}:5: somewhere.else.password = ***: secrets are never")


def test_secret_in_an_env_var_is_refused_without_showing_it():
    env = {"TT_BROKERS__BINANCE__API_SECRET": "s3cr3t-from-env"}
    with pytest.raises(SettingsError) as exc:
        load_settings(env=env)
    assert "s3cr3t" not in str(exc.value)
    assert problems(exc) == [
        "TT_BROKERS__BINANCE__API_SECRET: brokers.binance.api_secret = ***: secrets are never "
        "read from settings; store it in the OS keyring (trading-terminal config secret set "
        "binance api_secret) or in the environment variable TT_SECRET_BINANCE_API_SECRET"]


def test_env_errors_name_the_variable_and_suggest_the_variable():
    env = {"TT_RISK__MAX_POSITION_PCT": "150", "TT_GUI__THEEM": "light",
           "TT_RISK_STOP_LOSS_PCT": "1", "TT_BROKERS__KIWOOM__LIVE": "maybe",
           "PATH": "/bin", "TT_SECRET_BINANCE_API_KEY": "not-a-setting"}
    with pytest.raises(SettingsError) as exc:
        load_settings(env=env)
    assert problems(exc) == [
        'TT_BROKERS__KIWOOM__LIVE: brokers.kiwoom.live = "maybe": must be true or false',
        'TT_GUI__THEEM: gui.theem = "light": unknown setting; did you mean TT_GUI__THEME?',
        'TT_RISK_STOP_LOSS_PCT: risk_stop_loss_pct = "1": unknown setting; did you mean '
        'TT_RISK__STOP_LOSS_PCT?',
        'TT_RISK__MAX_POSITION_PCT: risk.max_position_pct = "150": must be a number between '
        '0 and 100',
    ]


def test_all_problems_of_all_layers_are_reported_together(user_file):
    user_file.write_text('[risk]\nmax_position_pct = -1\n[gui]\nbook_levels = 30\n'
                         'theme = "neon"\n', encoding="utf-8")
    with pytest.raises(SettingsError) as exc:
        load_settings(env={"TT_KILL_SWITCH__MAX_BROKER_ERRORS": "0"})
    assert problems(exc) == [
        f"{user_file}:2: risk.max_position_pct = -1: must be a number between 0 and 100",
        f"{user_file}:4: gui.book_levels = 30: must be an integer between 10 and 20",
        f'{user_file}:5: gui.theme = "neon": must be one of: "dark", "light"',
        "TT_KILL_SWITCH__MAX_BROKER_ERRORS: kill_switch.max_broker_errors = \"0\": must be an "
        "integer between 1 and 1000",
    ]
    assert str(exc.value).startswith("4 invalid settings:\n  ")


def test_toml_syntax_error_gives_the_line(write):
    path = write("[risk]\nmax_position_pct = 5\nstop_loss_pct = = 2\n")
    with pytest.raises(SettingsError) as exc:
        validate_file(path)
    assert len(exc.value.problems) == 1
    assert problems(exc)[0].startswith(f"{path}:3: invalid TOML: ")


def test_missing_config_file_is_an_error(tmp_path):
    with pytest.raises(SettingsError, match="settings file not found"):
        load_settings(user_file=tmp_path / "nope.toml", env={})


def test_line_numbers_for_dotted_keys_inline_tables_and_nested_headers(write):
    path = write(
        'risk.max_position_pct = 101\n'                    # dotted key at the top
        '[brokers]\n'
        'binance = { margin_mode = "x" }\n'                     # inline table: its line
        '[ "strategy" . hybrid ]\n'
        'notes = """\nrsi_period = 1\n"""\n'               # not a key: inside a string
        'rsi_period = 1\n'
    )
    with pytest.raises(SettingsError) as exc:
        validate_file(path)
    assert problems(exc) == [
        f"{path}:1: risk.max_position_pct = 101: must be a number between 0 and 100",
        f'{path}:3: brokers.binance.margin_mode = "x": must be one of: "", "cross", "isolated"',
        f'{path}:5: strategy.hybrid.notes = "rsi_period = 1\\n": unknown setting',
        f"{path}:8: strategy.hybrid.rsi_period = 1: must be an integer between 2 and 200",
    ]


def test_rules_beyond_type_and_range(write):
    path = write('[app]\ntimezone = "Mars/Olympus"\n[replay]\nspeed = 7\nstart = "yesterday"\n'
                 'timeframe = "7q"\nsymbols = ["AAPL", 5]\n[predictor]\nurl = "ftp://x"\n')
    with pytest.raises(SettingsError) as exc:
        validate_file(path)
    got = problems(exc)
    assert got[0] == (f'{path}:2: app.timezone = "Mars/Olympus": must be "local" or an IANA '
                      "timezone such as Asia/Seoul or America/New_York")
    assert got[1] == f'{path}:4: replay.speed = 7: must be one of: 1, 10, 60, "max"'
    assert got[2].startswith(f'{path}:5: replay.start = "yesterday": must be empty')
    assert got[3].startswith(f'{path}:6: replay.timeframe = "7q": must be a bar length')
    assert got[4] == (f'{path}:7: replay.symbols = ["AAPL", 5]: must be a list of strings, '
                      'e.g. ["AAPL", "005930"]')
    assert got[5] == f'{path}:9: predictor.url = "ftp://x": must be empty or an http:// or https:// URL'


def test_http_predictor_needs_a_url(write):
    path = write('[predictor]\nkind = "http"\n')
    with pytest.raises(SettingsError) as exc:
        validate_file(path)
    assert problems(exc) == [f'{path}:2: predictor.url = "": must be set when predictor.kind = "http"']
    ok = write('[predictor]\nkind = "http"\nurl = "http://127.0.0.1:8000/predict"\n', "ok.toml")
    assert validate_file(ok).predictor.url == "http://127.0.0.1:8000/predict"


def test_a_table_given_as_a_value(write):
    path = write("risk = 5\n")
    with pytest.raises(SettingsError) as exc:
        validate_file(path)
    assert problems(exc) == [f"{path}:1: risk = 5: [risk] is a table of settings, not a value"]
