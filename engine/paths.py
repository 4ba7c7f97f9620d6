"""Where the application keeps the user's files.

Config goes to the platform's config folder and data (the database, logs,
layouts) to its data folder, via platformdirs. ``TRADING_TERMINAL_HOME``
relocates both under one folder: used by the tests, and handy for a portable
install on a USB stick.
"""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

APP_NAME = "trading-terminal"
HOME_ENV = "TRADING_TERMINAL_HOME"
CACHE_ENV = "TRADING_TERMINAL_CACHE"


def _home() -> Path | None:
    value = os.environ.get(HOME_ENV)
    return Path(value).expanduser() if value else None


def config_dir() -> Path:
    home = _home()
    return home / "config" if home else Path(platformdirs.user_config_dir(APP_NAME, appauthor=False))


def data_dir() -> Path:
    home = _home()
    return home / "data" if home else Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))


def cache_dir() -> Path:
    """Rebuildable files (e.g. market calendars), shared by every ``TRADING_TERMINAL_HOME``.

    ``TRADING_TERMINAL_CACHE`` moves it; deleting it only costs the time to rebuild.
    """
    value = os.environ.get(CACHE_ENV)
    if value:
        return Path(value).expanduser()
    return Path(platformdirs.user_cache_dir(APP_NAME, appauthor=False))


def user_config_file() -> Path:
    return config_dir() / "settings.toml"


def default_database_path() -> Path:
    return data_dir() / "terminal.sqlite3"
