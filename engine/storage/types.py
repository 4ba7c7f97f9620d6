"""Column types that keep money exact and JSON readable on every database.

SQLite has no decimal type (``NUMERIC`` affinity goes through a float), so a
``Decimal`` is stored as its exact text, ``str(value)``, which ``Decimal()``
reads back digit for digit (``Decimal("0.10")`` stays ``0.10``). The same text
column is used on PostgreSQL so both behave alike. Text decimals do not sort
or compare numerically in SQL: filter and aggregate money in Python.
"""

from __future__ import annotations

import json
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any

from sqlalchemy.engine import Dialect
from sqlalchemy.types import Text, TypeDecorator


class DecimalText(TypeDecorator[Decimal]):
    """A ``Decimal`` stored as exact text. Floats are refused: they are not exact."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> str | None:
        if value is None:
            return None
        if isinstance(value, bool) or isinstance(value, float):
            raise TypeError(f"DecimalText takes Decimal, int or str, not {type(value).__name__}")
        number = value if isinstance(value, Decimal) else Decimal(str(value).strip())
        if not number.is_finite():
            raise ValueError(f"DecimalText refuses the non-finite value {value!r}")
        return str(number)

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        return None if value is None else Decimal(value)


def _json_default(value: Any) -> Any:
    # Decimals keep their exact digits as strings; the reader knows which keys are money.
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def dumps(value: Any) -> str:
    """Compact, key-sorted JSON (Decimal -> string, Enum -> value, dates -> ISO)."""
    return json.dumps(value, default=_json_default, sort_keys=True, separators=(",", ":"),
                      ensure_ascii=False, allow_nan=False)


class JSONText(TypeDecorator[Any]):
    """A JSON document in a TEXT column (portable; readable with any SQLite tool)."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> str | None:
        return None if value is None else dumps(value)

    def process_result_value(self, value: Any, dialect: Dialect) -> Any:
        return None if value is None else json.loads(value)
