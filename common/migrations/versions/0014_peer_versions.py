"""Record peer versions per link, key revocations and possible duplicate cases.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-04 22:30:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("sync_link", schema=None) as batch_op:
        batch_op.add_column(sa.Column("peer_software", sa.String(40), nullable=True))
        batch_op.add_column(sa.Column("peer_protocols", sa.String(40), nullable=True))
    with op.batch_alter_table("sync_origin", schema=None) as batch_op:
        batch_op.add_column(sa.Column("software", sa.String(40), nullable=True))
    with op.batch_alter_table("case", schema=None) as batch_op:
        batch_op.add_column(sa.Column("possible_duplicates", sa.JSON(), nullable=True))
        batch_op.create_index(
            "ix_case_applicant_id_number_matter_code",
            ["applicant_id_number", "matter_code"],
        )
    op.create_table(
        "key_revocation",
        sa.Column("code", sa.String(length=12), nullable=False),
        sa.Column("key_id", sa.String(length=16), nullable=False),
        sa.Column("revoked_by", sa.String(length=12), nullable=False),
        sa.Column("revoked_at", sa.DateTime(), nullable=False),
        sa.Column("valid_through", sa.Integer(), nullable=False),
        sa.Column("signer_key_id", sa.String(length=16), nullable=False),
        sa.Column("signature", sa.String(length=100), nullable=False),
        sa.Column("sent_up_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("code", "key_id", name=op.f("pk_key_revocation")),
    )


def downgrade() -> None:
    op.drop_table("key_revocation")
    with op.batch_alter_table("case", schema=None) as batch_op:
        batch_op.drop_index("ix_case_applicant_id_number_matter_code")
        batch_op.drop_column("possible_duplicates")
    with op.batch_alter_table("sync_origin", schema=None) as batch_op:
        batch_op.drop_column("software")
    with op.batch_alter_table("sync_link", schema=None) as batch_op:
        batch_op.drop_column("peer_protocols")
        batch_op.drop_column("peer_software")
