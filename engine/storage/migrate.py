"""Schema migrations with Alembic, run from code (no ``alembic.ini`` at runtime).

The migration scripts ship inside the package (``engine/storage/migrations``).
``Database`` calls :func:`upgrade` on open, so a user who installs a newer
version gets the newer schema the first time they start it, in one transaction.

Developers add a revision with::

    python -m engine.storage.migrate revision "add a column to bars"

which writes ``migrations/versions/<id>_<slug>.py`` from the difference between
``engine/storage/schema.py`` and a database at the current head. Review it:
each revision must spell out its own tables and columns, never import schema.py.
"""

from __future__ import annotations

import logging
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import exc as sa_exc

from engine.storage.database import DatabaseError

if TYPE_CHECKING:
    from engine.storage.database import Database

log = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).with_name("migrations")


def alembic_config() -> Config:
    """An Alembic ``Config`` pointing at the packaged migration scripts."""
    if not (MIGRATIONS_DIR / "env.py").is_file():
        raise DatabaseError(f"the schema migrations are missing from this installation "
                            f"({MIGRATIONS_DIR}); reinstall trading-terminal")
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    # Alembic's own logging setup would reconfigure the application's loggers.
    cfg.attributes["configure_logger"] = False
    return cfg


def head_revision() -> str:
    """The newest revision the installed scripts know."""
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None, "no migration scripts"
    return head


def current_revision(db: Database) -> str | None:
    try:
        with db.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()
    except sa_exc.DBAPIError as exc:
        raise _unusable(db, exc) from None


def upgrade(db: Database, revision: str = "head") -> None:
    """Upgrade ``db`` to ``revision`` in one transaction (nothing changes on failure)."""
    cfg = alembic_config()
    scripts = ScriptDirectory.from_config(cfg)
    try:
        with db.begin() as conn:
            current = MigrationContext.configure(conn).get_current_revision()
            if current is not None and _unknown(scripts, current):
                raise DatabaseError(
                    f"database {db} is at schema revision {current!r}, which this version "
                    f"of trading-terminal does not know: a newer version wrote it. Upgrade "
                    f"trading-terminal, or open another database with --db"
                )
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, revision)
            new = MigrationContext.configure(conn).get_current_revision()
    except sa_exc.DBAPIError as exc:
        raise _unusable(db, exc) from None
    if current is None:
        log.info("database %s: created (schema revision %s)", db, new)
    elif new != current:
        log.info("database %s: schema upgraded from revision %s to %s", db, current, new)


def _unknown(scripts: ScriptDirectory, revision: str) -> bool:
    try:
        return scripts.get_revision(revision) is None
    except Exception:  # alembic raises its own errors for unknown ids
        return True


def _unusable(db: Database, exc: sa_exc.DBAPIError) -> DatabaseError:
    reason = str(exc.orig).strip() if exc.orig is not None else str(exc)
    return DatabaseError(f"cannot use database {db}: {reason}")


def _new_revision(message: str) -> None:
    """Autogenerate a revision script from schema.py vs a temporary database at head."""
    from engine.storage.database import Database

    with tempfile.TemporaryDirectory() as tmp:
        db = Database(Path(tmp) / "head.sqlite3")
        try:
            cfg = alembic_config()
            with db.begin() as conn:
                cfg.attributes["connection"] = conn
                command.revision(cfg, message=message, autogenerate=True)
        finally:
            db.close()


if __name__ == "__main__":
    if len(sys.argv) != 3 or sys.argv[1] != "revision":
        sys.exit("usage: python -m engine.storage.migrate revision MESSAGE")
    _new_revision(sys.argv[2])
