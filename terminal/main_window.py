"""Main window (placeholder layout until the terminal panels land)."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDockWidget, QLabel, QMainWindow


class MainWindow(QMainWindow):
    def __init__(self) -> None:
        super().__init__()
        self.setWindowTitle("Trading Terminal - PAPER")
        self.resize(1400, 900)
        chart = QLabel("Chart")
        chart.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.setCentralWidget(chart)
        for title, area in (
            ("Order book", Qt.DockWidgetArea.RightDockWidgetArea),
            ("Order ticket", Qt.DockWidgetArea.RightDockWidgetArea),
            ("Orders / Fills / Positions", Qt.DockWidgetArea.BottomDockWidgetArea),
        ):
            dock = QDockWidget(title, self)
            dock.setObjectName(title)
            label = QLabel(title)
            label.setAlignment(Qt.AlignmentFlag.AlignCenter)
            dock.setWidget(label)
            self.addDockWidget(area, dock)
        self.statusBar().showMessage("PAPER - offline replay")
