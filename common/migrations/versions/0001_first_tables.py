"""Create the catalog, sync, application, case and hub tables.

Revision ID: 0001
Revises:
Create Date: 2026-12-04 16:48:00.912954
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "application",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("matter_code", sa.String(length=64), nullable=False),
        sa.Column("release", sa.Integer(), nullable=False),
        sa.Column("handler_code", sa.String(length=12), nullable=False),
        sa.Column("applicant_name", sa.String(length=100), nullable=False),
        sa.Column("applicant_id_number", sa.String(length=18), nullable=False),
        sa.Column("applicant_phone", sa.String(length=20), nullable=False),
        sa.Column("materials", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("filed_at", sa.DateTime(), nullable=False),
        sa.Column("status_changed_at", sa.DateTime(), nullable=False),
        sa.Column("deadline", sa.Date(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_application")),
    )
    op.create_table(
        "case",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("matter_code", sa.String(length=64), nullable=False),
        sa.Column("release", sa.Integer(), nullable=False),
        sa.Column("filed_at_code", sa.String(length=12), nullable=False),
        sa.Column("applicant_name", sa.String(length=100), nullable=False),
        sa.Column("applicant_id_number", sa.String(length=18), nullable=False),
        sa.Column("applicant_phone", sa.String(length=20), nullable=False),
        sa.Column("applicant_pseudonym", sa.String(length=64), nullable=False),
        sa.Column("materials", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("received_at", sa.DateTime(), nullable=False),
        sa.Column("accepted_at", sa.DateTime(), nullable=True),
        sa.Column("deadline", sa.Date(), nullable=True),
        sa.Column("deadline_provisional", sa.Boolean(), nullable=False),
        sa.Column("completed_at", sa.DateTime(), nullable=True),
        sa.Column("working_days_used", sa.Integer(), nullable=True),
        sa.Column("on_time", sa.Boolean(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("result", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case")),
    )
    with op.batch_alter_table("case", schema=None) as batch_op:
        batch_op.create_index("ix_case_status", ["status"], unique=False)

    op.create_table(
        "catalog_release",
        sa.Column("number", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("published_at", sa.DateTime(), nullable=False),
        sa.Column("applied_at", sa.DateTime(), nullable=False),
        sa.Column("content", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("number", name=op.f("pk_catalog_release")),
    )
    op.create_table(
        "counter",
        sa.Column("name", sa.String(length=40), nullable=False),
        sa.Column("value", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_counter")),
    )
    op.create_table(
        "hub_case",
        sa.Column("case_id", sa.String(length=40), nullable=False),
        sa.Column("matter_code", sa.String(length=64), nullable=False),
        sa.Column("release", sa.Integer(), nullable=False),
        sa.Column("handler_code", sa.String(length=12), nullable=False),
        sa.Column("handler_tier", sa.String(length=16), nullable=False),
        sa.Column("county_code", sa.String(length=6), nullable=True),
        sa.Column("filed_at_code", sa.String(length=12), nullable=False),
        sa.Column("applicant_pseudonym", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("promised_limit_working_days", sa.Integer(), nullable=False),
        sa.Column("received_at", sa.DateTime(), nullable=False),
        sa.Column("accepted_at", sa.DateTime(), nullable=True),
        sa.Column("deadline", sa.Date(), nullable=True),
        sa.Column("completed_at", sa.DateTime(), nullable=True),
        sa.Column("working_days_used", sa.Integer(), nullable=True),
        sa.Column("on_time", sa.Boolean(), nullable=True),
        sa.PrimaryKeyConstraint("case_id", name=op.f("pk_hub_case")),
    )
    with op.batch_alter_table("hub_case", schema=None) as batch_op:
        batch_op.create_index(
            "ix_hub_case_county_tier", ["county_code", "handler_tier"], unique=False
        )

    op.create_table(
        "sync_event",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("origin", sa.String(length=12), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("case_id", sa.String(length=40), nullable=True),
        sa.Column("destination", sa.String(length=12), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("received_at", sa.DateTime(), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("personal", sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sync_event")),
        sa.UniqueConstraint("origin", "seq", name=op.f("uq_sync_event_origin")),
    )
    with op.batch_alter_table("sync_event", schema=None) as batch_op:
        batch_op.create_index(
            "ix_sync_event_case_id_kind", ["case_id", "kind"], unique=False
        )
        batch_op.create_index(
            "ix_sync_event_destination_origin_seq",
            ["destination", "origin", "seq"],
            unique=False,
        )

    op.create_table(
        "sync_feed_cursor",
        sa.Column("origin", sa.String(length=12), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("origin", name=op.f("pk_sync_feed_cursor")),
    )
    op.create_table(
        "sync_link",
        sa.Column("peer", sa.String(length=12), nullable=False),
        sa.Column("relation", sa.String(length=8), nullable=False),
        sa.Column("last_contact", sa.DateTime(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("last_error_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("peer", name=op.f("pk_sync_link")),
    )
    op.create_table(
        "sync_origin",
        sa.Column("origin", sa.String(length=12), nullable=False),
        sa.Column("held_seq", sa.Integer(), nullable=False),
        sa.Column("acked_seq", sa.Integer(), nullable=False),
        sa.Column("reported_seq", sa.Integer(), nullable=False),
        sa.Column("last_contact", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("origin", name=op.f("pk_sync_origin")),
    )
    op.create_table(
        "catalog_delegation",
        sa.Column("release", sa.Integer(), nullable=False),
        sa.Column("matter_code", sa.String(length=64), nullable=False),
        sa.Column("region", sa.String(length=12), nullable=False),
        sa.Column("handled_by_tier", sa.String(length=16), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["release"],
            ["catalog_release.number"],
            name=op.f("fk_catalog_delegation_release_catalog_release"),
        ),
        sa.PrimaryKeyConstraint(
            "release", "matter_code", "region", name=op.f("pk_catalog_delegation")
        ),
    )
    op.create_table(
        "catalog_matter",
        sa.Column("release", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("department", sa.String(length=100), nullable=False),
        sa.Column("handling_tier", sa.String(length=16), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("legal_limit_working_days", sa.Integer(), nullable=True),
        sa.Column("promised_limit_working_days", sa.Integer(), nullable=False),
        sa.Column("standard", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["release"],
            ["catalog_release.number"],
            name=op.f("fk_catalog_matter_release_catalog_release"),
        ),
        sa.PrimaryKeyConstraint("release", "code", name=op.f("pk_catalog_matter")),
    )


def downgrade() -> None:
    op.drop_table("catalog_matter")
    op.drop_table("catalog_delegation")
    op.drop_table("sync_origin")
    op.drop_table("sync_link")
    op.drop_table("sync_feed_cursor")
    with op.batch_alter_table("sync_event", schema=None) as batch_op:
        batch_op.drop_index("ix_sync_event_destination_origin_seq")
        batch_op.drop_index("ix_sync_event_case_id_kind")

    op.drop_table("sync_event")
    with op.batch_alter_table("hub_case", schema=None) as batch_op:
        batch_op.drop_index("ix_hub_case_county_tier")

    op.drop_table("hub_case")
    op.drop_table("counter")
    op.drop_table("catalog_release")
    with op.batch_alter_table("case", schema=None) as batch_op:
        batch_op.drop_index("ix_case_status")

    op.drop_table("case")
    op.drop_table("application")
