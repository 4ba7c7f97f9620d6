"""Opening a database: SQLite by default, any SQLAlchemy URL otherwise.

SQLite runs in WAL mode, so readers never wait for a writer and a writer never
waits for readers; ``synchronous=NORMAL`` is durable across application crashes
(a power cut can lose the last transactions, never corrupt the file). Foreign
keys are enforced and a busy connection waits up to 30 s for the lock.

Transactions are real on SQLite too: the driver's own implicit transaction
handling (which commits DDL on its own) is switched off and SQLAlchemy's
``BEGIN`` is emitted explicitly, so a migration or an import either completes
or leaves nothing behind.

Example::

    db = Database()                          # <data dir>/terminal.sqlite3, migrated
    with db.begin() as conn:                 # one write transaction
        conn.execute(schema.engine_state.insert(), {...})
    with db.connect() as conn:               # reads see the last commit
        rows = conn.execute(select(schema.bars)).all()
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.pool import StaticPool

from engine.errors import UserError
from engine.paths import default_database_path

log = logging.getLogger(__name__)
# Alembic logs each step (and its plugins, on import) at INFO on every open; our
# one-line upgrade summary is enough. Set before alembic is imported (lazily).
if logging.getLogger("alembic").level == logging.NOTSET:
    logging.getLogger("alembic").setLevel(logging.WARNING)

BUSY_TIMEOUT_MS = 30_000

_SQLITE_PRAGMAS = (
    "PRAGMA journal_mode=WAL",
    "PRAGMA synchronous=NORMAL",
    "PRAGMA foreign_keys=ON",
    f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}",
    # Temporary b-trees of big sorts/imports stay in memory; 64 MB page cache.
    "PRAGMA temp_store=MEMORY",
    "PRAGMA cache_size=-65536",
)


class DatabaseError(UserError):
    """The database cannot be opened or used as asked (names the database and why)."""


def resolve_url(url: str | Path | None) -> URL:
    """A SQLAlchemy URL from ``url``: None = the default SQLite file, a path = a SQLite file."""
    if url is None:
        return make_url(f"sqlite:///{default_database_path()}")
    text = str(url)
    if "://" not in text:
        return make_url(f"sqlite:///{Path(text).expanduser().absolute()}")
    try:
        return make_url(text)
    except ArgumentError as exc:
        raise DatabaseError(f"database URL {text!r} is not valid: {exc}") from None


def sqlite_file(url: URL) -> Path | None:
    """The file of a SQLite URL (None for in-memory SQLite and other databases)."""
    if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:"):
        return None
    if str(url.database).startswith("file:"):
        return None
    return Path(str(url.database))


class Database:
    """A migrated database and the SQLAlchemy engine that talks to it.

    ``Database()`` opens (creating it and its folders if needed) the SQLite file
    at ``engine.paths.default_database_path()``; ``Database("postgresql+psycopg://
    user@host/db")`` any other database SQLAlchemy supports; a plain path means
    a SQLite file. The schema is upgraded to the newest revision on open unless
    ``migrate=False``.
    """

    def __init__(self, url: str | Path | None = None, *, migrate: bool = True) -> None:
        self.url: URL = resolve_url(url)
        self.path: Path | None = sqlite_file(self.url)
        self.is_sqlite = self.url.get_backend_name() == "sqlite"
        self.engine: Engine = self._create_engine()
        if migrate:
            try:
                self.migrate()
            except BaseException:
                self.engine.dispose()
                raise

    # ---- engine ---------------------------------------------------------------
    def _create_engine(self) -> Engine:
        kwargs: dict[str, Any] = {}
        if self.is_sqlite:
            if self.path is not None:
                self.path.parent.mkdir(parents=True, exist_ok=True)
            # Pooled connections move between threads, one thread at a time.
            kwargs["connect_args"] = {"check_same_thread": False}
            if self.path is None:  # in-memory: every connection must be the same one
                kwargs["poolclass"] = StaticPool
        try:
            engine = create_engine(self.url, **kwargs)
        except (ArgumentError, ImportError) as exc:
            raise DatabaseError(f"cannot open database {self}: {exc}") from None
        if self.is_sqlite:
            _install_sqlite_listeners(engine)
        return engine

    def __repr__(self) -> str:
        return f"Database({self})"

    def __str__(self) -> str:
        # Never show a password (logs, error messages).
        return str(self.path) if self.path else self.url.render_as_string(hide_password=True)

    # ---- transactions ---------------------------------------------------------
    @contextmanager
    def begin(self) -> Iterator[Connection]:
        """A write transaction: commits at the end of the block, rolls back on error.

        On SQLite the write lock is taken at ``BEGIN`` (``BEGIN IMMEDIATE``), so two
        writers queue for up to the busy timeout instead of failing half-way.
        """
        with self.engine.connect() as conn:
            if self.is_sqlite:
                conn = conn.execution_options(sqlite_begin="IMMEDIATE")
            with conn.begin():
                yield conn

    def connect(self) -> Connection:
        """A connection for reading (use as a context manager). Sees the last commit."""
        return self.engine.connect()

    # ---- schema -----------------------------------------------------------------
    def migrate(self, revision: str = "head") -> None:
        """Upgrade the schema to ``revision`` (default: the newest) in one transaction."""
        from engine.storage.migrate import upgrade

        upgrade(self, revision)

    def revision(self) -> str | None:
        """The schema revision the database is at (None if it has no schema yet)."""
        from engine.storage.migrate import current_revision

        return current_revision(self)

    def close(self) -> None:
        """Close every pooled connection (the WAL is checkpointed by SQLite)."""
        self.engine.dispose()

    def __enter__(self) -> Database:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _install_sqlite_listeners(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Hand transaction control to SQLAlchemy (BEGIN below): pysqlite would
        # otherwise commit before DDL and start transactions only before DML.
        dbapi_conn.isolation_level = None
        cursor = dbapi_conn.cursor()
        try:
            for pragma in _SQLITE_PRAGMAS:
                cursor.execute(pragma)
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        mode = conn.get_execution_options().get("sqlite_begin", "")
        conn.exec_driver_sql(f"BEGIN {mode}".strip())
