"""Building ``Settings`` from layers: defaults < user file < environment (< overrides).

* ``config/default.toml`` ships with the application (every key, documented);
* the user file, ``settings.toml`` in the platform's config folder (or the file
  given with ``--config``), overrides it;
* environment variables ``TT_<SECTION>__<KEY>`` override both
  (``TT_RISK__MAX_POSITION_PCT=5``, ``TT_BROKERS__BINANCE__LIVE=true``).

Every value is checked on load. Problems are collected over all layers and raised
together as one ``SettingsError`` (a ``ConfigError``), one line each, naming where
(``file:line`` or the variable), the key, the value given and the rule.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Mapping
from importlib import resources
from pathlib import Path
from typing import Any

from engine.paths import user_config_file
from engine.settings.model import DEFAULT, Problem, Settings, SettingsError, Source, suggest
from engine.settings.schema import Key, Schema, build_schema, is_secret_name
from engine.settings.secrets import secret_env_name
from engine.settings.toml_io import LineIndex, TomlSyntaxError, parse_toml, read_toml
from engine.settings.values import coerce, parse_text, show

ENV_PREFIX = "TT_"
SECRET_ENV_PREFIX = "TT_SECRET_"

Parse = Callable[[Key, Any], Any]


def defaults_text() -> tuple[str, str]:
    """``(name, text)`` of the shipped ``config/default.toml``."""
    ref = resources.files("config").joinpath("default.toml")
    return str(ref), ref.read_text(encoding="utf-8")


def env_name(path: str) -> str:
    """``risk.max_position_pct`` -> ``TT_RISK__MAX_POSITION_PCT``."""
    return ENV_PREFIX + path.upper().replace(".", "__")


def secret_advice(path: str) -> str:
    parts = path.split(".")
    owner = parts[1] if parts[0] == "brokers" and len(parts) > 2 else (
        parts[0] if len(parts) > 1 else "app")
    name = parts[-1]
    return (f"secrets are never read from settings; store it in the OS keyring "
            f"(trading-terminal config secret set {owner} {name}) or in the environment "
            f"variable {secret_env_name(owner, name)}")


class _Builder:
    """Values and their sources so far, plus every problem met."""

    def __init__(self, schema: Schema, values: Mapping[str, Any] | None = None,
                 sources: Mapping[str, Source] | None = None) -> None:
        self.schema = schema
        self.values: dict[str, Any] = dict(values) if values is not None else {
            k.path: k.default for k in schema.keys.values()}
        self.sources: dict[str, Source] = dict(sources) if sources is not None else {
            p: DEFAULT for p in schema.keys}
        self.problems: list[Problem] = []

    # ---- one value -------------------------------------------------------------------------
    def put(self, path: str, value: Any, where: str, source: Source, parse: Parse,
            env: bool = False) -> None:
        shown = "***" if is_secret_name(path) else show(value)
        if is_secret_name(path):
            self.problems.append(Problem(where, path, shown, secret_advice(path)))
            return
        key = self.schema.keys.get(path)
        if key is None:
            if path in self.schema.tables and isinstance(value, Mapping) and not value:
                return  # an empty known table: nothing to set
            self.problems.append(Problem(where, path, shown, self.unknown(path, value, env)))
            return
        try:
            self.values[path] = parse(key, value)
        except ValueError as exc:
            self.problems.append(Problem(where, path, shown, str(exc)))
            return
        self.sources[path] = source

    def unknown(self, path: str, value: Any, env: bool) -> str:
        fmt = env_name if env else (lambda p: p)
        if path in self.schema.tables:
            return f"[{path}] is a table of settings, not a value"
        section, _, name = path.rpartition(".")
        # The same name in another table first (a key in the wrong table), then a near
        # miss in this table, then (only for an unknown table) a near miss anywhere.
        same_name = [p for p in self.schema.keys if p.rpartition(".")[2] == name]
        hint = same_name[0] if same_name else None
        if hint is None and section in self.schema.sections:
            near = suggest(name, [k.name for k in self.schema.sections[section]])
            hint = f"{section}.{near}" if near else None
        elif hint is None:
            hint = suggest(path, list(self.schema.keys))
        if isinstance(value, Mapping) and hint is None:
            table = suggest(path, sorted(self.schema.tables))
            return "unknown table" + (f"; did you mean [{table}]?" if table else "")
        if section and section not in self.schema.tables:
            table = suggest(section, sorted(self.schema.tables))
            return f"unknown setting: there is no [{section}] table" + (
                f"; did you mean [{table}]?" if table else "")
        return "unknown setting" + (f"; did you mean {fmt(hint)}?" if hint else "")

    # ---- layers -----------------------------------------------------------------------------
    def leaves(self, data: Mapping[str, Any], prefix: str = "") -> Iterator[tuple[str, Any]]:
        """``(dotted path, value)`` of every value; tables that are not keys are walked."""
        for name, value in data.items():
            path = f"{prefix}.{name}" if prefix else str(name)
            if isinstance(value, Mapping) and value and path not in self.schema.keys:
                yield from self.leaves(value, path)
            else:
                yield path, value

    def file(self, name: str, text: str | None, source_kind: str) -> None:
        """One TOML file; ``text`` None reads ``name`` from disk."""
        try:
            if text is None:
                data, text = read_toml(Path(name))
            else:
                data = parse_toml(text)
        except TomlSyntaxError as exc:
            self.problems.append(Problem(f"{name}:{exc.line}", "", "", exc.message))
            return
        except UnicodeDecodeError:
            self.problems.append(Problem(name, "", "", "not UTF-8 text"))
            return
        except OSError as exc:
            self.problems.append(Problem(name, "", "", f"cannot read the file: {exc.strerror}"))
            return
        index = LineIndex(text)
        for path, value in self.leaves(data):
            line = index.line_of(path)
            where = f"{name}:{line}" if line else name
            source = DEFAULT if source_kind == "default" else Source(source_kind, where)
            self.put(path, value, where, source, coerce)

    def env(self, environ: Mapping[str, str]) -> None:
        for var in sorted(environ):
            if not var.startswith(ENV_PREFIX) or var.startswith(SECRET_ENV_PREFIX):
                continue
            path = ".".join(part.lower() for part in var[len(ENV_PREFIX):].split("__"))
            self.put(path, environ[var], var, Source("env", var), parse_text, env=True)

    def overrides(self, changes: Mapping[str, Any]) -> None:
        source = Source("override")
        for path, value in self.leaves(changes):
            self.put(path, value, "override", source, _parse_override)

    # ---- rules across keys, then the result --------------------------------------------------
    def cross_checks(self) -> None:
        if self.values.get("predictor.kind") == "http" and not self.values.get("predictor.url"):
            source = self.sources["predictor.kind"]
            self.problems.append(Problem(source.where or "default", "predictor.url", '""',
                                         'must be set when predictor.kind = "http"'))

    def build(self) -> Settings:
        if not self.problems:
            self.cross_checks()
        if self.problems:
            raise SettingsError(self.problems)
        return Settings(self.values, self.sources, self.schema)


def _parse_override(key: Key, value: Any) -> Any:
    """Form fields give text: parse it as the key's type; typed values are checked as-is."""
    if isinstance(value, str) and key.kind not in (str, object):
        return parse_text(key, value)
    return coerce(key, value)


def _defaults(builder: _Builder) -> None:
    name, text = defaults_text()
    builder.file(name, text, "default")


def load_settings(user_file: str | os.PathLike[str] | None = None,
                  env: Mapping[str, str] | None = None) -> Settings:
    """The effective settings: defaults, then the user file, then ``TT_`` variables.

    ``user_file`` replaces the user's own file (``--config FILE``); it must exist.
    Without it, ``settings.toml`` in the platform config folder is read if present.
    ``env`` defaults to ``os.environ``. Raises ``SettingsError`` listing every problem.
    """
    builder = _Builder(build_schema())
    _defaults(builder)
    if user_file is not None:
        path = Path(user_file).expanduser()
        if path.is_file():
            builder.file(str(path), None, "file")
        else:
            builder.problems.append(Problem(str(path), "", "", "settings file not found"))
    else:
        path = user_config_file()
        if path.is_file():
            builder.file(str(path), None, "file")
    builder.env(os.environ if env is None else env)
    return builder.build()


def validate_file(path: str | os.PathLike[str]) -> Settings:
    """Check one settings file on its own (over the defaults, ignoring the environment)."""
    return load_settings(user_file=path, env={})


def default_settings() -> Settings:
    """The shipped defaults alone."""
    builder = _Builder(build_schema())
    _defaults(builder)
    return builder.build()


def apply_overrides(settings: Settings, changes: Mapping[str, Any]) -> Settings:
    builder = _Builder(settings.schema, dict(settings.items()),
                       {p: settings.source_of(p) for p, _ in settings.items()})
    builder.overrides(changes)
    return builder.build()
