"""Run / Cancel, a progress bar and the status text beside them (errors included)."""

from __future__ import annotations

from PySide6.QtWidgets import QHBoxLayout, QLabel, QProgressBar, QPushButton, QWidget

from widgets.theme import colours

PROGRESS_STEPS = 1000


class RunBar(QWidget):
    """``busy(True)`` while a job runs; ``status(text, error=)`` for the outcome."""

    def __init__(self, run_text: str = "Run", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.run_button = QPushButton(run_text)
        self.run_button.setDefault(True)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setEnabled(False)
        self.progress = QProgressBar()
        self.progress.setRange(0, PROGRESS_STEPS)
        self.progress.setValue(0)
        self.progress.setMaximumWidth(220)
        self.progress.setTextVisible(True)
        self.status_label = QLabel()
        self.status_label.setWordWrap(True)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.run_button)
        layout.addWidget(self.cancel_button)
        layout.addWidget(self.progress)
        layout.addWidget(self.status_label, 1)

    def busy(self, on: bool) -> None:
        self.run_button.setEnabled(not on)
        self.cancel_button.setEnabled(on)
        if on:
            self.progress.setValue(0)
            self.progress.setFormat("%p%")

    def set_progress(self, fraction: float, text: str = "") -> None:
        self.progress.setValue(int(round(max(0.0, min(1.0, fraction)) * PROGRESS_STEPS)))
        if text:
            self.status_label.setStyleSheet("")
            self.status_label.setText(text)

    def status(self, text: str, *, error: bool = False, tooltip: str = "") -> None:
        self.status_label.setStyleSheet(f"color: {colours().down};" if error else "")
        self.status_label.setText(text)
        self.status_label.setToolTip(tooltip)

    @property
    def text(self) -> str:
        return self.status_label.text()
