"""The KILL SWITCH button and the latched banner.

The button calls the engine's kill switch at once: no dialog on the way in.
While latched, a red banner says since when, by whom and why, and offers
"Re-arm…", which asks for confirmation and is refused by the engine while
cancels are still unconfirmed.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QMessageBox,
    QPushButton,
    QSizePolicy,
    QWidget,
)

from engine.models import ns_to_timestamp
from engine.risk.kill_switch import KillSwitchState
from widgets.context import AppContext

KILL_SHORTCUT = "Ctrl+Shift+K"


class KillSwitchButton(QPushButton):
    def __init__(self, ctx: AppContext, parent: QWidget | None = None) -> None:
        super().__init__("KILL SWITCH", parent)
        self.ctx = ctx
        self.setObjectName("killSwitchButton")
        self.setToolTip(f"Cancel every order, flatten, halt strategies ({KILL_SHORTCUT})")
        self.setMinimumSize(150, 38)
        self.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Fixed)
        self.setStyleSheet(
            "QPushButton#killSwitchButton { background: #c62828; color: white; font-weight: bold;"
            " font-size: 14px; border: 2px solid #7f0000; border-radius: 4px; padding: 4px 14px; }"
            "QPushButton#killSwitchButton:pressed { background: #7f0000; }"
        )
        self.clicked.connect(lambda: self.fire("button"))

    def fire(self, source: str) -> None:
        self.ctx.engine.kill("manual kill switch", by="user", source=source)


class KillSwitchBanner(QFrame):
    """A red strip shown only while the kill switch is latched."""

    rearmed = Signal()

    def __init__(self, ctx: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.setObjectName("killSwitchBanner")
        self.setStyleSheet("QFrame#killSwitchBanner { background: #b71c1c; }"
                           "QLabel { color: white; font-weight: bold; font-size: 13px; }")
        layout = QHBoxLayout(self)
        layout.setContentsMargins(10, 6, 10, 6)
        self.label = QLabel()
        self.label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.rearm_button = QPushButton("Re-arm…")
        self.rearm_button.clicked.connect(self.ask_rearm)
        layout.addWidget(self.label, 1)
        layout.addWidget(self.rearm_button)
        ctx.bridge.kill_switch.connect(self.show_state)
        self.show_state(ctx.engine.kill_switch.state)

    def show_state(self, state: KillSwitchState) -> None:
        if not state.latched:
            self.hide()
            return
        since = ns_to_timestamp(state.since_ns).tz_convert(None).strftime("%Y-%m-%d %H:%M:%S UTC")
        self.label.setText(f"KILL SWITCH LATCHED since {since} by {state.by} ({state.source}): "
                           f"{state.reason}. No new orders until re-armed.")
        self.show()

    def ask_rearm(self) -> None:
        answer = QMessageBox.question(
            self, "Re-arm trading",
            "Re-arm the kill switch and allow new orders again?\n\n"
            "Strategies stay stopped until you start them.",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
            QMessageBox.StandardButton.No,
        )
        if answer == QMessageBox.StandardButton.Yes:
            self.rearm()

    def rearm(self) -> bool:
        rejection = self.ctx.engine.rearm(by="user")
        if rejection is not None:
            QMessageBox.warning(self, "Re-arm refused", rejection.message)
            return False
        self.rearmed.emit()
        return True
