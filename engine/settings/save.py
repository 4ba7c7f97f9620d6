"""Writing the user's settings file: only values that differ from the defaults, never secrets.

The GUI's settings dialog does::

    new = settings.with_overrides({"risk.max_position_pct": 5})   # validated
    save_user_settings({"risk.max_position_pct": 5})              # merged into the user file

Values from the environment are never written (they are the environment's).
The file is replaced atomically; comments in it are not kept.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from engine.paths import user_config_file
from engine.settings.loader import _Builder, default_settings, validate_file
from engine.settings.model import Settings, SettingsError
from engine.settings.toml_io import dump_tables

HEADER = ("trading-terminal settings: only what differs from the defaults.\n"
          "Every key, its range and its meaning: config/default.toml in the application.\n"
          "Secrets do not belong here: use the OS keyring or TT_SECRET_<BROKER>_<NAME>.")


def save_user_settings(changes: Settings | Mapping[str, Any],
                       path: str | os.PathLike[str] | None = None) -> Path:
    """Write settings to the user file (default: ``settings.toml`` in the config folder).

    ``changes`` as a mapping (dotted paths or nested tables) is merged into what the
    file already holds; a ``Settings`` replaces the file with its values from files and
    overrides. Either way the values are validated first (``SettingsError`` lists every
    problem, secrets included, and nothing is written), and only those that differ from
    the defaults are kept. Returns the path written.
    """
    target = Path(path).expanduser() if path is not None else user_config_file()
    defaults = default_settings()
    if isinstance(changes, Settings):
        merged = {p: v for p, v in changes.items()
                  if changes.source_of(p).kind in ("file", "override")}
        result = defaults.with_overrides(merged)
    else:
        base = defaults
        if target.is_file():
            current = validate_file(target)
            base = defaults.with_overrides({p: v for p, v in current.items()
                                            if current.source_of(p).kind == "file"})
        result = base.with_overrides(changes)
    _write(target, _tables(result, defaults), defaults)
    return target


def _tables(result: Settings, defaults: Settings) -> dict[str, dict[str, Any]]:
    tables: dict[str, dict[str, Any]] = {}
    for path, value in result.items():
        if value != defaults.get(path):
            key = result.schema[path]
            tables.setdefault(key.section, {})[key.name] = value
    return tables


def _write(target: Path, tables: dict[str, dict[str, Any]], defaults: Settings) -> None:
    text = dump_tables(tables, HEADER)
    # What we write must read back as exactly these values: check before replacing.
    builder = _Builder(defaults.schema)
    builder.file(str(target), text, "file")
    if builder.problems:
        raise SettingsError(builder.problems)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".settings-", suffix=".toml", dir=target.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as f:
            f.write(text)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
