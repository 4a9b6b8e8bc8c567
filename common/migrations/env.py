"""Alembic environment: runs on the connection that ``common.migrate`` passes."""

from alembic import context
from sqlalchemy import engine_from_config, pool

import common.assessment_models  # noqa: F401  (registers the tables)
import common.evaluation_models  # noqa: F401
import common.hotline_models  # noqa: F401
import common.models  # noqa: F401
import common.release_piece_models  # noqa: F401
import hub.models  # noqa: F401
import hub.rollup_models  # noqa: F401
import hub.snapshot_models  # noqa: F401
from common.db import Base

config = context.config
target_metadata = Base.metadata


def run_migrations(connection) -> None:  # type: ignore[no-untyped-def]
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()


connection = config.attributes.get("connection")
if connection is not None:
    run_migrations(connection)
else:
    engine = engine_from_config(
        config.get_section(config.config_ini_section, {}),
        prefix="sqlalchemy.",
        poolclass=pool.NullPool,
    )
    with engine.connect() as connection:
        run_migrations(connection)
