"""The hub's incremental rollups of cases, queue waiting, staffing gaps and hotline.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-04 20:40:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def _counters(*names: str) -> list[sa.Column]:
    return [sa.Column(name, sa.Integer(), nullable=False) for name in names]


def upgrade() -> None:
    op.create_table(
        "hub_rollup_case",
        sa.Column("case_id", sa.String(length=40), nullable=False),
        sa.Column("month", sa.String(length=7), nullable=False),
        sa.Column("handler_code", sa.String(length=12), nullable=False),
        sa.Column("handler_tier", sa.String(length=16), nullable=False),
        sa.Column("department", sa.String(length=100), nullable=False),
        sa.Column("matter_code", sa.String(length=64), nullable=False),
        sa.Column("legal_limit_working_days", sa.Integer(), nullable=True),
        sa.Column("promised_limit_working_days", sa.Integer(), nullable=False),
        sa.Column("accepted", sa.Boolean(), nullable=False),
        sa.Column("completed", sa.Boolean(), nullable=False),
        sa.Column("rejected", sa.Boolean(), nullable=False),
        sa.Column("warned", sa.Boolean(), nullable=False),
        sa.Column("overdue", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("case_id", name=op.f("pk_hub_rollup_case")),
    )
    op.create_table(
        "hub_case_rollup",
        sa.Column("month", sa.String(length=7), nullable=False),
        sa.Column("handler_code", sa.String(length=12), nullable=False),
        sa.Column("department", sa.String(length=100), nullable=False),
        sa.Column("matter_code", sa.String(length=64), nullable=False),
        sa.Column("county_code", sa.String(length=6), nullable=False),
        sa.Column("handler_tier", sa.String(length=16), nullable=False),
        *_counters(
            "received",
            "accepted",
            "completed",
            "rejected",
            "on_time",
            "immediate",
            "joint",
            "working_days_used",
            "promised_limit",
            "limits_compared",
            "compared_legal_limit",
            "compared_promised_limit",
            "supplement_notices",
            "warned",
            "overdue",
            "accountability_records",
            "evaluations",
            "bad_reviews",
            "excluded_reviews",
        ),
        sa.PrimaryKeyConstraint(
            "month",
            "handler_code",
            "department",
            "matter_code",
            name=op.f("pk_hub_case_rollup"),
        ),
    )
    op.create_index(
        "ix_hub_case_rollup_county_code_month",
        "hub_case_rollup",
        ["county_code", "month"],
    )
    op.create_table(
        "hub_service_rollup",
        sa.Column("month", sa.String(length=7), nullable=False),
        sa.Column("node_code", sa.String(length=12), nullable=False),
        sa.Column("county_code", sa.String(length=6), nullable=False),
        *_counters("tickets_called", "waited_seconds", "staffing_gaps", "gap_minutes"),
        sa.PrimaryKeyConstraint(
            "month", "node_code", name=op.f("pk_hub_service_rollup")
        ),
    )
    op.create_table(
        "hub_hotline_rollup",
        sa.Column("month", sa.String(length=7), nullable=False),
        sa.Column("county_code", sa.String(length=6), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        *_counters("tickets", "replied", "reply_seconds"),
        sa.PrimaryKeyConstraint(
            "month", "county_code", "kind", name=op.f("pk_hub_hotline_rollup")
        ),
    )


def downgrade() -> None:
    op.drop_table("hub_hotline_rollup")
    op.drop_table("hub_service_rollup")
    op.drop_index("ix_hub_case_rollup_county_code_month", table_name="hub_case_rollup")
    op.drop_table("hub_case_rollup")
    op.drop_table("hub_rollup_case")
