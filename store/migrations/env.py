"""Alembic environment: the connection ``store.migrate`` passes in, or one to the settings' URL.

``store.migrate.upgrade`` hands its connection over in ``config.attributes["connection"]``; the
``alembic`` command line gets none and connects to ``BILLHOOK_DATABASE_URL``.
"""

from __future__ import annotations

from logging.config import fileConfig

from alembic import context
from sqlalchemy.engine import Connection
from sqlmodel import SQLModel

import store.tables  # noqa: F401 - registers the tables on SQLModel.metadata
from config import get_settings
from store.engine import create_engine

config = context.config
target_metadata = SQLModel.metadata

# Only the command line configures logging; called from code, the application owns it.
if config.config_file_name is not None and config.attributes.get("connection") is None:
    fileConfig(config.config_file_name, disable_existing_loggers=False)


def run_migrations(connection: Connection) -> None:
    """Run the pending migrations on ``connection``."""
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        compare_type=True,
        # SQLite cannot ALTER most things; batch mode rebuilds tables for later migrations.
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    """Migrate through the given connection, or through a new one to the configured URL."""
    connection = config.attributes.get("connection")
    if connection is not None:
        run_migrations(connection)
        return
    engine = create_engine(get_settings().database_url)
    try:
        with engine.connect() as new_connection:
            run_migrations(new_connection)
    finally:
        engine.dispose()


if context.is_offline_mode():
    raise SystemExit("offline (--sql) migrations are not supported; run against a database")
run_migrations_online()
