"""Add the origin's key id and signatures to every event.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-04 17:44:08.298768
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("sync_event", schema=None) as batch_op:
        batch_op.add_column(sa.Column("key_id", sa.String(length=16), nullable=True))
        batch_op.add_column(
            sa.Column("signature", sa.String(length=100), nullable=True)
        )
        batch_op.add_column(
            sa.Column("personal_signature", sa.String(length=100), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("sync_event", schema=None) as batch_op:
        batch_op.drop_column("personal_signature")
        batch_op.drop_column("signature")
        batch_op.drop_column("key_id")
