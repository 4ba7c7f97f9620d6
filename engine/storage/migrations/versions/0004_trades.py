"""Stored trades (ticks), which backtests replay when present.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-09

* ``trades``: one row per trade of a symbol (price, size, aggressor side), keyed
  by (symbol, ts_ns, seq) where ``seq`` orders the trades of one time. Until now
  only a trade *file* could be replayed; ``data import`` of a trade file now
  stores its trades, and a backtest over stored bars replays them.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "trades",
        sa.Column("symbol", sa.Text(), nullable=False),
        sa.Column("ts_ns", sa.BigInteger(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("price", sa.Float(), nullable=False),
        sa.Column("size", sa.Float(), nullable=False),
        sa.Column("side", sa.Text(), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("symbol", "ts_ns", "seq", name=op.f("pk_trades")),
        sa.CheckConstraint("price > 0", name=op.f("ck_trades_price_positive")),
        sa.CheckConstraint("size >= 0", name=op.f("ck_trades_size_nonnegative")),
        sqlite_with_rowid=False,
    )


def downgrade() -> None:
    op.drop_table("trades")
