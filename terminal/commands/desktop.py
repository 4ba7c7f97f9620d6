"""``trading-terminal desktop install|uninstall``: a launcher in the Linux desktop menu.

Writes a freedesktop ``.desktop`` entry (and its icon) into the user's data
folder, pointing at the ``trading-terminal-gui`` script of this installation,
so the terminal starts with a double-click from the applications menu.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from importlib import resources
from pathlib import Path

from engine.errors import UserError

DESKTOP_ID = "trading-terminal.desktop"


def _xdg_data_home() -> Path:
    return Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")


def _launcher() -> str:
    script = Path(sys.executable).with_name("trading-terminal-gui")
    return str(script) if script.exists() else f"{sys.executable} -m terminal"


def desktop_entry(exec_line: str, icon: str) -> str:
    return "\n".join([
        "[Desktop Entry]",
        "Type=Application",
        "Name=Trading Terminal",
        "GenericName=Trading terminal",
        "Comment=Charts, order book, orders, risk and backtests (paper trading by default)",
        f"Exec={exec_line}",
        f"Icon={icon}",
        "Terminal=false",
        "Categories=Office;Finance;",
        "StartupWMClass=Trading Terminal",
        "",
    ])


def install(data_home: Path | None = None) -> Path:
    if not sys.platform.startswith("linux"):
        raise UserError("desktop install is for Linux desktops; on Windows use the "
                        "trading-terminal-gui launcher or the PyInstaller build (README)")
    home = data_home or _xdg_data_home()
    icon_dir = home / "icons" / "hicolor" / "scalable" / "apps"
    app_dir = home / "applications"
    icon_dir.mkdir(parents=True, exist_ok=True)
    app_dir.mkdir(parents=True, exist_ok=True)
    icon = icon_dir / "trading-terminal.svg"
    with resources.as_file(resources.files("resources") / "icons" / "trading-terminal.svg") as src:
        shutil.copyfile(src, icon)
    entry = app_dir / DESKTOP_ID
    entry.write_text(desktop_entry(_launcher(), str(icon)), encoding="utf-8")
    entry.chmod(0o755)
    return entry


def uninstall(data_home: Path | None = None) -> list[Path]:
    home = data_home or _xdg_data_home()
    removed = []
    for path in (home / "applications" / DESKTOP_ID,
                 home / "icons" / "hicolor" / "scalable" / "apps" / "trading-terminal.svg"):
        if path.exists():
            path.unlink()
            removed.append(path)
    return removed


def _run(args: argparse.Namespace) -> int:
    if args.action == "install":
        print(f"installed {install()}")
    else:
        removed = uninstall()
        print("removed " + ", ".join(map(str, removed)) if removed else "nothing to remove")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("desktop", help="add or remove the Linux desktop menu launcher")
    parser.add_argument("action", choices=["install", "uninstall"])
    parser.set_defaults(func=_run)
