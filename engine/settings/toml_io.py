"""Reading settings files with line numbers, and writing small ones.

``tomllib`` gives no line numbers, so ``LineIndex`` scans the text once for table
headers and ``key =`` lines and answers "which line sets ``risk.max_position_pct``".
A key inside an inline table is placed on the line of its nearest enclosing table.

The writer covers what settings hold: tables of booleans, numbers, strings and lists
of strings (no dependency on tomli-w).
"""

from __future__ import annotations

import math
import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

_BARE_OR_QUOTED = r'[A-Za-z0-9_-]+|"(?:[^"\\]|\\.)*"|\'[^\']*\''
_KEY_LINE = re.compile(rf"^\s*((?:{_BARE_OR_QUOTED})(?:\s*\.\s*(?:{_BARE_OR_QUOTED}))*)\s*=")
_HEADER = re.compile(r"^\s*\[\s*([^\[\]]+?)\s*\]\s*(?:#.*)?$")
_ARRAY_HEADER = re.compile(r"^\s*\[\[\s*([^\[\]]+?)\s*\]\]")
_PART = re.compile(_BARE_OR_QUOTED)
_TOML_ERROR_AT = re.compile(r"\(at line (\d+), column (\d+)\)")


def _dotted(text: str) -> str:
    return ".".join(p.strip("\"'") for p in _PART.findall(text))


class LineIndex:
    """Line of each table header and key in a TOML text (1-based)."""

    def __init__(self, text: str) -> None:
        self.lines: dict[str, int] = {}
        table = ""
        in_multiline = False
        for number, line in enumerate(text.splitlines(), start=1):
            # Skip the inside of multi-line strings: their text is not keys.
            if line.count('"""') % 2 == 1 or line.count("'''") % 2 == 1:
                in_multiline = not in_multiline
                if not in_multiline:
                    continue
            elif in_multiline:
                continue
            if m := _ARRAY_HEADER.match(line):
                table = _dotted(m.group(1))
                self.lines.setdefault(table, number)
            elif m := _HEADER.match(line):
                table = _dotted(m.group(1))
                self.lines.setdefault(table, number)
            elif m := _KEY_LINE.match(line):
                key = _dotted(m.group(1))
                self.lines.setdefault(f"{table}.{key}" if table else key, number)

    def line_of(self, path: str) -> int | None:
        """Line setting ``path``, else that of its nearest enclosing table, else None."""
        parts = path.split(".")
        while parts:
            found = self.lines.get(".".join(parts))
            if found is not None:
                return found
            parts.pop()
        return None


class TomlSyntaxError(ValueError):
    """A file that is not TOML; ``line`` is 1-based."""

    def __init__(self, line: int, message: str) -> None:
        super().__init__(f"{line}: {message}")
        self.line = line
        self.message = message


def parse_toml(text: str) -> dict[str, Any]:
    """``tomllib.loads`` whose error carries the line number apart from the message."""
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        m = _TOML_ERROR_AT.search(str(exc))
        line = int(m.group(1)) if m else 1
        raise TomlSyntaxError(line, "invalid TOML: " + _TOML_ERROR_AT.sub("", str(exc)).strip()
                              ) from None


def read_toml(path: Path) -> tuple[dict[str, Any], str]:
    """Parse ``path`` -> ``(data, text)``; raises ``TomlSyntaxError``, ``OSError`` or
    ``UnicodeDecodeError``."""
    text = path.read_text(encoding="utf-8")
    return parse_toml(text), text


# ---- writing ------------------------------------------------------------------------------
_SHORT_ESCAPES = {"\n": "\\n", "\t": "\\t", "\r": "\\r", "\b": "\\b", "\f": "\\f"}


def _string(text: str) -> str:
    out = ['"']
    for ch in text:
        if ch in '"\\':
            out.append("\\" + ch)
        elif ch in _SHORT_ESCAPES:
            out.append(_SHORT_ESCAPES[ch])
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\u{ord(ch):04X}")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def toml_value(value: Any) -> str:
    """One value in TOML syntax (bool, int, float, str, or a list/tuple of those)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")
        return repr(value)  # shortest text that reads back as the same float
    if isinstance(value, str):
        return _string(value)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    raise TypeError(f"cannot write {type(value).__name__} to TOML")


def _bare(name: str) -> str:
    return name if re.fullmatch(r"[A-Za-z0-9_-]+", name) else _string(name)


def dump_tables(tables: Mapping[str, Mapping[str, Any]], header: str = "") -> str:
    """``{"risk": {"max_position_pct": 5}}`` -> TOML text with one ``[table]`` each."""
    lines = [f"# {line}".rstrip() for line in header.splitlines()] if header else []
    for table, values in tables.items():
        if not values:
            continue
        if lines:
            lines.append("")
        lines.append("[" + ".".join(_bare(p) for p in table.split(".")) + "]")
        lines += [f"{_bare(k)} = {toml_value(v)}" for k, v in values.items()]
    return "\n".join(lines) + "\n"
