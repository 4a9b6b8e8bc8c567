"""Keep hotline tickets at the node they are routed to, and their replies.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-04 22:30:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "hotline_routed_ticket",
        sa.Column("ticket_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("number", sa.String(length=40), nullable=False),
        sa.Column("routing", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("subject", sa.Text(), nullable=False),
        sa.Column("department", sa.String(length=100), nullable=False),
        sa.Column("matter_code", sa.String(length=64), nullable=True),
        sa.Column("case_id", sa.String(length=40), nullable=True),
        sa.Column("caller_division", sa.String(length=12), nullable=False),
        sa.Column("routed_at", sa.DateTime(), nullable=False),
        sa.Column("deadline", sa.Date(), nullable=False),
        sa.Column("deadline_provisional", sa.Boolean(), nullable=False),
        sa.Column("withdrawn_at", sa.DateTime(), nullable=True),
        sa.Column("reply", sa.Text(), nullable=True),
        sa.Column("replied_at", sa.DateTime(), nullable=True),
        sa.Column("replied_by", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["replied_by"],
            ["user_account.id"],
            name=op.f("fk_hotline_routed_ticket_replied_by_user_account"),
        ),
        sa.PrimaryKeyConstraint("ticket_id", name=op.f("pk_hotline_routed_ticket")),
    )
    with op.batch_alter_table("hotline_ticket", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("routing", sa.Integer(), server_default="1", nullable=False)
        )
        batch_op.add_column(sa.Column("replied_at", sa.DateTime(), nullable=True))
        batch_op.add_column(
            sa.Column("reply_from", sa.String(length=12), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("hotline_ticket", schema=None) as batch_op:
        batch_op.drop_column("reply_from")
        batch_op.drop_column("replied_at")
        batch_op.drop_column("routing")
    op.drop_table("hotline_routed_ticket")
