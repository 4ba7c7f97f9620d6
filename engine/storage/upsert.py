"""INSERT ... ON CONFLICT DO UPDATE for SQLite and PostgreSQL, from one call."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Dialect
from sqlalchemy.sql.dml import Insert

from engine.storage.database import DatabaseError


def upsert(table: Table, dialect: Dialect, key: Sequence[str]) -> Insert:
    """An insert into ``table`` that replaces the non-key columns of a row with the same ``key``.

    ``key`` must be the primary key or a unique constraint. A replaced row keeps
    its surrogate primary key (``id``).

    >>> stmt = upsert(schema.engine_state, conn.dialect, ["key"])
    >>> conn.execute(stmt, {"key": "kill_switch", "value": {...}, "updated_ns": now})
    """
    stmt: sqlite.Insert | postgresql.Insert
    if dialect.name == "sqlite":
        stmt = sqlite.insert(table)
    elif dialect.name == "postgresql":
        stmt = postgresql.insert(table)
    else:
        raise DatabaseError(f"upserts need SQLite or PostgreSQL, not {dialect.name}")
    keys = set(key)
    # Primary key columns outside ``key`` (a surrogate id) keep their value.
    updates = {c.name: stmt.excluded[c.name] for c in table.c
               if c.name not in keys and not c.primary_key}
    return stmt.on_conflict_do_update(index_elements=[table.c[k] for k in key], set_=updates)
