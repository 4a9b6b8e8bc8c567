"""City-wide case rollup by month, county, tier and department, and the hub case tally.

Both tables are filled from what the hub already stores: the city rollup
from ``hub_case_rollup``, the tally from ``hub_case``.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-04 23:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

CITY_COUNTERS = (
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
)
TALLY_COUNTERS = (
    "received",
    "accepted",
    "completed",
    "rejected",
    "on_time",
    "measured",
    "working_days_used",
    "promised_limit",
    "supplement_notices",
    "warned",
    "overdue",
    "accountability_records",
    "joint",
)

# The rules of hub.case_tally.tally_counters, as of this revision. Boolean
# columns are compared with true because SQLite stores them as 0 and 1.
FILL_TALLY = """
INSERT INTO hub_case_tally (county_code, handler_tier, {counters})
SELECT COALESCE(county_code, ''), handler_tier,
    COUNT(*),
    COUNT(accepted_at),
    SUM(CASE WHEN status = 'completed' THEN 1 ELSE 0 END),
    SUM(CASE WHEN status = 'rejected' THEN 1 ELSE 0 END),
    SUM(CASE WHEN status = 'completed' AND on_time = true THEN 1 ELSE 0 END),
    SUM(CASE WHEN status = 'completed' AND working_days_used IS NOT NULL
        THEN 1 ELSE 0 END),
    SUM(CASE WHEN status = 'completed' AND working_days_used IS NOT NULL
        THEN working_days_used ELSE 0 END),
    SUM(CASE WHEN status = 'completed' AND working_days_used IS NOT NULL
        THEN promised_limit_working_days ELSE 0 END),
    SUM(COALESCE(supplement_notices, 0)),
    SUM(CASE WHEN warned = true THEN 1 ELSE 0 END),
    SUM(CASE WHEN overdue = true THEN 1 ELSE 0 END),
    SUM(COALESCE(accountability_records, 0)),
    SUM(CASE WHEN joint = true THEN 1 ELSE 0 END)
FROM hub_case
GROUP BY COALESCE(county_code, ''), handler_tier
"""


def _counters(*names: str) -> list[sa.Column]:
    return [sa.Column(name, sa.Integer(), nullable=False) for name in names]


def upgrade() -> None:
    op.create_table(
        "hub_city_rollup",
        sa.Column("month", sa.String(length=7), nullable=False),
        sa.Column("county_code", sa.String(length=6), nullable=False),
        sa.Column("handler_tier", sa.String(length=16), nullable=False),
        sa.Column("department", sa.String(length=100), nullable=False),
        *_counters(*CITY_COUNTERS),
        sa.PrimaryKeyConstraint(
            "month",
            "county_code",
            "handler_tier",
            "department",
            name=op.f("pk_hub_city_rollup"),
        ),
    )
    op.create_table(
        "hub_case_tally",
        sa.Column("county_code", sa.String(length=6), nullable=False),
        sa.Column("handler_tier", sa.String(length=16), nullable=False),
        *_counters(*TALLY_COUNTERS),
        sa.PrimaryKeyConstraint(
            "county_code", "handler_tier", name=op.f("pk_hub_case_tally")
        ),
    )
    keys = "month, county_code, handler_tier, department"
    counters = ", ".join(CITY_COUNTERS)
    sums = ", ".join(f"SUM({name})" for name in CITY_COUNTERS)
    op.execute(
        f"INSERT INTO hub_city_rollup ({keys}, {counters}) "
        f"SELECT {keys}, {sums} FROM hub_case_rollup GROUP BY {keys}"
    )
    op.execute(FILL_TALLY.format(counters=", ".join(TALLY_COUNTERS)))


def downgrade() -> None:
    op.drop_table("hub_case_tally")
    op.drop_table("hub_city_rollup")
