"""Indexes for the OMS's per-order lookups, and why a backtest run failed.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22

* ``order_events(client_order_id, seq)``: an order's history without scanning
  the whole journal (the order detail view, recovery after a restart).
* ``fills(client_order_id)``: an order's fills, same reasons.
* ``backtest_runs.error``: the message of a failed or cancelled run, '' otherwise,
  so the results list can say why instead of just "failed".
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(op.f("ix_order_events_client_order_id_seq"), "order_events",
                    ["client_order_id", "seq"])
    op.create_index(op.f("ix_fills_client_order_id"), "fills", ["client_order_id"])
    op.add_column("backtest_runs",
                  sa.Column("error", sa.Text(), nullable=False, server_default=""))


def downgrade() -> None:
    with op.batch_alter_table("backtest_runs") as batch:
        batch.drop_column("error")
    op.drop_index(op.f("ix_fills_client_order_id"), table_name="fills")
    op.drop_index(op.f("ix_order_events_client_order_id_seq"), table_name="order_events")
