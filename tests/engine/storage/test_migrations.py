"""Alembic migrations: head equals schema.py, and upgrades keep every row."""

from __future__ import annotations

from decimal import Decimal

import pandas as pd
import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, select, text

from engine.execution.sql_journal import SqlJournal
from engine.models import krx_stock
from engine.storage import (
    Database,
    DatabaseError,
    load_bars,
    load_trades,
    save_instrument,
    schema,
    trade_symbols,
    upsert_bars,
    upsert_trades,
)
from engine.storage.migrate import MIGRATIONS_DIR, head_revision
from tests.engine.storage.conftest import ohlcv


def test_a_new_database_is_at_the_newest_revision(db):
    assert db.revision() == head_revision() == "0004"


def _same_default(context, inspected_column, metadata_column, inspected_default,
                  metadata_default, rendered_metadata_default):
    # SQLite reports DEFAULT '' as "('')", which Alembic then misreads as a change.
    if rendered_metadata_default == "":
        return inspected_default not in ("('')", "''")
    return None  # everything else: Alembic's own comparison


def test_the_migrated_schema_is_exactly_schema_py(db):
    with db.connect() as conn:
        context = MigrationContext.configure(
            conn, opts={"compare_type": True, "compare_server_default": _same_default})
        assert compare_metadata(context, schema.metadata) == []


def test_opening_again_changes_nothing(tmp_path):
    Database(tmp_path / "a.sqlite3").close()
    with Database(tmp_path / "a.sqlite3") as db:
        assert db.revision() == head_revision()


def test_the_migration_scripts_sit_inside_the_package():
    versions = sorted(p.name for p in (MIGRATIONS_DIR / "versions").glob("0*.py"))
    assert versions[:4] == ["0001_initial.py", "0002_journal_lookups_and_run_errors.py",
                            "0003_fill_fee_in_kind.py", "0004_trades.py"]
    assert (MIGRATIONS_DIR / "env.py").is_file()
    assert (MIGRATIONS_DIR / "script.py.mako").is_file()


def _populate_at_0001(db: Database) -> None:
    """One row or more in every table, written with revision 0001's columns only."""
    save_instrument(db, krx_stock("005930", name="Samsung Electronics"))
    upsert_bars(db, "005930", "1m", ohlcv(1000, price=71_000.0))
    with db.begin() as conn:
        conn.execute(schema.orders.insert(), {
            "client_order_id": "c1", "broker": "paper", "symbol": "005930", "side": "BUY",
            "order_type": "LIMIT", "quantity": Decimal("10"), "price": Decimal("71000"),
            "time_in_force": "DAY", "status": "FILLED", "filled_qty": Decimal("10"),
            "avg_fill_price": Decimal("70950.5"), "source": "TICKET", "reduce_only": False,
            "post_only": False, "created_ns": 1, "updated_ns": 2})
        conn.execute(schema.order_events.insert(), [
            {"client_order_id": "c1", "ts_ns": i, "kind": k, "status": s, "payload": {"i": i}}
            for i, (k, s) in enumerate([("created", "NEW"), ("fill", "FILLED")])])
        conn.execute(schema.fills.insert(), {
            "broker": "paper", "fill_id": "f1", "client_order_id": "c1", "symbol": "005930",
            "side": "BUY", "quantity": Decimal("10"), "price": Decimal("70950.5"), "ts_ns": 2,
            "commission": Decimal("106"), "tax": Decimal("0"), "liquidity": "TAKER"})
        conn.execute(schema.position_snapshots.insert(), {
            "broker": "paper", "symbol": "005930", "ts_ns": 2, "quantity": Decimal("10"),
            "avg_price": Decimal("70950.5"), "cost_basis": Decimal("709505"),
            "realized_pnl": Decimal("0"), "fees": Decimal("106"),
            "contract_size": Decimal("1")})
        conn.execute(schema.risk_events.insert(), {
            "ts_ns": 3, "code": "max_order_qty", "severity": "warning", "message": "too big",
            "details": {"limit": Decimal("100")}})
        conn.execute(schema.engine_state.insert(), {
            "key": "kill_switch", "value": {"engaged": True}, "updated_ns": 4})
        # Only 0001's columns: the insert names no ``error``.
        conn.execute(schema.backtest_runs.insert(), {
            "created_ns": 5, "strategy": "sma", "params": {"fast": 5}, "symbol": "005930",
            "timeframe": "1m", "status": "failed"})
        conn.execute(schema.backtest_trades.insert(), {
            "run_id": 1, "seq": 0, "symbol": "005930", "direction": 1,
            "quantity": Decimal("10"), "entry_ns": 1, "entry_price": Decimal("70000"),
            "exit_ns": 2, "exit_price": Decimal("71000"), "gross_pnl": Decimal("10000"),
            "fees": Decimal("212")})


LATER_TABLES = {"trades"}  # created by 0004


def _snapshot(db: Database, later: frozenset[str] = frozenset({"error", "fee_in_kind"})
              ) -> dict[str, list[tuple]]:
    """Every row of every table at revision 0001 (0003 with ``later`` empty), in key
    order (newer columns left out)."""
    old_columns = {t: [c for c in schema.metadata.tables[t].c if c.name not in later]
                   for t in schema.metadata.tables if t not in LATER_TABLES}
    with db.connect() as conn:
        return {name: [tuple(r) for r in conn.execute(
                    select(*cols).order_by(*schema.metadata.tables[name].primary_key.columns))]
                for name, cols in old_columns.items()}


def test_upgrading_a_populated_first_revision_database_loses_nothing(tmp_path):
    path = tmp_path / "old.sqlite3"
    old = Database(path, migrate=False)
    old.migrate("0001")
    assert old.revision() == "0001"
    assert "error" not in {c["name"] for c in inspect(old.engine).get_columns("backtest_runs")}
    _populate_at_0001(old)
    before = _snapshot(old)
    bars_before = load_bars(old, "005930", "1m")
    old.close()
    assert all(before.values()), "every table has rows"

    with Database(path) as db:  # opening upgrades to head
        assert db.revision() == head_revision()
        assert _snapshot(db) == before
        assert load_bars(db, "005930", "1m").equals(bars_before)
        # Revision 0002's additions are there and usable on the old rows.
        with db.connect() as conn:
            assert conn.execute(select(schema.backtest_runs.c.error)).scalar() == ""
        indexes = {i["name"] for i in inspect(db.engine).get_indexes("order_events")}
        assert "ix_order_events_client_order_id_seq" in indexes
        with db.begin() as conn:
            conn.execute(schema.backtest_runs.update().values(error="strategy raised KeyError"))
        # Revision 0003's: fills from before paid their fees in cash, and read back so.
        [old_fill] = SqlJournal(db).load_fills()
        assert old_fill.fee_in_kind == 0 and old_fill.commission == Decimal("106")


def test_upgrading_a_populated_0003_database_to_stored_trades_loses_nothing(tmp_path):
    path = tmp_path / "0003.sqlite3"
    old = Database(path, migrate=False)
    old.migrate("0003")
    assert "trades" not in inspect(old.engine).get_table_names()
    _populate_at_0001(old)
    with old.begin() as conn:  # 0002's and 0003's columns, set to something not default
        conn.execute(schema.backtest_runs.update().values(error="strategy raised KeyError"))
        conn.execute(schema.fills.update().values(fee_in_kind=Decimal("0.001")))
    before = _snapshot(old, later=frozenset())
    old.close()

    with Database(path) as db:
        assert db.revision() == "0004"
        assert _snapshot(db, later=frozenset()) == before
        # The new table is there, empty, and takes trades.
        assert trade_symbols(db) == []
        frame = pd.DataFrame({"price": [71_000.0, 71_100.0], "size": [3.0, 1.0],
                              "side": ["BUY", ""]},
                             index=pd.DatetimeIndex(["2024-01-02 00:00:01"] * 2, tz="UTC",
                                                    name="time").as_unit("ns"))
        assert upsert_trades(db, "005930", frame) == 2
        assert load_trades(db, "005930").equals(frame)


def test_0004_downgrades_to_0003_by_dropping_the_trades_table(tmp_path):
    from alembic import command

    from engine.storage.migrate import alembic_config

    with Database(tmp_path / "down.sqlite3") as db:
        _populate_at_0001(db)
        before = _snapshot(db, later=frozenset())
        cfg = alembic_config()
        with db.begin() as conn:
            cfg.attributes["connection"] = conn
            command.downgrade(cfg, "0003")
        assert db.revision() == "0003"
        assert "trades" not in inspect(db.engine).get_table_names()
        assert _snapshot(db, later=frozenset()) == before
        db.migrate()
        assert db.revision() == "0004" and trade_symbols(db) == []


def test_a_database_from_a_newer_version_is_refused_with_a_clear_message(tmp_path):
    path = tmp_path / "future.sqlite3"
    Database(path).close()
    future = Database(path, migrate=False)
    with future.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '9999'"))
    future.close()
    with pytest.raises(DatabaseError, match="revision '9999'.*newer version"):
        Database(path)


def test_the_upgrade_is_one_transaction(tmp_path, monkeypatch):
    """A revision that fails half-way leaves the database at the previous revision."""
    path = tmp_path / "half.sqlite3"
    db = Database(path, migrate=False)
    db.migrate("0001")
    _populate_at_0001(db)
    import alembic.op

    real_add_column = alembic.op.add_column

    def add_column_then_fail(*args, **kwargs):
        real_add_column(*args, **kwargs)
        raise RuntimeError("disk full")

    monkeypatch.setattr(alembic.op, "add_column", add_column_then_fail)
    with pytest.raises(RuntimeError, match="disk full"):
        db.migrate()
    assert db.revision() == "0001"
    assert "ix_fills_client_order_id" not in {i["name"] for i in inspect(db.engine).get_indexes("fills")}
    assert "error" not in {c["name"] for c in inspect(db.engine).get_columns("backtest_runs")}
    db.close()
