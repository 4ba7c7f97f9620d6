"""Alembic environment: migrations run on the connection ``engine.storage`` hands over.

``engine.storage.migrate.upgrade`` opens a write transaction and puts its
connection in ``config.attributes["connection"]``; every revision runs inside
that one transaction, so an upgrade is all or nothing (DDL included, on SQLite
too). Run through the ``alembic`` command line with ``sqlalchemy.url`` set, it
opens its own connection instead.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection, create_engine

from engine.storage.schema import metadata

config = context.config


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        # SQLite alters tables by copying them; batch mode does that for autogenerate.
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
        transactional_ddl=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    url = config.get_main_option("sqlalchemy.url")
    if not url:
        raise RuntimeError("run migrations through engine.storage.Database, or set sqlalchemy.url")
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            _run(conn)
    finally:
        engine.dispose()


if context.is_offline_mode():
    raise RuntimeError("offline (SQL script) migrations are not supported")
run_migrations_online()
