"""Fees paid in the traded asset.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02

* ``fills.fee_in_kind``: the units of the instrument a venue kept as its fee
  (Binance spot buys pay the fee in the base asset). Without it a restart would
  rebuild the position gross of the fee while the venue holds it net. Existing
  fills paid their fees in cash: '0'.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("fills", sa.Column("fee_in_kind", sa.Text(), nullable=False,
                                     server_default="0"))


def downgrade() -> None:
    with op.batch_alter_table("fills") as batch:
        batch.drop_column("fee_in_kind")
