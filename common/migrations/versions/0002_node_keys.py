"""Add node keys, enrollment tokens and seen request nonces.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-04 17:29:21.318400
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "enrollment_token",
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("code", sa.String(length=12), nullable=False),
        sa.Column("issued_at", sa.DateTime(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.Column("used_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("token_hash", name=op.f("pk_enrollment_token")),
    )
    op.create_table(
        "node_key",
        sa.Column("code", sa.String(length=12), nullable=False),
        sa.Column("key_id", sa.String(length=16), nullable=False),
        sa.Column("public_key", sa.String(length=64), nullable=False),
        sa.Column("enrolled_at", sa.DateTime(), nullable=False),
        sa.Column("revoked_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("code", "key_id", name=op.f("pk_node_key")),
    )
    op.create_table(
        "sync_nonce",
        sa.Column("code", sa.String(length=12), nullable=False),
        sa.Column("nonce", sa.String(length=64), nullable=False),
        sa.Column("seen_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("code", "nonce", name=op.f("pk_sync_nonce")),
    )


def downgrade() -> None:
    op.drop_table("sync_nonce")
    op.drop_table("node_key")
    op.drop_table("enrollment_token")
