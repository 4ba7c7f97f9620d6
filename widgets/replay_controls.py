"""Toolbar controls of the replay feed: pause/resume, speed, and how far it has played.

The replay is the paper market; pausing it freezes the simulated clock (orders
already at the venue wait with it), and "max" plays as fast as the machine can.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QPushButton, QWidget

SPEEDS = ("1x", "10x", "60x", "max")


class ReplayControls(QWidget):
    def __init__(self, feed: Any, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.feed = feed
        self.pause_button = QPushButton("Pause")
        self.pause_button.setToolTip("Pause or resume the replayed market (paper mode)")
        self.speed = QComboBox()
        self.speed.addItems(SPEEDS)
        self.speed.setToolTip("Simulated seconds per wall-clock second")
        self.speed.setCurrentText(_speed_text(feed.speed))
        self.where = QLabel("")
        layout = QHBoxLayout(self)
        layout.setContentsMargins(4, 0, 4, 0)
        layout.addWidget(QLabel("Replay"))
        layout.addWidget(self.pause_button)
        layout.addWidget(self.speed)
        layout.addWidget(self.where)
        self.pause_button.clicked.connect(self.toggle)
        self.speed.currentTextChanged.connect(self.feed.set_speed)
        self._timer = QTimer(self)
        self._timer.timeout.connect(self.refresh)
        self._timer.start(500)
        self.refresh()

    def toggle(self) -> None:
        if self.feed.paused:
            self.feed.resume()
        else:
            self.feed.pause()
        self.refresh()

    def refresh(self) -> None:
        p = self.feed.progress
        self.pause_button.setText("Resume" if p.paused else "Pause")
        if p.finished:
            state = "end of data"
        elif p.ts_ns:
            state = pd.Timestamp(p.ts_ns, tz="UTC").strftime("%Y-%m-%d %H:%M UTC")
        else:
            state = "starting"
        self.where.setText(f"{state}  {p.fraction:.0%}")


def _speed_text(speed: float) -> str:
    if speed == float("inf"):
        return "max"
    text = f"{speed:g}x"
    return text if text in SPEEDS else "1x"
