"""Log panel: every log record of the app, filterable by level, capped in rows.

A ``logging.Handler`` hands records to the panel through a Qt signal, so
records from any thread arrive safely on the GUI thread. Secrets never reach
here: the settings' redacting filter sits on the root logger.
"""

from __future__ import annotations

import logging
from collections import deque
from dataclasses import dataclass

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtGui import QCloseEvent, QColor
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

LEVELS = ["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"]
COLOURS = {"DEBUG": "#9e9e9e", "WARNING": "#f9a825", "ERROR": "#ef5350", "CRITICAL": "#ff1744"}


@dataclass(frozen=True, slots=True)
class LogLine:
    level: int
    text: str


class _Emitter(QObject):
    record = Signal(object)


class QtLogHandler(logging.Handler):
    """Forwards formatted records to ``emitter.record`` (queued across threads)."""

    def __init__(self, level: int = logging.DEBUG) -> None:
        super().__init__(level)
        self.emitter = _Emitter()
        self.setFormatter(logging.Formatter("%(asctime)s %(levelname)-8s %(name)s: %(message)s",
                                            "%H:%M:%S"))

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.emitter.record.emit(LogLine(record.levelno, self.format(record)))
        except Exception:  # logging must never raise into the caller
            self.handleError(record)


class LogPanel(QWidget):
    def __init__(self, ctx: object | None = None, parent: QWidget | None = None,
                 max_lines: int = 5_000, handler: QtLogHandler | None = None) -> None:
        super().__init__(parent)
        self.lines: deque[LogLine] = deque(maxlen=max_lines)
        self.level = QComboBox()
        self.level.addItems(LEVELS)
        self.level.setCurrentText("INFO")
        self.view = QPlainTextEdit()
        self.view.setReadOnly(True)
        self.view.setMaximumBlockCount(max_lines)
        self.view.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        clear = QPushButton("Clear")
        top = QHBoxLayout()
        top.addWidget(QLabel("Level"))
        top.addWidget(self.level)
        top.addStretch(1)
        top.addWidget(clear)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.addLayout(top)
        layout.addWidget(self.view)
        self.handler = handler or QtLogHandler()
        self._owns_handler = handler is None
        self.handler.emitter.record.connect(self.append, Qt.ConnectionType.QueuedConnection)
        if self._owns_handler:
            logging.getLogger().addHandler(self.handler)
        self.level.currentTextChanged.connect(lambda _t: self.redraw())
        clear.clicked.connect(self.clear)

    @property
    def threshold(self) -> int:
        return logging.getLevelName(self.level.currentText())  # a known name: its number

    def append(self, line: LogLine) -> None:
        self.lines.append(line)
        if line.level >= self.threshold:
            self._write(line)

    def _write(self, line: LogLine) -> None:
        colour = COLOURS.get(logging.getLevelName(line.level))
        if colour:
            fmt = self.view.currentCharFormat()
            fmt.setForeground(QColor(colour))
            self.view.setCurrentCharFormat(fmt)
        else:
            fmt = self.view.currentCharFormat()
            fmt.clearForeground()
            self.view.setCurrentCharFormat(fmt)
        self.view.appendPlainText(line.text)

    def redraw(self) -> None:
        self.view.clear()
        for line in self.lines:
            if line.level >= self.threshold:
                self._write(line)

    def visible_text(self) -> str:
        return self.view.toPlainText()

    def clear(self) -> None:
        self.lines.clear()
        self.view.clear()

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802
        if self._owns_handler:
            logging.getLogger().removeHandler(self.handler)
        super().closeEvent(event)
