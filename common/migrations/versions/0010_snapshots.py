"""Daily metric snapshots of the nodes and their reconciliation at the hub.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-04 21:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "hub_snapshot",
        sa.Column("node", sa.String(length=12), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("counts", sa.JSON(), nullable=False),
        sa.Column("sent_at", sa.DateTime(), nullable=False),
        sa.Column("received_at", sa.DateTime(), nullable=False),
        sa.Column("reconciled_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("node", "day", name=op.f("pk_hub_snapshot")),
    )
    op.create_table(
        "hub_reconciliation",
        sa.Column("node", sa.String(length=12), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("figure", sa.String(length=32), nullable=False),
        sa.Column("node_count", sa.Integer(), nullable=False),
        sa.Column("hub_count", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint(
            "node", "day", "figure", name=op.f("pk_hub_reconciliation")
        ),
    )


def downgrade() -> None:
    op.drop_table("hub_reconciliation")
    op.drop_table("hub_snapshot")
