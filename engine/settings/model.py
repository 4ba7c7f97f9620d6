"""The loaded settings: typed, frozen, read by attribute or by dotted path.

::

    settings.risk.max_position_pct           # 10.0
    settings.brokers.binance.live            # False
    settings.get("risk.max_position_pct")    # 10.0
    settings.source_of("risk.max_position_pct")   # Source(kind="file", where="~/.../settings.toml:4")

Every value was checked against the schema when the settings were built, and
lists are tuples, so a ``Settings`` can be shared freely. Changes make a new one
(``with_overrides``), validated the same way.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from engine.errors import ConfigError
from engine.settings.schema import Schema


@dataclass(frozen=True, slots=True)
class Source:
    """Where a value came from: ``default``, ``file`` (path:line), ``env`` (variable), ``override``."""

    kind: str
    where: str = ""

    def __str__(self) -> str:
        return f"{self.kind} {self.where}" if self.where else self.kind


DEFAULT = Source("default")


@dataclass(frozen=True, slots=True)
class Problem:
    """One invalid setting: where it was given, the key, the value given, the rule broken."""

    where: str  # "path:line", "TT_RISK__MAX_POSITION_PCT" or "override"
    key: str
    value: str  # as written in TOML; "***" for anything that may be a secret
    message: str

    def __str__(self) -> str:
        if not self.key:
            return f"{self.where}: {self.message}"
        return f"{self.where}: {self.key} = {self.value}: {self.message}"


class SettingsError(ConfigError):
    """Every problem found in the settings, one per line (``.problems`` has them)."""

    def __init__(self, problems: list[Problem] | tuple[Problem, ...]) -> None:
        self.problems = tuple(problems)
        n = len(self.problems)
        head = "invalid setting" if n == 1 else f"{n} invalid settings"
        super().__init__(head + ":\n" + "\n".join(f"  {p}" for p in self.problems))


def suggest(wanted: str, candidates: list[str]) -> str | None:
    found = difflib.get_close_matches(wanted, candidates, n=1, cutoff=0.6)
    return found[0] if found else None


class Section:
    """A read-only view of one table (``settings.risk``, ``settings.brokers``)."""

    __slots__ = ("_settings", "_prefix")

    def __init__(self, settings: Settings, prefix: str) -> None:
        object.__setattr__(self, "_settings", settings)
        object.__setattr__(self, "_prefix", prefix)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        return self._settings._lookup(f"{self._prefix}.{name}")

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"settings are read-only; use with_overrides({{'{self._prefix}."
                             f"{name}': ...}})")

    def __getitem__(self, name: str) -> Any:
        return self._settings.get(f"{self._prefix}.{name}")

    def __iter__(self) -> Iterator[str]:
        return iter(self.as_dict())

    def __dir__(self) -> list[str]:
        return sorted(self.as_dict())

    def as_dict(self) -> dict[str, Any]:
        """This table's keys and values (sub-tables as nested dicts)."""
        out: dict[str, Any] = {}
        start = self._prefix + "."
        for path, value in self._settings._values.items():
            if path.startswith(start):
                parts = path[len(start):].split(".")
                node = out
                for part in parts[:-1]:
                    node = node.setdefault(part, {})
                node[parts[-1]] = value
        return out

    def __repr__(self) -> str:
        return f"<settings [{self._prefix}]: {', '.join(self.as_dict())}>"


class Settings:
    """All settings, validated. Build with ``engine.settings.load_settings``."""

    __slots__ = ("_values", "_sources", "schema")

    def __init__(self, values: Mapping[str, Any], sources: Mapping[str, Source],
                 schema: Schema) -> None:
        object.__setattr__(self, "_values", dict(values))
        object.__setattr__(self, "_sources", dict(sources))
        object.__setattr__(self, "schema", schema)

    # ---- reading -------------------------------------------------------------------------
    def _lookup(self, path: str) -> Any:
        if path in self._values:
            return self._values[path]
        if path in self.schema.tables:
            return Section(self, path)
        hint = suggest(path, list(self._values) + sorted(self.schema.tables))
        raise AttributeError(f"no setting {path!r}" + (f"; did you mean {hint!r}?" if hint else ""))

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        return self._lookup(name)

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("settings are read-only; use with_overrides({...})")

    def get(self, path: str) -> Any:
        """A value by dotted path (``"risk.max_position_pct"``); KeyError names near misses."""
        try:
            value = self._lookup(path)
        except AttributeError as exc:
            raise KeyError(str(exc)) from None
        return value.as_dict() if isinstance(value, Section) else value

    def source_of(self, path: str) -> Source:
        """Where the value of ``path`` came from (default, file with line, env, override)."""
        if path not in self._sources:
            raise KeyError(f"no setting {path!r}")
        return self._sources[path]

    def items(self) -> Iterator[tuple[str, Any]]:
        """Every ``(path, value)``, in schema order."""
        return iter(self._values.items())

    def __len__(self) -> int:
        return len(self._values)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Settings) and self._values == other._values

    __hash__ = None  # type: ignore[assignment]

    def changed(self) -> dict[str, Any]:
        """Values not from the defaults (what the user file and environment set)."""
        return {p: v for p, v in self._values.items() if self._sources[p].kind != "default"}

    def __repr__(self) -> str:
        # Settings never hold secrets (they are refused on load), so values can be shown.
        changed = ", ".join(f"{p}={v!r}" for p, v in self.changed().items())
        return f"Settings({len(self)} keys; changed: {changed or 'none'})"

    __str__ = __repr__

    # ---- changing ------------------------------------------------------------------------
    def with_overrides(self, changes: Mapping[str, Any]) -> Settings:
        """A new validated ``Settings`` with ``changes`` applied (source ``override``).

        Keys are dotted paths (``{"risk.max_position_pct": 5}``) or nested tables
        (``{"risk": {"max_position_pct": 5}}``). Values may be typed or text (parsed as
        the key's type, as from a form field). Every problem is raised together as a
        ``SettingsError``.
        """
        from engine.settings.loader import apply_overrides

        return apply_overrides(self, changes)
