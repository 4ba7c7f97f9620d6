"""The settings dialog: errors beside fields, only changes saved, secrets only in the keyring,
the live switch behind a typed phrase, the theme applied while choosing it."""

from __future__ import annotations

import logging
import os
import tomllib
from pathlib import Path

import keyring
import keyring.core
import pytest
from hypothesis import given
from hypothesis import strategies as st
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QApplication, QCheckBox, QComboBox, QDialog, QSpinBox

from engine.settings import get_secret, load_settings
from engine.settings.secrets import SERVICE, forget_secrets
from tests.memory_keyring import MemoryKeyring
from widgets.settings_dialog import (
    FloatSpin,
    IntSpin,
    LiveConfirmDialog,
    SettingsDialog,
    live_phrase,
    number_text,
)
from widgets.theme import THEMES, apply_theme, current_theme

API_KEY = "AKtest-9f3c2e81d7b4a605"
API_SECRET = "sEcReT-55aa0b1c2d3e4f60718293"


@pytest.fixture(autouse=True)
def memory_keyring(monkeypatch):
    """Every test here (the dialog reads the keyring when it opens) gets an empty dict keyring."""
    for name in ("TT_SECRET_BINANCE_API_KEY", "TT_SECRET_BINANCE_SECRET"):
        monkeypatch.delenv(name, raising=False)
    previous = keyring.core._keyring_backend
    backend = MemoryKeyring()
    keyring.set_keyring(backend)
    yield backend
    keyring.core._keyring_backend = previous
    forget_secrets()


@pytest.fixture
def user_file(tmp_path) -> Path:
    path = tmp_path / "settings.toml"
    path.write_text("[gui]\nbook_levels = 15\n", encoding="utf-8")
    return path


def open_dialog(qtbot, user_file: Path, env: dict[str, str] | None = None) -> SettingsDialog:
    settings = load_settings(user_file, env=env or {})
    dialog = SettingsDialog(settings, user_file=user_file)
    qtbot.addWidget(dialog)
    dialog.show()
    return dialog


def type_into(qtbot, dialog: SettingsDialog, path: str, text: str) -> None:
    editor = dialog.fields[path].editor
    line = editor.lineEdit() if hasattr(editor, "lineEdit") else editor
    line.selectAll()
    qtbot.keyClick(line, Qt.Key.Key_Backspace)
    qtbot.keyClicks(line, text)


def all_text_under(*folders: Path) -> str:
    return "\n".join(p.read_text(encoding="utf-8", errors="replace")
                     for folder in folders for p in folder.rglob("*") if p.is_file())


def test_every_risk_and_kill_switch_key_gets_an_editor_from_the_schema(qtbot, user_file):
    dialog = open_dialog(qtbot, user_file)
    schema = dialog.settings.schema
    keys = schema.sections["risk"] + schema.sections["kill_switch"]
    assert len(keys) == 30
    for key in keys:
        row = dialog.fields[key.path]
        expected = {bool: QCheckBox, int: IntSpin, float: FloatSpin}[key.kind]
        assert isinstance(row.editor, expected), key.path
        assert key.doc in row.editor.toolTip() and key.path in row.editor.toolTip()
        assert row.raw() in (dialog.settings.get(key.path), str(row.raw()))
    # The arrows keep to the declared range (typing may leave it: see the next test).
    spin = dialog.fields["risk.max_orders_per_second"].editor
    assert isinstance(spin, QSpinBox)
    spin.setValue(1000)
    spin.stepBy(5)
    assert spin.value() == 1000
    spin.setValue(1)
    spin.stepBy(-1)
    assert spin.value() == 1
    # Choices are combo boxes; every [brokers.*] key and the gui and data keys are there too.
    assert isinstance(dialog.fields["brokers.binance.environment"].editor, QComboBox)
    assert {"brokers.paper.initial_cash", "brokers.binance.markets", "data.folder",
            "data.database_url", "gui.theme", "gui.book_levels",
            "gui.max_table_rows"} <= set(dialog.fields)
    assert dialog.fields["gui.book_levels"].raw() == "15"  # from the user file


def test_a_value_out_of_range_is_shown_beside_its_field_and_save_is_refused(qtbot, user_file):
    before = user_file.read_text(encoding="utf-8")
    dialog = open_dialog(qtbot, user_file)
    assert dialog.ok_button.isEnabled()
    type_into(qtbot, dialog, "risk.max_position_pct", "150")
    row = dialog.fields["risk.max_position_pct"]
    assert not row.error.isHidden()
    assert row.error.text() == "risk.max_position_pct: must be a number between 0 and 100"
    assert row.isAncestorOf(row.error)  # beside its own field, not in a message box
    assert dialog.invalid_fields() == ["risk.max_position_pct"]
    assert not dialog.ok_button.isEnabled()
    dialog.tabs.setCurrentIndex(0)
    dialog.accept()  # as if Enter were pressed: refused, and the field is brought into view
    assert dialog.isVisible() and dialog.result() != QDialog.DialogCode.Accepted
    assert dialog.tabs.currentIndex() == 1 and row.error.isVisible()
    assert user_file.read_text(encoding="utf-8") == before
    # A rule of the key's own (account digits) is reported the same way.
    type_into(qtbot, dialog, "brokers.kiwoom.account", "12ab")
    assert "account number's digits" in dialog.fields["brokers.kiwoom.account"].error.text()
    type_into(qtbot, dialog, "brokers.kiwoom.account", "")
    type_into(qtbot, dialog, "risk.max_position_pct", "7.5")
    assert row.error.isHidden() and row.error.text() == ""
    assert dialog.ok_button.isEnabled()


def test_a_valid_change_is_saved_alone_and_reloads(qtbot, user_file):
    dialog = open_dialog(qtbot, user_file)
    type_into(qtbot, dialog, "risk.max_position_pct", "5")
    dialog.fields["kill_switch.auto_on_drawdown"].editor.setChecked(False)
    with qtbot.waitSignal(dialog.settings_changed) as signal:
        qtbot.mouseClick(dialog.ok_button, Qt.MouseButton.LeftButton)
    assert dialog.result() == QDialog.DialogCode.Accepted
    with user_file.open("rb") as f:
        written = tomllib.load(f)
    # Only what changed, plus what the file already held; no other key is written.
    assert written == {"gui": {"book_levels": 15}, "risk": {"max_position_pct": 5.0},
                       "kill_switch": {"auto_on_drawdown": False}}
    reloaded = load_settings(user_file, env={})
    assert reloaded.risk.max_position_pct == 5.0
    assert reloaded.kill_switch.auto_on_drawdown is False
    assert signal.args[0] is dialog.result_settings
    assert dialog.result_settings == reloaded


def test_saving_without_changes_writes_nothing(qtbot, tmp_path):
    target = tmp_path / "new" / "settings.toml"
    dialog = SettingsDialog(load_settings(env={}), user_file=target)
    qtbot.addWidget(dialog)
    with qtbot.assertNotEmitted(dialog.settings_changed):
        dialog.accept()
    assert dialog.result() == QDialog.DialogCode.Accepted
    assert not target.exists()
    assert dialog.result_settings is dialog.settings


def test_a_save_that_cannot_be_written_says_why_and_stays_open(qtbot, tmp_path):
    folder = tmp_path / "a-folder"
    folder.mkdir()
    dialog = SettingsDialog(load_settings(env={}), user_file=folder)
    qtbot.addWidget(dialog)
    dialog.show()
    type_into(qtbot, dialog, "gui.max_table_rows", "5000")
    with qtbot.assertNotEmitted(dialog.settings_changed):
        dialog.accept()
    assert dialog.isVisible()
    assert f"cannot write {folder}" in dialog.problems.text()


def test_the_default_file_is_the_users_settings_file(qtbot):
    dialog = SettingsDialog(load_settings(env={}))
    qtbot.addWidget(dialog)
    type_into(qtbot, dialog, "gui.book_levels", "12")
    dialog.accept()
    home = Path(os.environ["TRADING_TERMINAL_HOME"])  # set by tests/conftest.py
    assert dialog.user_file.is_relative_to(home)
    assert load_settings(env={}).gui.book_levels == 12


def test_credentials_go_to_the_keyring_and_nowhere_else(qtbot, user_file, memory_keyring,
                                                        caplog, tmp_path):
    caplog.set_level(logging.DEBUG)
    dialog = open_dialog(qtbot, user_file)
    key_row = dialog.credentials[("binance", "api_key")]
    secret_row = dialog.credentials[("binance", "secret")]
    assert key_row.status.text() == "not set" and not key_row.remove.isEnabled()
    qtbot.keyClicks(key_row.entry, API_KEY)
    qtbot.keyClicks(secret_row.entry, API_SECRET)
    type_into(qtbot, dialog, "risk.stop_loss_pct", "1.5")
    dialog.accept()
    assert dialog.result() == QDialog.DialogCode.Accepted
    assert memory_keyring.store == {(SERVICE, "binance:api_key"): API_KEY,
                                    (SERVICE, "binance:secret"): API_SECRET}
    assert get_secret("binance", "api_key", env={}) == API_KEY
    # Not in the saved file (nor any other file the test or the app home holds) ...
    files = all_text_under(tmp_path, Path(os.environ["TRADING_TERMINAL_HOME"]))
    assert "stop_loss_pct = 1.5" in user_file.read_text(encoding="utf-8")
    assert API_KEY not in files and API_SECRET not in files
    # ... nor in any log record, not even masked: the dialog never tried to log it.
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "stored binance api_key in the OS keyring" in logged
    assert API_KEY not in logged and API_SECRET not in logged and "***" not in logged
    # The field is cleared once stored; the status says where it is; Remove removes it.
    assert key_row.entry.text() == "" and key_row.status.text() == "stored in keyring"
    assert key_row.remove.isEnabled()
    qtbot.mouseClick(key_row.remove, Qt.MouseButton.LeftButton)
    assert (SERVICE, "binance:api_key") not in memory_keyring.store
    assert key_row.status.text() == "not set"
    assert (SERVICE, "binance:secret") in memory_keyring.store


def test_a_dialog_opened_later_shows_what_the_keyring_holds(qtbot, user_file, memory_keyring):
    memory_keyring.store[(SERVICE, "binance:secret")] = API_SECRET
    dialog = open_dialog(qtbot, user_file)
    row = dialog.credentials[("binance", "secret")]
    assert row.status.text() == "stored in keyring"
    assert API_SECRET not in row.entry.text() and row.entry.echoMode() != row.entry.EchoMode.Normal


def test_the_live_switch_needs_the_exact_phrase(qtbot, user_file):
    assert live_phrase("binance") == "LIVE BINANCE"
    dialog = open_dialog(qtbot, user_file)
    live = dialog.fields["brokers.binance.live"].editor
    assert isinstance(live, QCheckBox) and not live.isChecked()

    live.click()  # the user ticks it: nothing changes until the phrase is typed
    confirm = dialog.live_confirm
    assert isinstance(confirm, LiveConfirmDialog) and confirm.phrase == "LIVE BINANCE"
    assert not live.isChecked()
    qtbot.keyClicks(confirm.entry, "live binance")
    assert not confirm.confirm_button.isEnabled()
    confirm.accept()  # refused: wrong phrase
    assert confirm.isVisible() and "type exactly LIVE BINANCE" in confirm.note.text()
    confirm.reject()
    assert not live.isChecked() and dialog.live_confirm is None

    live.click()
    confirm = dialog.live_confirm
    assert confirm is not None
    confirm.reject()  # cancel
    assert not live.isChecked()

    live.click()
    confirm = dialog.live_confirm
    assert confirm is not None
    qtbot.keyClicks(confirm.entry, "LIVE BINANCE")
    assert confirm.confirm_button.isEnabled()
    qtbot.mouseClick(confirm.confirm_button, Qt.MouseButton.LeftButton)
    assert confirm.confirmed and live.isChecked()

    live.click()  # turning it off asks nothing
    assert not live.isChecked() and dialog.live_confirm is None
    live.click()
    qtbot.keyClicks(dialog.live_confirm.entry, "LIVE BINANCE")
    dialog.live_confirm.accept()
    dialog.accept()
    assert load_settings(user_file, env={}).brokers.binance.live is True


def test_the_live_phrase_names_the_broker(qtbot):
    confirm = LiveConfirmDialog("kiwoom")
    qtbot.addWidget(confirm)
    qtbot.keyClicks(confirm.entry, "LIVE BINANCE")
    confirm.accept()
    assert not confirm.confirmed
    confirm.entry.setText("LIVE KIWOOM")
    confirm.accept()
    assert confirm.confirmed


def test_the_theme_applies_while_choosing_and_cancel_restores_it(qtbot, user_file):
    app = QApplication.instance()
    apply_theme(app, "dark")
    try:
        dialog = open_dialog(qtbot, user_file)
        combo = dialog.fields["gui.theme"].editor
        combo.setCurrentIndex(combo.findText("light"))
        assert current_theme() == "light"
        assert app.palette().color(QPalette.ColorRole.Window) == QColor(THEMES["light"].background)
        dialog.reject()
        assert current_theme() == "dark"
        assert app.palette().color(QPalette.ColorRole.Window) == QColor(THEMES["dark"].background)

        dialog = open_dialog(qtbot, user_file)
        combo = dialog.fields["gui.theme"].editor
        combo.setCurrentIndex(combo.findText("light"))
        dialog.accept()
        assert current_theme() == "light"
        assert load_settings(user_file, env={}).gui.theme == "light"
    finally:
        apply_theme(app, "dark")


def test_a_value_from_the_environment_is_shown_but_not_editable(qtbot, user_file):
    dialog = open_dialog(qtbot, user_file, env={"TT_RISK__MAX_POSITION_PCT": "7"})
    row = dialog.fields["risk.max_position_pct"]
    assert not row.editor.isEnabled()
    assert "TT_RISK__MAX_POSITION_PCT" in row.editor.toolTip()
    type_into(qtbot, dialog, "risk.daily_max_loss_pct", "3")
    dialog.accept()
    written = user_file.read_text(encoding="utf-8")
    assert "daily_max_loss_pct = 3" in written and "max_position_pct" not in written


@given(st.floats(allow_nan=False, allow_infinity=False, min_value=-1e21, max_value=1e21))
def test_a_number_field_shows_text_that_reads_back_as_the_same_value(x):
    # Otherwise an untouched field would count as changed (and be written) on Save.
    assert float(number_text(x)) == x
