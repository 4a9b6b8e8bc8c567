"""Keep the pieces of a catalog release download until the release applies.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-04 22:30:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "catalog_release_piece",
        sa.Column("number", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("piece_index", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("piece_size", sa.Integer(), nullable=False),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("piece_hash", sa.String(length=64), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.Column("received_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint(
            "number", "piece_index", name=op.f("pk_catalog_release_piece")
        ),
    )


def downgrade() -> None:
    op.drop_table("catalog_release_piece")
