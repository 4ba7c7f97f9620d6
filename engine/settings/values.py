"""One value against its ``Key``: TOML values and environment strings to the declared type.

``coerce`` takes a value as TOML (or Python) gives it; ``parse_text`` takes the text of
an environment variable (or a form field) and parses it as the key's type first.
Both raise ``ValueError`` whose message is the rule broken ("must be between 0 and 100").
"""

from __future__ import annotations

import tomllib
from typing import Any

from engine.settings.schema import Key, is_finite

_BOOL_WORDS = {"true": True, "yes": True, "on": True, "1": True,
               "false": False, "no": False, "off": False, "0": False}


def coerce(key: Key, value: Any) -> Any:
    """``value`` as ``key``'s type, checked against its range, choices and rule."""
    out = _typed(key, value)
    if key.choices is not None and out not in key.choices:
        raise ValueError(f"must be {key.allowed()}")
    if key.kind in (int, float):
        if not is_finite(out):
            raise ValueError(f"must be {key.allowed()}, not {out}")
        if (key.low is not None and out < key.low) or (key.high is not None and out > key.high):
            raise ValueError(f"must be {key.allowed()}")
    if key.check is not None:
        problem = key.check(out)
        if problem:
            raise ValueError(problem)
    return out


def _typed(key: Key, value: Any) -> Any:
    kind = key.kind
    if kind is bool:
        if isinstance(value, bool):
            return value
        raise ValueError("must be true or false")
    if kind is int:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValueError(f"must be {key.allowed()}")
        if isinstance(value, float) and not value.is_integer():
            raise ValueError(f"must be {key.allowed()}")
        return int(value)
    if kind is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValueError(f"must be {key.allowed()}")
        return float(value)
    if kind is str:
        if not isinstance(value, str):
            raise ValueError(f"must be {key.allowed()}")
        return value
    if kind is tuple:
        if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
            raise ValueError("must be a list of strings, e.g. [\"AAPL\", \"005930\"]")
        return tuple(value)
    # object: a mix of numbers and words (replay.speed); the choices decide.
    if isinstance(value, bool):
        raise ValueError(f"must be {key.allowed()}")
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def parse_text(key: Key, text: str) -> Any:
    """Parse the text of an environment variable as ``key``'s type, then ``coerce`` it."""
    raw = text.strip()
    kind = key.kind
    if kind is bool:
        word = raw.lower()
        if word not in _BOOL_WORDS:
            raise ValueError("must be true or false")
        value: Any = _BOOL_WORDS[word]
    elif kind in (int, float):
        value = _number(raw, key)
    elif kind is tuple:
        value = _list(raw)
    elif kind is object:
        by_text = {str(c).lower(): c for c in key.choices or ()}
        if raw.lower() not in by_text:
            raise ValueError(f"must be {key.allowed()}")
        value = by_text[raw.lower()]
    else:
        value = text
    return coerce(key, value)


def _number(raw: str, key: Key) -> int | float:
    try:
        number = float(raw.replace("_", ""))
    except ValueError:
        raise ValueError(f"must be {key.allowed()}") from None
    if key.kind is int:
        if not number.is_integer():
            raise ValueError(f"must be {key.allowed()}")
        return int(number)
    return number


def _list(raw: str) -> tuple[str, ...]:
    """``A,B,C`` or a TOML array ``["A", "B"]``."""
    if raw.startswith("["):
        try:
            value = tomllib.loads(f"v = {raw}")["v"]
        except tomllib.TOMLDecodeError:
            raise ValueError('must be a list: A,B,C or ["A", "B"]') from None
        if not all(isinstance(v, str) for v in value):
            raise ValueError("must be a list of strings")
        return tuple(value)
    return tuple(part.strip() for part in raw.split(",") if part.strip())


def show(value: Any) -> str:
    """A value as it would be written in TOML (how errors quote the value given)."""
    from engine.settings.toml_io import toml_value

    try:
        return toml_value(value)
    except TypeError:
        return repr(value)
