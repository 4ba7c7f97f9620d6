"""Dark and light themes: a Fusion palette plus a few colours panels share."""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QApplication


@dataclass(frozen=True, slots=True)
class Colours:
    background: str
    foreground: str
    grid: str
    up: str
    down: str
    bid: str
    ask: str
    accent: str


THEMES = {
    "dark": Colours("#121417", "#d7dae0", "#2a2e35", "#26a69a", "#ef5350", "#1b5e20", "#7f1d1d",
                    "#42a5f5"),
    "light": Colours("#ffffff", "#1f2328", "#e1e4e8", "#089981", "#f23645", "#c8e6c9", "#ffcdd2",
                     "#1565c0"),
}
_current = "dark"


def colours() -> Colours:
    return THEMES[_current]


def current_theme() -> str:
    return _current


def apply_theme(app: QApplication, name: str) -> None:
    """Switch the whole application to ``name`` ("dark" or "light")."""
    global _current
    if name not in THEMES:
        raise ValueError(f"theme must be one of {sorted(THEMES)}, got {name!r}")
    _current = name
    app.setStyle("Fusion")
    c = THEMES[name]
    pal = QPalette()
    bg, fg = QColor(c.background), QColor(c.foreground)
    base = bg.lighter(115) if name == "dark" else QColor("#f6f8fa")
    pal.setColor(QPalette.ColorRole.Window, bg)
    pal.setColor(QPalette.ColorRole.WindowText, fg)
    pal.setColor(QPalette.ColorRole.Base, base)
    pal.setColor(QPalette.ColorRole.AlternateBase, bg)
    pal.setColor(QPalette.ColorRole.Text, fg)
    pal.setColor(QPalette.ColorRole.Button, base)
    pal.setColor(QPalette.ColorRole.ButtonText, fg)
    pal.setColor(QPalette.ColorRole.ToolTipBase, base)
    pal.setColor(QPalette.ColorRole.ToolTipText, fg)
    pal.setColor(QPalette.ColorRole.Highlight, QColor(c.accent))
    pal.setColor(QPalette.ColorRole.HighlightedText, QColor("#ffffff"))
    pal.setColor(QPalette.ColorRole.PlaceholderText, fg.darker(150) if name == "dark" else fg.lighter(200))
    app.setPalette(pal)
