"""The settings dialog: brokers, risk, data and appearance, generated from the schema.

::

    dialog = SettingsDialog(ctx.settings, parent=window)      # user_file=None: the user's file
    dialog.settings_changed.connect(on_new_settings)          # a new engine.settings.Settings
    dialog.open()

Every field is built from its ``engine.settings.schema.Key``: numbers are spin boxes
whose arrows keep to the declared range, booleans check boxes, choices combo boxes,
and each tooltip names the key, its meaning, the allowed values and where the current
value came from. Every edit is validated by ``Settings.with_overrides``; a problem is
shown beside its field ("risk.max_position_pct: must be a number between 0 and 100")
and Save is refused until it is fixed. Save writes only the values that changed to the
user TOML (``save_user_settings``) and emits ``settings_changed``.

Credentials never touch a file or a log: what is typed in a password field goes to
the OS keyring through ``engine.settings.secrets.set_secret`` and the field is cleared.
Turning a broker's ``live`` switch on asks for a typed phrase (``LiveConfirmDialog``).
"""

from __future__ import annotations

import logging
import math
import os
from pathlib import Path
from typing import Any

from PySide6.QtCore import QLocale, Qt, Signal
from PySide6.QtGui import QColor, QPalette, QValidator
from PySide6.QtWidgets import (
    QAbstractSpinBox,
    QApplication,
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QScrollArea,
    QSpinBox,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from engine.paths import data_dir, user_config_file
from engine.settings import (
    Key,
    Settings,
    SettingsError,
    delete_secret,
    get_secret,
    save_user_settings,
    secret_env_name,
    set_secret,
)
from engine.settings.schema import fmt_number
from engine.settings.values import show
from widgets.theme import apply_theme, current_theme

log = logging.getLogger(__name__)

# Secrets each broker reads through engine.settings.secrets.get_secret(broker, name).
CREDENTIALS: dict[str, tuple[str, ...]] = {"binance": ("api_key", "secret")}
BROKER_NOTES: dict[str, str] = {
    "paper": "The simulated venue: no credentials, no real money.",
    "kiwoom": "Log-in and the account password are kept by OpenAPI+ itself (tray icon → "
              "계좌비밀번호 저장); this terminal never asks for them.",
}
ERROR_STYLE = "color: #ef5350; font-weight: bold;"
MUTED_STYLE = "color: palette(placeholder-text);"
LIVE_STYLE = "QCheckBox { color: #ef5350; font-weight: bold; }"
DISABLED_TEXT = "#808080"
OK_STYLE = "color: #26a69a;"
WIDE = 1e21  # typing range of number fields: wide, so a typed 150 is an error, not clamped


def _dim_when_disabled(button: QPushButton) -> None:
    """Grey text while disabled: the themes give every state one colour, so a refused Save
    would look pressable. A palette, not a style sheet: those make theme switches slow."""
    palette = button.palette()
    palette.setColor(QPalette.ColorGroup.Disabled, QPalette.ColorRole.ButtonText,
                     QColor(DISABLED_TEXT))
    button.setPalette(palette)


def live_phrase(broker: str) -> str:
    """What the user types to allow real money on ``broker``: ``LIVE BINANCE``."""
    return f"LIVE {broker.upper()}"


# ---- number fields ------------------------------------------------------------------------
def number_text(value: float) -> str:
    """Shortest text that reads back as ``value`` (``10`` not ``10.000000``)."""
    if value.is_integer() and abs(value) < 1e16:
        return str(int(value))
    text = f"{value:.12g}"
    return text if float(text) == value else repr(value)


def _step(key: Key) -> float:
    """Arrow step: about 1 % of the range, and no more than a tenth of the default."""
    if key.kind is int:
        return 1
    if key.low is None or key.high is None or key.high <= key.low:
        return 1.0
    step = 10.0 ** (math.floor(math.log10(key.high - key.low)) - 2)
    if isinstance(key.default, int | float) and key.default > 0:
        step = min(step, 10.0 ** math.floor(math.log10(key.default)) / 10)
    return max(step, 1e-4)


def _clamp(key: Key, value: float) -> float:
    if key.low is not None:
        value = max(value, key.low)
    if key.high is not None:
        value = min(value, key.high)
    return value


def _steps_enabled(key: Key, value: float) -> QAbstractSpinBox.StepEnabledFlag:
    flags = QAbstractSpinBox.StepEnabledFlag.StepNone
    if key.high is None or value < key.high:
        flags |= QAbstractSpinBox.StepEnabledFlag.StepUpEnabled
    if key.low is None or value > key.low:
        flags |= QAbstractSpinBox.StepEnabledFlag.StepDownEnabled
    return flags


class FloatSpin(QDoubleSpinBox):
    """A spin box whose arrows keep to the key's range but whose typed text may leave it.

    Qt would silently refuse or clamp a typed 150 in a 0-100 field; here it stays, and
    the dialog says what is allowed.
    """

    def __init__(self, key: Key, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.key = key
        self.setLocale(QLocale.c())  # "0.5" everywhere, as in the TOML file
        self.setDecimals(12)
        self.setRange(-WIDE, WIDE)
        self.setSingleStep(_step(key))
        self.setKeyboardTracking(True)

    def validate(self, text: str, pos: int) -> tuple[QValidator.State, str, int]:
        t = text.strip().replace("_", "")
        if t in ("", "-", "+", ".", "-.", "+.") or t.lower().endswith(("e", "e-", "e+")):
            return QValidator.State.Intermediate, text, pos
        try:
            value = float(t)
        except ValueError:
            return QValidator.State.Invalid, text, pos
        state = QValidator.State.Acceptable if math.isfinite(value) and abs(value) <= WIDE \
            else QValidator.State.Invalid
        return state, text, pos

    def valueFromText(self, text: str) -> float:  # noqa: N802 (Qt's name)
        try:
            return float(text.strip().replace("_", ""))
        except ValueError:
            return self.value()

    def textFromValue(self, value: float) -> str:  # noqa: N802
        return number_text(value)

    def stepBy(self, steps: int) -> None:  # noqa: N802
        self.setValue(_clamp(self.key, self.value() + steps * self.singleStep()))

    def stepEnabled(self) -> QAbstractSpinBox.StepEnabledFlag:  # noqa: N802
        return _steps_enabled(self.key, self.value())


class IntSpin(QSpinBox):
    """``FloatSpin`` for integer keys."""

    def __init__(self, key: Key, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.key = key
        self.setLocale(QLocale.c())
        self.setRange(-(2**31) + 1, 2**31 - 1)
        self.setKeyboardTracking(True)

    def stepBy(self, steps: int) -> None:  # noqa: N802
        self.setValue(int(_clamp(self.key, self.value() + steps * self.singleStep())))

    def stepEnabled(self) -> QAbstractSpinBox.StepEnabledFlag:  # noqa: N802
        return _steps_enabled(self.key, self.value())


# ---- one setting --------------------------------------------------------------------------
def _short(x: float) -> str:
    """``1e15`` rather than sixteen digits in a hint."""
    if abs(x) >= 1e7 and math.log10(abs(x)).is_integer():
        return f"1e{int(math.log10(abs(x)))}" if x > 0 else f"-1e{int(math.log10(-x))}"
    return fmt_number(x)


def _range_hint(key: Key) -> str:
    if key.kind in (int, float) and key.choices is None:
        if key.low is not None and key.high is not None:
            return f"{_short(key.low)} – {_short(key.high)}"
        if key.low is not None:
            return f"≥ {_short(key.low)}"
    if key.kind is tuple:
        return "comma-separated"
    return ""


class FieldRow(QWidget):
    """The editor of one key, a short range hint beside it and its error below it."""

    edited = Signal()

    def __init__(self, key: Key, settings: Settings, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.key = key
        self.editor = self._make_editor(key, settings.get(key.path))
        source = settings.source_of(key.path)
        self.from_env = source.kind == "env"
        self.hint = QLabel(_range_hint(key))
        self.hint.setStyleSheet(MUTED_STYLE)
        self.error = QLabel()
        self.error.setStyleSheet(ERROR_STYLE)
        self.error.setWordWrap(True)
        self.error.hide()
        line = QHBoxLayout()
        line.setContentsMargins(0, 0, 0, 0)
        line.addWidget(self.editor, 1 if isinstance(self.editor, QLineEdit) else 0)
        line.addWidget(self.hint)
        if not isinstance(self.editor, QLineEdit):
            line.addStretch(1)
        self.line = line
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addLayout(line)
        layout.addWidget(self.error)
        tip = (f"{key.path}\n{key.doc}\nAllowed: {key.allowed()}.\n"
               f"Default: {show(key.default)}. Now from: {source}.")
        if self.from_env:
            # The environment wins over the user file: saving here would change nothing.
            self.editor.setEnabled(False)
            self.hint.setText(f"set by {source.where}")
            tip += f"\nChange it in the environment ({source.where}), not here."
        self.setToolTip(tip)
        self.editor.setToolTip(tip)

    def _make_editor(self, key: Key, value: Any) -> QWidget:
        if key.choices is not None:
            combo = QComboBox()
            for choice in key.choices:
                combo.addItem(str(choice), choice)
            combo.setCurrentIndex(list(key.choices).index(value))
            combo.setMinimumWidth(140)
            combo.currentIndexChanged.connect(self.edited)
            return combo
        if key.kind is bool:
            check = QCheckBox()
            check.setChecked(bool(value))
            check.toggled.connect(self.edited)
            return check
        if key.kind in (int, float):
            spin: QAbstractSpinBox = IntSpin(key) if key.kind is int else FloatSpin(key)
            spin.setValue(value)  # type: ignore[attr-defined]
            spin.setMinimumWidth(140)
            spin.lineEdit().textChanged.connect(self.edited)
            return spin
        edit = QLineEdit(", ".join(value) if key.kind is tuple else str(value))
        edit.setMinimumWidth(260)
        edit.textChanged.connect(self.edited)
        return edit

    @property
    def editable(self) -> bool:
        return not self.from_env

    def raw(self) -> Any:
        """The entered value as ``with_overrides`` takes it (text is parsed as the key's type)."""
        e = self.editor
        if isinstance(e, QComboBox):
            return e.currentData()
        if isinstance(e, QCheckBox):
            return e.isChecked()
        if isinstance(e, IntSpin | FloatSpin):
            return e.cleanText()
        text = e.text() if isinstance(e, QLineEdit) else ""
        if self.key.kind is tuple:
            return tuple(p.strip() for p in text.split(",") if p.strip())
        return text

    def set_error(self, text: str) -> None:
        self.error.setText(text)
        self.error.setVisible(bool(text))


# ---- credentials --------------------------------------------------------------------------
class CredentialRow(QWidget):
    """A password field for one secret, whether the keyring holds it, and Remove.

    The value typed is only ever handed to ``set_secret`` (the OS keyring); it is
    cleared from the field once stored and never logged.
    """

    def __init__(self, broker: str, name: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.broker, self.name = broker, name
        self.entry = QLineEdit()
        self.entry.setEchoMode(QLineEdit.EchoMode.Password)
        self.entry.setMinimumWidth(260)
        self.entry.setToolTip(f"{broker} {name}: kept in the OS keyring, never in a file.\n"
                              f"Or set the environment variable {secret_env_name(broker, name)}.")
        self.status = QLabel()
        # One width for every status, so the password fields of a broker line up.
        self.status.setMinimumWidth(self.status.fontMetrics().horizontalAdvance(
            "stored in keyring") + 8)
        self.remove = QPushButton("Remove")
        self.remove.setToolTip(f"Delete {broker} {name} from the OS keyring now")
        self.remove.clicked.connect(self.delete)
        _dim_when_disabled(self.remove)
        self.error = QLabel()
        self.error.setStyleSheet(ERROR_STYLE)
        self.error.setWordWrap(True)
        self.error.hide()
        line = QHBoxLayout()
        line.setContentsMargins(0, 0, 0, 0)
        line.addWidget(self.entry, 1)
        line.addWidget(self.status)
        line.addWidget(self.remove)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addLayout(line)
        layout.addWidget(self.error)
        self.stored = False
        self.refresh()

    def refresh(self) -> None:
        """Show whether the keyring (or the environment) holds this secret; never its value."""
        var = secret_env_name(self.broker, self.name)
        self.stored = get_secret(self.broker, self.name, env={}) is not None
        if os.environ.get(var):
            text, style = f"set in the environment ({var})", OK_STYLE
        elif self.stored:
            text, style = "stored in keyring", OK_STYLE
        else:
            text, style = "not set", MUTED_STYLE
        self.status.setText(text)
        self.status.setStyleSheet(style)
        self.remove.setEnabled(self.stored)
        self.entry.setPlaceholderText("type to replace the stored value" if self.stored
                                      else "type to store in the OS keyring")

    def _keyring_failed(self, exc: Exception) -> None:
        var = secret_env_name(self.broker, self.name)
        self.set_error(f"the OS keyring is not available ({type(exc).__name__}); "
                       f"set the environment variable {var} instead")

    def store(self) -> bool:
        """Put the typed value (if any) into the OS keyring; False (and why) if it cannot."""
        from keyring.errors import KeyringError

        value = self.entry.text()
        if not value:
            return True
        try:
            set_secret(self.broker, self.name, value)
        except KeyringError as exc:
            self._keyring_failed(exc)
            return False
        self.entry.clear()
        self.set_error("")
        log.info("stored %s %s in the OS keyring", self.broker, self.name)
        self.refresh()
        return True

    def delete(self) -> None:
        from keyring.errors import KeyringError

        try:
            delete_secret(self.broker, self.name)
        except KeyringError as exc:
            self._keyring_failed(exc)
            return
        log.info("removed %s %s from the OS keyring", self.broker, self.name)
        self.set_error("")
        self.refresh()

    def set_error(self, text: str) -> None:
        self.error.setText(text)
        self.error.setVisible(bool(text))


# ---- the live switch's confirmation -------------------------------------------------------
class LiveConfirmDialog(QDialog):
    """Asks the user to type ``LIVE <BROKER>`` before real-money orders are allowed.

    ``confirmed`` is True only after the exact phrase was typed and the dialog accepted;
    ``accept()`` with anything else is refused and the dialog stays open.
    """

    def __init__(self, broker: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.broker = broker
        self.phrase = live_phrase(broker)
        self.setWindowTitle(f"Allow real-money trading on {broker}?")
        warning = QLabel(
            f"<b>Real money.</b> With live on, orders sent to <b>{broker}</b> trade your real "
            f"account: fills cannot be undone and losses are real.<br><br>"
            f"Type <b>{self.phrase}</b> to allow it.")
        warning.setWordWrap(True)
        warning.setTextFormat(Qt.TextFormat.RichText)
        self.entry = QLineEdit()
        self.entry.setAccessibleName(f"type {self.phrase}")
        self.note = QLabel()
        self.note.setStyleSheet(ERROR_STYLE)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        self.confirm_button = self.buttons.addButton(
            "Allow live trading", QDialogButtonBox.ButtonRole.AcceptRole)
        self.confirm_button.setEnabled(False)
        self.buttons.button(QDialogButtonBox.StandardButton.Cancel).setDefault(True)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        self.entry.textChanged.connect(self._typed)
        layout = QVBoxLayout(self)
        layout.addWidget(warning)
        layout.addWidget(self.entry)
        layout.addWidget(self.note)
        layout.addWidget(self.buttons)
        self.setMinimumWidth(420)
        _dim_when_disabled(self.confirm_button)

    def matches(self) -> bool:
        return self.entry.text() == self.phrase

    def _typed(self) -> None:
        self.confirm_button.setEnabled(self.matches())
        self.note.clear()

    @property
    def confirmed(self) -> bool:
        return self.result() == QDialog.DialogCode.Accepted and self.matches()

    def accept(self) -> None:
        if not self.matches():
            self.note.setText(f"type exactly {self.phrase}")
            return
        super().accept()


# ---- the dialog ---------------------------------------------------------------------------
def _scroll_page(*groups: QWidget, note: str = "") -> QScrollArea:
    page = QWidget()
    layout = QVBoxLayout(page)
    if note:
        label = QLabel(note)
        label.setWordWrap(True)
        label.setStyleSheet(MUTED_STYLE)
        layout.addWidget(label)
    for group in groups:
        layout.addWidget(group)
    layout.addStretch(1)
    area = QScrollArea()
    area.setWidgetResizable(True)
    area.setFrameShape(QScrollArea.Shape.NoFrame)
    area.setWidget(page)
    return area


class SettingsDialog(QDialog):
    """Edit, validate and save the user's settings; credentials go to the OS keyring.

    ``settings`` is what the terminal runs with; ``user_file`` is the TOML written on
    Save (default: ``engine.paths.user_config_file()``). After Save, ``result_settings``
    holds the new ``Settings`` (the old one if nothing changed), and ``settings_changed``
    was emitted with it if anything changed.
    """

    settings_changed = Signal(object)  # engine.settings.Settings

    def __init__(self, settings: Settings, parent: QWidget | None = None,
                 user_file: str | os.PathLike[str] | None = None) -> None:
        super().__init__(parent)
        self.settings = settings
        self.result_settings = settings
        self.user_file = Path(user_file).expanduser() if user_file is not None \
            else user_config_file()
        self.fields: dict[str, FieldRow] = {}
        self.credentials: dict[tuple[str, str], CredentialRow] = {}
        self.live_confirm: LiveConfirmDialog | None = None
        self.changes: dict[str, Any] = {}
        self._theme_at_open = current_theme()
        self.setWindowTitle("Settings")
        self.tabs = QTabWidget()
        self.tabs.addTab(self._brokers_page(), "Brokers")
        self.tabs.addTab(self._risk_page(), "Risk")
        self.tabs.addTab(self._data_page(), "Data")
        self.tabs.addTab(self._appearance_page(), "Appearance")
        self.problems = QLabel()
        self.problems.setStyleSheet(ERROR_STYLE)
        self.problems.setWordWrap(True)
        self.problems.hide()
        where = QLabel(f"Saved to {self.user_file}")
        where.setStyleSheet(MUTED_STYLE)
        where.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Save
                                        | QDialogButtonBox.StandardButton.Cancel)
        self.ok_button = self.buttons.button(QDialogButtonBox.StandardButton.Save)
        _dim_when_disabled(self.ok_button)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.tabs, 1)
        layout.addWidget(self.problems)
        layout.addWidget(where)
        layout.addWidget(self.buttons)
        for row in self.fields.values():
            row.edited.connect(self.validate)
        self.resize(720, 620)
        self.validate()

    # ---- pages ---------------------------------------------------------------------------
    def _group(self, title: str, keys: list[Key], note: str = "") -> tuple[QGroupBox, QFormLayout]:
        box = QGroupBox(title)
        form = QFormLayout(box)
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        if note:
            label = QLabel(note)
            label.setWordWrap(True)
            label.setStyleSheet(MUTED_STYLE)
            form.addRow(label)
        for key in keys:
            row = FieldRow(key, self.settings)
            self.fields[key.path] = row
            label = QLabel(key.name.replace("_", " "))
            label.setToolTip(row.toolTip())
            form.addRow(label, row)
        return box, form

    def _keys(self, section: str) -> list[Key]:
        return list(self.settings.schema.sections.get(section, []))

    def _brokers_page(self) -> QWidget:
        """One tab per ``[brokers.*]`` table, so each fits without scrolling."""
        self.broker_tabs = QTabWidget()
        sections = [s for s in self.settings.schema.sections if s.startswith("brokers.")]
        for section in sections:
            broker = section.split(".", 1)[1]
            box, form = self._group(f"{broker} [{section}]", self._keys(section),
                                    BROKER_NOTES.get(broker, ""))
            live = self.fields.get(f"{section}.live")
            if live is not None:
                self._wire_live(broker, live)
            for name in CREDENTIALS.get(broker, ()):
                cred = CredentialRow(broker, name)
                self.credentials[(broker, name)] = cred
                label = QLabel(name.replace("_", " "))
                label.setToolTip(cred.entry.toolTip())
                form.addRow(label, cred)
            self.broker_tabs.addTab(_scroll_page(box), broker)
        page = QWidget()
        layout = QVBoxLayout(page)
        note = QLabel("Broker changes take effect the next time the terminal connects. "
                      "Credentials are kept in the OS keyring and never written to a file.")
        note.setWordWrap(True)
        note.setStyleSheet(MUTED_STYLE)
        layout.addWidget(note)
        layout.addWidget(self.broker_tabs, 1)
        return page

    def _risk_page(self) -> QWidget:
        risk, _ = self._group("Risk limits [risk]", self._keys("risk"))
        kill, _ = self._group("Kill switch [kill_switch]", self._keys("kill_switch"))
        return _scroll_page(risk, kill, note="Percentages are percentages: 10 means 10 %.")

    def _data_page(self) -> QWidget:
        box, _ = self._group("Data [data]", self._keys("data"))
        folder = self.fields.get("data.folder")
        if folder is not None and isinstance(folder.editor, QLineEdit):
            folder.editor.setPlaceholderText(f"empty: {data_dir()}")
            browse = QPushButton("Browse…")
            browse.clicked.connect(lambda: self._browse(folder.editor))
            browse.setEnabled(folder.editable)
            folder.line.addWidget(browse)
        url = self.fields.get("data.database_url")
        if url is not None and isinstance(url.editor, QLineEdit):
            url.editor.setPlaceholderText("empty: SQLite in the data folder")
        return _scroll_page(box, note="Data changes take effect the next time the terminal "
                                      "starts.")

    def _browse(self, edit: QLineEdit) -> None:
        chosen = QFileDialog.getExistingDirectory(self, "Data folder", edit.text() or str(data_dir()))
        if chosen:
            edit.setText(chosen)

    def _appearance_page(self) -> QWidget:
        box, _ = self._group("Window [gui]", self._keys("gui"))
        theme = self.fields.get("gui.theme")
        if theme is not None and isinstance(theme.editor, QComboBox):
            combo = theme.editor
            combo.currentIndexChanged.connect(lambda _i: self._apply_theme(combo.currentData()))
        return _scroll_page(box)

    def _apply_theme(self, name: str) -> None:
        app = QApplication.instance()
        if isinstance(app, QApplication):
            apply_theme(app, name)

    # ---- the live switch -----------------------------------------------------------------
    def _wire_live(self, broker: str, row: FieldRow) -> None:
        check = row.editor
        assert isinstance(check, QCheckBox)
        check.setText("allow real-money orders")

        def style(on: bool) -> None:
            check.setStyleSheet(LIVE_STYLE if on else "")

        check.toggled.connect(style)
        style(check.isChecked())
        check.clicked.connect(lambda on: self._live_clicked(broker, check, on))

    def _live_clicked(self, broker: str, check: QCheckBox, on: bool) -> None:
        """Turning live on waits for the typed phrase; turning it off needs nothing."""
        if not on:
            return
        check.setChecked(False)
        dialog = LiveConfirmDialog(broker, self)
        self.live_confirm = dialog
        dialog.finished.connect(lambda _r: self._live_answered(check, dialog))
        dialog.open()

    def _live_answered(self, check: QCheckBox, dialog: LiveConfirmDialog) -> None:
        if dialog.confirmed:
            check.setChecked(True)
        self.live_confirm = None
        dialog.deleteLater()

    # ---- validation and saving -----------------------------------------------------------
    def validate(self) -> bool:
        """Check every field through ``with_overrides``; errors go beside their fields."""
        raw = {p: row.raw() for p, row in self.fields.items() if row.editable}
        for row in self.fields.values():
            row.set_error("")
        try:
            candidate = self.settings.with_overrides(raw)
        except SettingsError as exc:
            self._show_problems(exc)
            return False
        self.changes = {p: candidate.get(p) for p in raw
                        if candidate.get(p) != self.settings.get(p)}
        self._set_general("")
        self.ok_button.setEnabled(True)
        return True

    def _show_problems(self, exc: SettingsError) -> None:
        general = []
        for problem in exc.problems:
            row = self.fields.get(problem.key)
            text = f"{problem.key}: {problem.message}"
            if row is not None:
                row.set_error("\n".join(filter(None, (row.error.text(), text))))
            else:
                general.append(str(problem))
        self._set_general("\n".join(general))
        self.ok_button.setEnabled(False)

    def _set_general(self, text: str) -> None:
        self.problems.setText(text)
        self.problems.setVisible(bool(text))

    def invalid_fields(self) -> list[str]:
        """Paths of the fields showing an error."""
        return [p for p, row in self.fields.items() if row.error.text()]

    def accept(self) -> None:
        """Save: refused while any field is invalid or a secret cannot be stored."""
        if not self.validate():
            self._show_first_error()
            return
        if not all([cred.store() for cred in self.credentials.values()]):
            return
        if self.changes and not self._save(self.changes):
            return
        super().accept()

    def _save(self, changes: dict[str, Any]) -> bool:
        try:
            save_user_settings(changes, self.user_file)
        except SettingsError as exc:
            self._show_problems(exc)
            return False
        except OSError as exc:
            self._set_general(f"cannot write {self.user_file}: {exc.strerror or exc}")
            return False
        self.result_settings = self.settings.with_overrides(changes)
        log.info("settings saved to %s: %s", self.user_file, ", ".join(sorted(changes)))
        self.settings_changed.emit(self.result_settings)
        return True

    def _show_first_error(self) -> None:
        bad = self.invalid_fields()
        if not bad:
            return
        self.show_field(bad[0])

    def show_field(self, path: str) -> None:
        """Bring the field of ``path`` into view (its tab, then scrolled to) and focus it."""
        row = self.fields[path]
        for tabs in (self.tabs, self.broker_tabs):
            for i in range(tabs.count()):
                page = tabs.widget(i)
                if page is not None and page.isAncestorOf(row):
                    tabs.setCurrentIndex(i)
                    if isinstance(page, QScrollArea):
                        page.ensureWidgetVisible(row)
        row.editor.setFocus()

    def reject(self) -> None:
        """Cancel: the theme shown while editing goes back to the one in use."""
        if current_theme() != self._theme_at_open:
            self._apply_theme(self._theme_at_open)
        super().reject()


__all__: list[str] = ["CREDENTIALS", "CredentialRow", "FieldRow", "FloatSpin", "IntSpin",
                      "LiveConfirmDialog", "SettingsDialog", "live_phrase", "number_text"]
