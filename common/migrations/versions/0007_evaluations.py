"""Evaluations, their bad-review follow-ups, and 96123 hotline tickets.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-04 20:01:16.389216
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "evaluation",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.String(length=40), nullable=False),
        sa.Column("level", sa.String(length=24), nullable=False),
        sa.Column("channel", sa.String(length=12), nullable=False),
        sa.Column("slip_number", sa.String(length=40), nullable=True),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("department", sa.String(length=100), nullable=False),
        sa.Column("window", sa.String(length=40), nullable=True),
        sa.Column("entered_by", sa.Integer(), nullable=True),
        sa.Column("rated_at", sa.DateTime(), nullable=False),
        sa.Column("excluded", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"], ["case.id"], name=op.f("fk_evaluation_case_id_case")
        ),
        sa.ForeignKeyConstraint(
            ["entered_by"],
            ["user_account.id"],
            name=op.f("fk_evaluation_entered_by_user_account"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_evaluation")),
        sa.UniqueConstraint("case_id", name=op.f("uq_evaluation_case_id")),
    )
    op.create_table(
        "hotline_ticket",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("channel", sa.String(length=8), nullable=False),
        sa.Column("caller_name", sa.String(length=100), nullable=False),
        sa.Column("caller_phone", sa.String(length=20), nullable=False),
        sa.Column("caller_division", sa.String(length=12), nullable=False),
        sa.Column("subject", sa.Text(), nullable=False),
        sa.Column("department", sa.String(length=100), nullable=False),
        sa.Column("matter_code", sa.String(length=64), nullable=True),
        sa.Column("case_id", sa.String(length=40), nullable=True),
        sa.Column("routed_to", sa.String(length=12), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("entered_by", sa.Integer(), nullable=True),
        sa.Column("deadline", sa.Date(), nullable=False),
        sa.Column("deadline_provisional", sa.Boolean(), nullable=False),
        sa.Column("closed_at", sa.DateTime(), nullable=True),
        sa.Column("reply", sa.Text(), nullable=True),
        sa.Column("caller_rating", sa.String(length=24), nullable=True),
        sa.Column("closed_by", sa.Integer(), nullable=True),
        sa.Column("verified_at", sa.DateTime(), nullable=True),
        sa.Column("verified_by", sa.Integer(), nullable=True),
        sa.Column("verification_note", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["closed_by"],
            ["user_account.id"],
            name=op.f("fk_hotline_ticket_closed_by_user_account"),
        ),
        sa.ForeignKeyConstraint(
            ["entered_by"],
            ["user_account.id"],
            name=op.f("fk_hotline_ticket_entered_by_user_account"),
        ),
        sa.ForeignKeyConstraint(
            ["verified_by"],
            ["user_account.id"],
            name=op.f("fk_hotline_ticket_verified_by_user_account"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_hotline_ticket")),
    )
    with op.batch_alter_table("hotline_ticket", schema=None) as batch_op:
        batch_op.create_index(
            "ix_hotline_ticket_closed_at", ["closed_at"], unique=False
        )

    op.create_table(
        "evaluation_follow_up",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("evaluation_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("opened_at", sa.DateTime(), nullable=False),
        sa.Column("deadline", sa.Date(), nullable=False),
        sa.Column("deadline_provisional", sa.Boolean(), nullable=False),
        sa.Column("verified_at", sa.DateTime(), nullable=True),
        sa.Column("verified", sa.Boolean(), nullable=True),
        sa.Column("verification_note", sa.Text(), nullable=True),
        sa.Column("rectified_at", sa.DateTime(), nullable=True),
        sa.Column("rectification_note", sa.Text(), nullable=True),
        sa.Column("on_time", sa.Boolean(), nullable=True),
        sa.Column("excluded_at", sa.DateTime(), nullable=True),
        sa.Column("exclusion_reason", sa.String(length=12), nullable=True),
        sa.Column("exclusion_note", sa.Text(), nullable=True),
        sa.Column("acted_by", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["acted_by"],
            ["user_account.id"],
            name=op.f("fk_evaluation_follow_up_acted_by_user_account"),
        ),
        sa.ForeignKeyConstraint(
            ["evaluation_id"],
            ["evaluation.id"],
            name=op.f("fk_evaluation_follow_up_evaluation_id_evaluation"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_evaluation_follow_up")),
        sa.UniqueConstraint(
            "evaluation_id", name=op.f("uq_evaluation_follow_up_evaluation_id")
        ),
    )


def downgrade() -> None:
    op.drop_table("evaluation_follow_up")
    with op.batch_alter_table("hotline_ticket", schema=None) as batch_op:
        batch_op.drop_index("ix_hotline_ticket_closed_at")

    op.drop_table("hotline_ticket")
    op.drop_table("evaluation")
