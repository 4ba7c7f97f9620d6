"""Database: where it lives, SQLite pragmas, real transactions, WAL concurrency."""

from __future__ import annotations

import threading
import time

import pytest
from sqlalchemy import func, insert, select
from sqlalchemy.exc import IntegrityError

from engine.paths import default_database_path
from engine.storage import Database, DatabaseError, schema


def _pragma(db: Database, name: str):
    with db.connect() as conn:
        return conn.exec_driver_sql(f"PRAGMA {name}").scalar()


def test_default_database_is_created_in_the_user_data_folder():
    path = default_database_path()
    assert not path.parent.exists()
    with Database() as db:
        assert db.path == path
        assert path.is_file()
        assert db.revision() is not None


def test_sqlite_runs_in_wal_mode_with_normal_sync_foreign_keys_and_busy_timeout(db):
    assert _pragma(db, "journal_mode") == "wal"
    assert _pragma(db, "synchronous") == 1  # NORMAL
    assert _pragma(db, "foreign_keys") == 1
    assert _pragma(db, "busy_timeout") >= 5000


def test_a_plain_path_means_a_sqlite_file(tmp_path):
    with Database(str(tmp_path / "sub" / "x.sqlite3")) as db:
        assert db.url.get_backend_name() == "sqlite"
        assert (tmp_path / "sub" / "x.sqlite3").is_file()


def test_password_never_appears_in_the_database_name():
    pytest.importorskip("psycopg")
    db = Database("postgresql+psycopg://trader:s3cret@localhost:1/terminal", migrate=False)
    try:
        assert "s3cret" not in str(db) and "s3cret" not in repr(db)
    finally:
        db.close()


def test_an_error_inside_begin_rolls_everything_back(db):
    with pytest.raises(RuntimeError), db.begin() as conn:
        conn.execute(insert(schema.engine_state), {"key": "k", "value": {"a": 1}, "updated_ns": 1})
        raise RuntimeError("boom")
    with db.connect() as conn:
        assert conn.execute(select(func.count()).select_from(schema.engine_state)).scalar() == 0


def test_foreign_keys_are_enforced(db):
    with pytest.raises(IntegrityError), db.begin() as conn:
        conn.execute(insert(schema.order_events), {
            "client_order_id": "nobody", "ts_ns": 1, "kind": "submitted", "status": "NEW",
            "payload": {}})


def test_deleting_a_backtest_run_deletes_its_trades(db):
    with db.begin() as conn:
        run_id = conn.execute(insert(schema.backtest_runs).returning(schema.backtest_runs.c.id), {
            "created_ns": 1, "strategy": "sma", "params": {"fast": 5}, "symbol": "X",
            "timeframe": "1m"}).scalar_one()
        conn.execute(insert(schema.backtest_trades), [{
            "run_id": run_id, "seq": i, "symbol": "X", "direction": 1, "quantity": "1",
            "entry_ns": 1, "entry_price": "10", "exit_ns": 2, "exit_price": "11",
            "gross_pnl": "1", "fees": "0"} for i in range(3)])
    with db.begin() as conn:
        conn.execute(schema.backtest_runs.delete())
    with db.connect() as conn:
        assert conn.execute(select(func.count()).select_from(schema.backtest_trades)).scalar() == 0


def test_backtest_status_is_checked(db):
    with pytest.raises(IntegrityError), db.begin() as conn:
        conn.execute(insert(schema.backtest_runs), {
            "created_ns": 1, "strategy": "s", "params": {}, "symbol": "X", "timeframe": "1m",
            "status": "done"})


def _state_count(db: Database) -> int:
    with db.connect() as conn:
        return conn.execute(select(func.count()).select_from(schema.engine_state)).scalar()


def test_a_reader_is_not_blocked_by_an_open_write_and_sees_only_commits(tmp_path):
    writer_db = Database(tmp_path / "wal.sqlite3")
    reader_db = Database(tmp_path / "wal.sqlite3")
    written, release = threading.Event(), threading.Event()

    def write() -> None:
        with writer_db.begin() as conn:
            conn.execute(insert(schema.engine_state),
                         [{"key": f"k{i}", "value": i, "updated_ns": i} for i in range(100)])
            written.set()
            release.wait(10)

    thread = threading.Thread(target=write)
    thread.start()
    try:
        assert written.wait(10)
        started = time.monotonic()
        assert _state_count(reader_db) == 0  # uncommitted rows are invisible
        assert time.monotonic() - started < 1.0  # and reading did not wait for the writer
    finally:
        release.set()
        thread.join(10)
    assert _state_count(reader_db) == 100
    writer_db.close()
    reader_db.close()


def test_a_second_writer_waits_for_the_first_instead_of_failing(tmp_path):
    first_db = Database(tmp_path / "w.sqlite3")
    second_db = Database(tmp_path / "w.sqlite3")
    holding = threading.Event()

    def hold_write_lock() -> None:
        with first_db.begin() as conn:
            conn.execute(insert(schema.engine_state), {"key": "a", "value": 1, "updated_ns": 1})
            holding.set()
            time.sleep(0.5)

    thread = threading.Thread(target=hold_write_lock)
    thread.start()
    assert holding.wait(10)
    with second_db.begin() as conn:  # BEGIN IMMEDIATE waits on the busy timeout
        conn.execute(insert(schema.engine_state), {"key": "b", "value": 2, "updated_ns": 2})
    thread.join(10)
    assert _state_count(second_db) == 2
    first_db.close()
    second_db.close()


def test_a_file_that_is_not_a_database_is_a_clear_user_error(tmp_path):
    bogus = tmp_path / "notes.sqlite3"
    bogus.write_text("these are my notes, not a database\n" * 100)
    with pytest.raises(DatabaseError, match="notes.sqlite3.*not a database"):
        Database(bogus)
