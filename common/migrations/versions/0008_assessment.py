"""Window staffing shifts and gaps, monthly assessment scores and deductions.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-04 20:10:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def _foreign_key(table: str, column: str, target: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        [column], [f"{target}.id"], name=op.f(f"fk_{table}_{column}_{target}")
    )


def upgrade() -> None:
    op.create_table(
        "staffing_shift",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("window_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("signed_in_at", sa.DateTime(), nullable=False),
        sa.Column("signed_out_at", sa.DateTime(), nullable=True),
        _foreign_key("staffing_shift", "window_id", "service_window"),
        _foreign_key("staffing_shift", "user_id", "user_account"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_staffing_shift")),
    )
    op.create_index(
        "ix_staffing_shift_day_window_id", "staffing_shift", ["day", "window_id"]
    )
    op.create_index(
        "ix_staffing_shift_user_id_signed_out_at",
        "staffing_shift",
        ["user_id", "signed_out_at"],
    )
    op.create_table(
        "staffing_gap",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("window_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("minutes_missing", sa.Integer(), nullable=False),
        sa.Column("recorded_at", sa.DateTime(), nullable=False),
        _foreign_key("staffing_gap", "window_id", "service_window"),
        _foreign_key("staffing_gap", "user_id", "user_account"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_staffing_gap")),
        sa.UniqueConstraint(
            "window_id", "user_id", "day", name=op.f("uq_staffing_gap_window_id")
        ),
    )
    op.create_index(op.f("ix_staffing_gap_day"), "staffing_gap", ["day"])
    op.create_table(
        "assessment_score",
        sa.Column("month", sa.String(length=7), nullable=False),
        sa.Column("window_id", sa.Integer(), nullable=False),
        sa.Column("department", sa.String(length=100), nullable=False),
        sa.Column("full_marks", sa.Integer(), nullable=False),
        sa.Column("score", sa.Integer(), nullable=False),
        sa.Column("red_flag", sa.Boolean(), nullable=False),
        sa.Column("computed_at", sa.DateTime(), nullable=False),
        _foreign_key("assessment_score", "window_id", "service_window"),
        sa.PrimaryKeyConstraint("month", "window_id", name=op.f("pk_assessment_score")),
    )
    op.create_table(
        "assessment_deduction",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("month", sa.String(length=7), nullable=False),
        sa.Column("window_id", sa.Integer(), nullable=False),
        sa.Column("rule", sa.String(length=40), nullable=False),
        sa.Column("points", sa.Integer(), nullable=False),
        sa.Column("source_kind", sa.String(length=40), nullable=False),
        sa.Column("source_id", sa.String(length=60), nullable=False),
        _foreign_key("assessment_deduction", "window_id", "service_window"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_assessment_deduction")),
        sa.UniqueConstraint(
            "month",
            "window_id",
            "rule",
            "source_kind",
            "source_id",
            name=op.f("uq_assessment_deduction_month"),
        ),
    )


def downgrade() -> None:
    op.drop_table("assessment_deduction")
    op.drop_table("assessment_score")
    op.drop_index(op.f("ix_staffing_gap_day"), table_name="staffing_gap")
    op.drop_table("staffing_gap")
    op.drop_index(
        "ix_staffing_shift_user_id_signed_out_at", table_name="staffing_shift"
    )
    op.drop_index("ix_staffing_shift_day_window_id", table_name="staffing_shift")
    op.drop_table("staffing_shift")
