"""The journal's WAL is checkpointed off the order path, and nothing is lost by it."""

from __future__ import annotations

import sqlite3
import time
from decimal import Decimal

from engine.execution.sql_journal import SqlJournal
from engine.execution.wal import WalCheckpointer
from engine.models import Fill, Side
from engine.storage import Database


def wait_for(condition, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.01)
    return condition()


def fill(i: int) -> Fill:
    return Fill(f"f{i}", "o1", "paper", "005930", Side.BUY, Decimal(1), Decimal(70_000), i)


def test_commits_never_checkpoint_and_the_thread_does(tmp_path):
    path = tmp_path / "j.sqlite3"
    db = Database(f"sqlite:///{path}")
    journal = SqlJournal(db)
    journal.record_fill(fill(0))
    journal.flush()
    conn = journal._connection()
    assert conn.execute("PRAGMA wal_autocheckpoint").fetchone()[0] == 0
    checkpointer = journal._checkpointer
    assert checkpointer is not None and checkpointer.every_s > 0
    for i in range(1, 300):
        journal.record_fill(fill(i))
        journal.flush()
    assert wait_for(lambda: checkpointer.checkpoints > 0)
    journal.close()
    assert checkpointer._thread is not None and not checkpointer._thread.is_alive()
    db.close()
    again = SqlJournal(Database(f"sqlite:///{path}"))
    assert [f.fill_id for f in again.load_fills()] == [f"f{i}" for i in range(300)]
    again.close()
    again.db.close()


def test_the_thread_ends_when_idle_and_a_commit_starts_another(tmp_path):
    path = tmp_path / "w.sqlite3"
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA wal_autocheckpoint=0")
        conn.execute("CREATE TABLE t (x)")
        conn.execute("INSERT INTO t VALUES (1)")
        checkpointer = WalCheckpointer(path, every_s=0.01, idle_exit_s=0.05)
        checkpointer.poke()
        assert wait_for(lambda: checkpointer.checkpoints == 1)
        assert wait_for(lambda: not checkpointer._running)
        conn.execute("INSERT INTO t VALUES (2)")
        checkpointer.poke()
        assert wait_for(lambda: checkpointer.checkpoints == 2)
        checkpointer.stop()
        assert checkpointer._thread is not None and not checkpointer._thread.is_alive()


def test_a_deleted_file_is_not_created_again(tmp_path):
    path = tmp_path / "gone.sqlite3"
    checkpointer = WalCheckpointer(path, every_s=0.01)
    checkpointer.poke()
    checkpointer.stop(final=True)
    assert not path.exists()
