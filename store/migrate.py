"""Alembic, driven from code: the migrations live in ``store/migrations``.

``upgrade`` passes the caller's connection to ``migrations/env.py`` through
``Config.attributes``, so it works for any URL and whatever the working directory.
``alembic -c store/alembic.ini ...`` works too, with the URL from the settings.
"""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection

MIGRATIONS = Path(__file__).with_name("migrations")
#: PostgreSQL advisory lock held while migrating ("billhook" in ASCII, as a 64-bit key).
_LOCK_KEY = int.from_bytes(b"billhook", "big")


def alembic_config(connection: Connection | None = None) -> Config:
    """An Alembic configuration for the store's migrations, optionally bound to ``connection``."""
    config = Config()
    # ConfigParser interpolates "%": a path containing one must be escaped.
    config.set_main_option("script_location", str(MIGRATIONS).replace("%", "%%"))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def upgrade(connection: Connection) -> None:
    """Migrate the database behind ``connection`` to the head revision.

    Runs inside the connection's transaction when it has begun one (the caller commits).
    """
    if connection.dialect.name == "postgresql":
        # Workers starting together all upgrade: the lock makes the others wait, then find the
        # schema at head. (SQLite's BEGIN IMMEDIATE already serializes them.)
        connection.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": _LOCK_KEY})
    command.upgrade(alembic_config(connection), "head")


def head_revision() -> str | None:
    """The newest revision the code ships."""
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def current_revision(connection: Connection) -> str | None:
    """The revision the database is at; ``None`` for an empty database."""
    return MigrationContext.configure(connection).get_current_revision()
