"""Initial schema: instruments, bars, the OMS journal, engine state, backtests.

Revision ID: 0001
Revises:
Create Date: 2026-11-22

Spelled out column by column (not imported from schema.py) so this revision
creates the same tables for ever, whatever schema.py becomes. Decimals and JSON
are TEXT (engine.storage.types.DecimalText / JSONText).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

SERIAL = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _text(name: str) -> sa.Column:
    return sa.Column(name, sa.Text(), nullable=False, server_default="")


def upgrade() -> None:
    op.create_table(
        "instruments",
        sa.Column("id", SERIAL, primary_key=True, autoincrement=True),
        sa.Column("symbol", sa.Text(), nullable=False),
        sa.Column("venue", sa.Text(), nullable=False),
        sa.Column("asset_class", sa.Text(), nullable=False),
        sa.Column("currency", sa.Text(), nullable=False),
        sa.Column("tick_schedule", sa.Text(), nullable=False),
        sa.Column("lot_size", sa.Text(), nullable=False),
        sa.Column("min_qty", sa.Text(), nullable=False),
        sa.Column("min_notional", sa.Text(), nullable=False),
        sa.Column("price_band_pct", sa.Text(), nullable=True),
        sa.Column("fee_schedule", sa.Text(), nullable=False),
        sa.Column("currency_unit", sa.Text(), nullable=False),
        sa.Column("calendar", sa.Text(), nullable=False, server_default="24/7"),
        _text("name"),
        _text("board"),
        sa.Column("contract_size", sa.Text(), nullable=False),
        sa.Column("max_leverage", sa.Text(), nullable=False),
        sa.Column("allows_short", sa.Boolean(), nullable=False),
        _text("base_asset"),
        sa.Column("updated_ns", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_instruments")),
        sa.UniqueConstraint("symbol", "venue", name=op.f("uq_instruments_symbol_venue")),
    )
    op.create_table(
        "bars",
        sa.Column("symbol", sa.Text(), nullable=False),
        sa.Column("timeframe", sa.Text(), nullable=False),
        sa.Column("ts_ns", sa.BigInteger(), nullable=False),
        sa.Column("open", sa.Float(), nullable=False),
        sa.Column("high", sa.Float(), nullable=False),
        sa.Column("low", sa.Float(), nullable=False),
        sa.Column("close", sa.Float(), nullable=False),
        sa.Column("volume", sa.Float(), nullable=False),
        sa.Column("trades", sa.Integer(), nullable=True),
        sa.Column("vwap", sa.Float(), nullable=True),
        sa.Column("source", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("symbol", "timeframe", "ts_ns", name=op.f("pk_bars")),
        sa.CheckConstraint("high >= low", name=op.f("ck_bars_high_ge_low")),
        sa.CheckConstraint("volume >= 0", name=op.f("ck_bars_volume_nonnegative")),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "orders",
        sa.Column("client_order_id", sa.Text(), nullable=False),
        sa.Column("broker", sa.Text(), nullable=False),
        sa.Column("symbol", sa.Text(), nullable=False),
        sa.Column("side", sa.Text(), nullable=False),
        sa.Column("order_type", sa.Text(), nullable=False),
        sa.Column("quantity", sa.Text(), nullable=False),
        sa.Column("price", sa.Text(), nullable=True),
        sa.Column("stop_price", sa.Text(), nullable=True),
        sa.Column("time_in_force", sa.Text(), nullable=False),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("filled_qty", sa.Text(), nullable=False),
        sa.Column("avg_fill_price", sa.Text(), nullable=True),
        _text("broker_order_id"),
        sa.Column("source", sa.Text(), nullable=False),
        _text("strategy_id"),
        _text("tag"),
        sa.Column("reduce_only", sa.Boolean(), nullable=False),
        sa.Column("post_only", sa.Boolean(), nullable=False),
        sa.Column("created_ns", sa.BigInteger(), nullable=False),
        sa.Column("updated_ns", sa.BigInteger(), nullable=False),
        _text("reason"),
        sa.PrimaryKeyConstraint("client_order_id", name=op.f("pk_orders")),
    )
    op.create_index(op.f("ix_orders_status"), "orders", ["status"])
    op.create_index(op.f("ix_orders_broker_broker_order_id"), "orders",
                    ["broker", "broker_order_id"])
    op.create_table(
        "order_events",
        sa.Column("seq", SERIAL, primary_key=True, autoincrement=True),
        sa.Column("client_order_id", sa.Text(), nullable=False),
        sa.Column("ts_ns", sa.BigInteger(), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_order_events")),
        sa.ForeignKeyConstraint(["client_order_id"], ["orders.client_order_id"],
                                name=op.f("fk_order_events_client_order_id_orders")),
    )
    op.create_table(
        "fills",
        sa.Column("id", SERIAL, primary_key=True, autoincrement=True),
        sa.Column("broker", sa.Text(), nullable=False),
        sa.Column("fill_id", sa.Text(), nullable=False),
        sa.Column("client_order_id", sa.Text(), nullable=False),
        sa.Column("symbol", sa.Text(), nullable=False),
        sa.Column("side", sa.Text(), nullable=False),
        sa.Column("quantity", sa.Text(), nullable=False),
        sa.Column("price", sa.Text(), nullable=False),
        sa.Column("ts_ns", sa.BigInteger(), nullable=False),
        sa.Column("commission", sa.Text(), nullable=False),
        sa.Column("tax", sa.Text(), nullable=False),
        sa.Column("liquidity", sa.Text(), nullable=False),
        _text("broker_order_id"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_fills")),
        sa.UniqueConstraint("broker", "fill_id", name=op.f("uq_fills_broker_fill_id")),
    )
    op.create_table(
        "position_snapshots",
        sa.Column("id", SERIAL, primary_key=True, autoincrement=True),
        sa.Column("broker", sa.Text(), nullable=False),
        sa.Column("symbol", sa.Text(), nullable=False),
        sa.Column("ts_ns", sa.BigInteger(), nullable=False),
        sa.Column("quantity", sa.Text(), nullable=False),
        sa.Column("avg_price", sa.Text(), nullable=False),
        sa.Column("cost_basis", sa.Text(), nullable=False),
        sa.Column("realized_pnl", sa.Text(), nullable=False),
        sa.Column("fees", sa.Text(), nullable=False),
        sa.Column("last_price", sa.Text(), nullable=True),
        sa.Column("contract_size", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_position_snapshots")),
    )
    op.create_index(op.f("ix_position_snapshots_broker_symbol_ts_ns"), "position_snapshots",
                    ["broker", "symbol", "ts_ns"])
    op.create_table(
        "risk_events",
        sa.Column("seq", SERIAL, primary_key=True, autoincrement=True),
        sa.Column("ts_ns", sa.BigInteger(), nullable=False),
        sa.Column("code", sa.Text(), nullable=False),
        sa.Column("severity", sa.Text(), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        _text("symbol"),
        _text("broker"),
        _text("client_order_id"),
        sa.Column("details", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_risk_events")),
    )
    op.create_index(op.f("ix_risk_events_ts_ns"), "risk_events", ["ts_ns"])
    op.create_table(
        "engine_state",
        sa.Column("key", sa.Text(), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("updated_ns", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_engine_state")),
    )
    op.create_table(
        "backtest_runs",
        sa.Column("id", SERIAL, primary_key=True, autoincrement=True),
        sa.Column("created_ns", sa.BigInteger(), nullable=False),
        sa.Column("strategy", sa.Text(), nullable=False),
        sa.Column("params", sa.Text(), nullable=False),
        sa.Column("symbol", sa.Text(), nullable=False),
        sa.Column("timeframe", sa.Text(), nullable=False),
        sa.Column("start_ns", sa.BigInteger(), nullable=True),
        sa.Column("end_ns", sa.BigInteger(), nullable=True),
        sa.Column("status", sa.Text(), nullable=False, server_default="running"),
        sa.Column("metrics", sa.Text(), nullable=True),
        sa.Column("finished_ns", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_backtest_runs")),
        sa.CheckConstraint("status IN ('running', 'complete', 'failed', 'cancelled')",
                           name=op.f("ck_backtest_runs_status")),
    )
    op.create_index(op.f("ix_backtest_runs_created_ns"), "backtest_runs", ["created_ns"])
    op.create_table(
        "backtest_trades",
        sa.Column("id", SERIAL, primary_key=True, autoincrement=True),
        sa.Column("run_id", SERIAL, nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("symbol", sa.Text(), nullable=False),
        sa.Column("direction", sa.Integer(), nullable=False),
        sa.Column("quantity", sa.Text(), nullable=False),
        sa.Column("entry_ns", sa.BigInteger(), nullable=False),
        sa.Column("entry_price", sa.Text(), nullable=False),
        sa.Column("exit_ns", sa.BigInteger(), nullable=False),
        sa.Column("exit_price", sa.Text(), nullable=False),
        sa.Column("gross_pnl", sa.Text(), nullable=False),
        sa.Column("fees", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_backtest_trades")),
        sa.ForeignKeyConstraint(["run_id"], ["backtest_runs.id"], ondelete="CASCADE",
                                name=op.f("fk_backtest_trades_run_id_backtest_runs")),
        sa.UniqueConstraint("run_id", "seq", name=op.f("uq_backtest_trades_run_id_seq")),
    )


def downgrade() -> None:
    for table in ("backtest_trades", "backtest_runs", "engine_state", "risk_events",
                  "position_snapshots", "fills", "order_events", "orders", "bars",
                  "instruments"):
        op.drop_table(table)
