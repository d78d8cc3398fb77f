"""Engines for the two supported databases: a SQLite file (development) and PostgreSQL."""

from __future__ import annotations

import contextlib
import sqlite3
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import URL, Engine

#: How long a SQLite writer waits for another one before giving up ("database is locked").
SQLITE_BUSY_TIMEOUT_MS = 30_000


def create_engine(url: str | URL) -> Engine:
    """An engine for ``url``, tuned for its database.

    SQLite files get their directory created, foreign keys enforced (SQLite ignores them unless
    asked), WAL so a reader elsewhere (a shell, a backup) does not block billhook's writes,
    synced at checkpoints (``synchronous = NORMAL``), and a busy timeout. PostgreSQL
    connections are pinged before use, since a worker can sit idle past a server or proxy
    timeout; a plain ``postgresql://`` URL gets the psycopg 3 driver.
    """
    parsed = sa.make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        # psycopg 3 is the driver billhook ships; SQLAlchemy's default would be psycopg2.
        parsed = parsed.set(drivername="postgresql+psycopg")
    if parsed.get_backend_name() == "sqlite":
        return _sqlite_engine(parsed)
    if parsed.get_backend_name() == "postgresql":
        return sa.create_engine(parsed, pool_pre_ping=True)
    return sa.create_engine(parsed)


def display_url(url: str | URL) -> str:
    """``url`` with its password masked, fit for messages and logs."""
    return sa.make_url(url).render_as_string(hide_password=True)


def _sqlite_engine(url: URL) -> Engine:
    database = url.database or ""
    in_memory = database in ("", ":memory:") or "mode=memory" in database
    if not in_memory and not database.startswith("file:"):
        # When this fails, connecting fails too, and check_ready reports it in one line.
        with contextlib.suppress(OSError):
            Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
    engine = sa.create_engine(url)
    sa.event.listen(engine, "connect", _on_sqlite_connect)
    sa.event.listen(engine, "begin", _on_sqlite_begin)
    return engine


def _on_sqlite_connect(dbapi_connection: sqlite3.Connection, _record: Any) -> None:
    # SQLAlchemy emits BEGIN itself (below); the driver's own, lazy BEGIN would leave reads and
    # DDL outside the transaction.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA foreign_keys = ON")
    cursor.execute("PRAGMA journal_mode = WAL")
    # In WAL mode NORMAL syncs at checkpoints, not at every commit: a commit survives the
    # process dying (a killed worker), not the machine losing power, the same as the embedded
    # dev server's own file (models.search.DEV_SERVER_PRAGMAS). A write then holds the one
    # writer's lock for no fsync, which bounds a burst of renewals. Production runs PostgreSQL.
    cursor.execute("PRAGMA synchronous = NORMAL")
    cursor.close()


def _on_sqlite_begin(connection: sa.Connection) -> None:
    # IMMEDIATE takes the write lock up front: a deferred transaction that reads and then writes
    # fails at once with "database is locked" when another writer got there first, instead of
    # waiting out the busy timeout.
    connection.exec_driver_sql("BEGIN IMMEDIATE")
