"""Users, windows, queue tickets, steps, notices, joint reviews, supervision.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-04 19:08:23.540128
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "calendar_release",
        sa.Column("number", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("published_at", sa.DateTime(), nullable=False),
        sa.Column("applied_at", sa.DateTime(), nullable=False),
        sa.Column("content", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("number", name=op.f("pk_calendar_release")),
    )
    with op.batch_alter_table("calendar_release", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_calendar_release_year"), ["year"], unique=False
        )

    op.create_table(
        "node_setting",
        sa.Column("key", sa.String(length=40), nullable=False),
        sa.Column("value", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_node_setting")),
    )
    op.create_table(
        "service_window",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=40), nullable=False),
        sa.Column("department", sa.String(length=100), nullable=False),
        sa.Column("categories", sa.JSON(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_service_window")),
        sa.UniqueConstraint("name", name=op.f("uq_service_window_name")),
    )
    op.create_table(
        "joint_review",
        sa.Column("case_id", sa.String(length=40), nullable=False),
        sa.Column("lead", sa.String(length=100), nullable=False),
        sa.Column("departments", sa.JSON(), nullable=False),
        sa.Column("inspection_on", sa.Date(), nullable=True),
        sa.Column("inspection_note", sa.Text(), nullable=True),
        sa.Column("meeting_on", sa.Date(), nullable=True),
        sa.Column("meeting_outcome", sa.Text(), nullable=True),
        sa.Column("minutes", sa.Text(), nullable=True),
        sa.Column("minutes_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["case_id"], ["case.id"], name=op.f("fk_joint_review_case_id_case")
        ),
        sa.PrimaryKeyConstraint("case_id", name=op.f("pk_joint_review")),
    )
    op.create_table(
        "user_account",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("username", sa.String(length=40), nullable=False),
        sa.Column("display_name", sa.String(length=100), nullable=False),
        sa.Column("password_hash", sa.String(length=200), nullable=False),
        sa.Column("roles", sa.JSON(), nullable=False),
        sa.Column("department", sa.String(length=100), nullable=True),
        sa.Column("window_id", sa.Integer(), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["window_id"],
            ["service_window.id"],
            name=op.f("fk_user_account_window_id_service_window"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_user_account")),
        sa.UniqueConstraint("username", name=op.f("uq_user_account_username")),
    )
    op.create_table(
        "accountability_record",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.String(length=40), nullable=False),
        sa.Column("breach", sa.String(length=20), nullable=False),
        sa.Column("subject", sa.String(length=100), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("department", sa.String(length=100), nullable=False),
        sa.Column("deadline", sa.Date(), nullable=True),
        sa.Column("working_days_late", sa.Integer(), nullable=False),
        sa.Column("opened_at", sa.DateTime(), nullable=False),
        sa.Column("explanation", sa.Text(), nullable=True),
        sa.Column("decision", sa.String(length=12), nullable=True),
        sa.Column("points", sa.Integer(), nullable=True),
        sa.Column("decided_by", sa.Integer(), nullable=True),
        sa.Column("decided_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["case_id"], ["case.id"], name=op.f("fk_accountability_record_case_id_case")
        ),
        sa.ForeignKeyConstraint(
            ["decided_by"],
            ["user_account.id"],
            name=op.f("fk_accountability_record_decided_by_user_account"),
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["user_account.id"],
            name=op.f("fk_accountability_record_user_id_user_account"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_accountability_record")),
        sa.UniqueConstraint(
            "case_id",
            "breach",
            "subject",
            name=op.f("uq_accountability_record_case_id"),
        ),
    )
    op.create_table(
        "api_token",
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("label", sa.String(length=100), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("revoked_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["user_account.id"],
            name=op.f("fk_api_token_user_id_user_account"),
        ),
        sa.PrimaryKeyConstraint("token_hash", name=op.f("pk_api_token")),
    )
    op.create_table(
        "case_step",
        sa.Column("case_id", sa.String(length=40), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("role", sa.String(length=40), nullable=False),
        sa.Column("role_text", sa.String(length=100), nullable=False),
        sa.Column("department", sa.String(length=100), nullable=False),
        sa.Column("limit_working_days", sa.Integer(), nullable=True),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("started_at", sa.DateTime(), nullable=True),
        sa.Column("deadline", sa.Date(), nullable=True),
        sa.Column("deadline_provisional", sa.Boolean(), nullable=False),
        sa.Column("finished_at", sa.DateTime(), nullable=True),
        sa.Column("actor_id", sa.Integer(), nullable=True),
        sa.Column("opinion", sa.Text(), nullable=True),
        sa.Column("light", sa.String(length=8), nullable=False),
        sa.ForeignKeyConstraint(
            ["actor_id"],
            ["user_account.id"],
            name=op.f("fk_case_step_actor_id_user_account"),
        ),
        sa.ForeignKeyConstraint(
            ["case_id"], ["case.id"], name=op.f("fk_case_step_case_id_case")
        ),
        sa.PrimaryKeyConstraint("case_id", "position", name=op.f("pk_case_step")),
    )
    with op.batch_alter_table("case_step", schema=None) as batch_op:
        batch_op.create_index("ix_case_step_status", ["status"], unique=False)

    op.create_table(
        "joint_opinion",
        sa.Column("case_id", sa.String(length=40), nullable=False),
        sa.Column("department", sa.String(length=100), nullable=False),
        sa.Column("deadline", sa.Date(), nullable=True),
        sa.Column("deadline_provisional", sa.Boolean(), nullable=False),
        sa.Column("decision", sa.String(length=12), nullable=True),
        sa.Column("opinion", sa.Text(), nullable=True),
        sa.Column("given_at", sa.DateTime(), nullable=True),
        sa.Column("given_by", sa.Integer(), nullable=True),
        sa.Column("light", sa.String(length=8), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"], ["case.id"], name=op.f("fk_joint_opinion_case_id_case")
        ),
        sa.ForeignKeyConstraint(
            ["given_by"],
            ["user_account.id"],
            name=op.f("fk_joint_opinion_given_by_user_account"),
        ),
        sa.PrimaryKeyConstraint("case_id", "department", name=op.f("pk_joint_opinion")),
    )
    op.create_table(
        "queue_ticket",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("number", sa.String(length=10), nullable=False),
        sa.Column("category", sa.String(length=40), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("taken_at", sa.DateTime(), nullable=False),
        sa.Column("called_at", sa.DateTime(), nullable=True),
        sa.Column("finished_at", sa.DateTime(), nullable=True),
        sa.Column("window_id", sa.Integer(), nullable=True),
        sa.Column("clerk_id", sa.Integer(), nullable=True),
        sa.Column("case_id", sa.String(length=40), nullable=True),
        sa.ForeignKeyConstraint(
            ["clerk_id"],
            ["user_account.id"],
            name=op.f("fk_queue_ticket_clerk_id_user_account"),
        ),
        sa.ForeignKeyConstraint(
            ["window_id"],
            ["service_window.id"],
            name=op.f("fk_queue_ticket_window_id_service_window"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_queue_ticket")),
        sa.UniqueConstraint("day", "number", name=op.f("uq_queue_ticket_day")),
    )
    with op.batch_alter_table("queue_ticket", schema=None) as batch_op:
        batch_op.create_index(
            "ix_queue_ticket_day_status", ["day", "status"], unique=False
        )

    op.create_table(
        "supplement_notice",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.String(length=40), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("missing", sa.JSON(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("issued_at", sa.DateTime(), nullable=False),
        sa.Column("issued_by", sa.Integer(), nullable=True),
        sa.Column("resolved_at", sa.DateTime(), nullable=True),
        sa.Column("paused_working_days", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["case_id"], ["case.id"], name=op.f("fk_supplement_notice_case_id_case")
        ),
        sa.ForeignKeyConstraint(
            ["issued_by"],
            ["user_account.id"],
            name=op.f("fk_supplement_notice_issued_by_user_account"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_supplement_notice")),
        sa.UniqueConstraint(
            "case_id", "number", name=op.f("uq_supplement_notice_case_id")
        ),
    )
    with op.batch_alter_table("application", schema=None) as batch_op:
        batch_op.add_column(sa.Column("result", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("handover", sa.String(length=16), nullable=True))
        batch_op.add_column(
            sa.Column("supplement", sa.JSON(none_as_null=True), nullable=True)
        )

    with op.batch_alter_table("case", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "department", sa.String(length=100), nullable=False, server_default=""
            )
        )
        batch_op.add_column(
            sa.Column(
                "kind", sa.String(length=16), nullable=False, server_default="promised"
            )
        )
        batch_op.add_column(
            sa.Column("joint", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch_op.add_column(sa.Column("intake_by", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("ticket_id", sa.Integer(), nullable=True))
        batch_op.add_column(
            sa.Column("materials_checked", sa.JSON(none_as_null=True), nullable=True)
        )
        batch_op.add_column(sa.Column("clock_stopped_at", sa.DateTime(), nullable=True))
        batch_op.add_column(
            sa.Column(
                "paused_working_days", sa.Integer(), nullable=False, server_default="0"
            )
        )
        batch_op.add_column(
            sa.Column(
                "supplement_notices", sa.Integer(), nullable=False, server_default="0"
            )
        )
        batch_op.add_column(
            sa.Column(
                "deemed_accepted",
                sa.Boolean(),
                nullable=False,
                server_default=sa.false(),
            )
        )
        batch_op.add_column(
            sa.Column(
                "light", sa.String(length=8), nullable=False, server_default="green"
            )
        )
        batch_op.add_column(sa.Column("handover", sa.String(length=16), nullable=True))

    with op.batch_alter_table("hub_case", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "department", sa.String(length=100), nullable=False, server_default=""
            )
        )
        batch_op.add_column(
            sa.Column(
                "kind", sa.String(length=16), nullable=False, server_default="promised"
            )
        )
        batch_op.add_column(
            sa.Column("joint", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch_op.add_column(
            sa.Column(
                "supplement_notices", sa.Integer(), nullable=False, server_default="0"
            )
        )
        batch_op.add_column(
            sa.Column(
                "light", sa.String(length=8), nullable=False, server_default="green"
            )
        )
        batch_op.add_column(
            sa.Column("warned", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch_op.add_column(
            sa.Column(
                "overdue", sa.Boolean(), nullable=False, server_default=sa.false()
            )
        )
        batch_op.add_column(
            sa.Column(
                "accountability_records",
                sa.Integer(),
                nullable=False,
                server_default="0",
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("hub_case", schema=None) as batch_op:
        batch_op.drop_column("accountability_records")
        batch_op.drop_column("overdue")
        batch_op.drop_column("warned")
        batch_op.drop_column("light")
        batch_op.drop_column("supplement_notices")
        batch_op.drop_column("joint")
        batch_op.drop_column("kind")
        batch_op.drop_column("department")

    with op.batch_alter_table("case", schema=None) as batch_op:
        batch_op.drop_column("handover")
        batch_op.drop_column("light")
        batch_op.drop_column("deemed_accepted")
        batch_op.drop_column("supplement_notices")
        batch_op.drop_column("paused_working_days")
        batch_op.drop_column("clock_stopped_at")
        batch_op.drop_column("materials_checked")
        batch_op.drop_column("ticket_id")
        batch_op.drop_column("intake_by")
        batch_op.drop_column("joint")
        batch_op.drop_column("kind")
        batch_op.drop_column("department")

    with op.batch_alter_table("application", schema=None) as batch_op:
        batch_op.drop_column("supplement")
        batch_op.drop_column("handover")
        batch_op.drop_column("result")

    op.drop_table("supplement_notice")
    with op.batch_alter_table("queue_ticket", schema=None) as batch_op:
        batch_op.drop_index("ix_queue_ticket_day_status")

    op.drop_table("queue_ticket")
    op.drop_table("joint_opinion")
    with op.batch_alter_table("case_step", schema=None) as batch_op:
        batch_op.drop_index("ix_case_step_status")

    op.drop_table("case_step")
    op.drop_table("api_token")
    op.drop_table("accountability_record")
    op.drop_table("user_account")
    op.drop_table("joint_review")
    op.drop_table("service_window")
    op.drop_table("node_setting")
    with op.batch_alter_table("calendar_release", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_calendar_release_year"))

    op.drop_table("calendar_release")
