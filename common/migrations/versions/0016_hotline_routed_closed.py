"""Keep at the routed node when the city closed a hotline ticket.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-04 23:55:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("hotline_routed_ticket") as batch:
        batch.add_column(sa.Column("closed_at", sa.DateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("hotline_routed_ticket") as batch:
        batch.drop_column("closed_at")
