"""Migrations build the schema of ``store/tables.py``; ``check_ready`` says what to do when not."""

from __future__ import annotations

import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlmodel import SQLModel
from store_testing import CATALOG_TABLES, foreign_keys

from errors import StoreNotReady
from store import Store

TABLES = {"endpoint", "endpointsecret", "message", "delivery", "attempt", "invoicepdf"}
#: The REST API's (0004).
API_TABLES = {"apikey", "stripeevent", "usagerecord"}
REPO = Path(__file__).resolve().parents[2]


def test_check_ready_before_upgrade_says_to_migrate(empty_store: Store) -> None:
    with pytest.raises(StoreNotReady) as raised:
        empty_store.check_ready()
    assert str(raised.value) == (
        "the store is not migrated (at no revision, head is 0005); run: billhook db upgrade"
    )


def test_upgrade_creates_the_tables_and_check_ready_passes(empty_store: Store) -> None:
    empty_store.upgrade()
    empty_store.check_ready()
    inspector = sa.inspect(empty_store.engine)
    assert set(inspector.get_table_names()) == (
        TABLES | CATALOG_TABLES | API_TABLES | {"alembic_version"}
    )
    with empty_store.engine.connect() as connection:
        assert connection.scalar(sa.text("SELECT version_num FROM alembic_version")) == "0005"


def test_upgrade_twice_is_harmless(empty_store: Store) -> None:
    empty_store.upgrade()
    empty_store.upgrade()
    empty_store.check_ready()


def test_concurrent_upgrades_wait_for_each_other(empty_store: Store) -> None:
    # Several workers starting at once each run the migrations.
    with ThreadPoolExecutor(max_workers=4) as pool:
        list(pool.map(lambda _: empty_store.upgrade(), range(4)))
    empty_store.check_ready()


def test_schema_has_indexes_unique_key_and_cascading_foreign_keys(store: Store) -> None:
    inspector = sa.inspect(store.engine)
    indexes = {table: {index["name"] for index in inspector.get_indexes(table)} for table in TABLES}
    assert indexes["message"] >= {"ix_message_event_type", "ix_message_created_at"}
    assert indexes["delivery"] >= {"ix_delivery_status", "ix_delivery_endpoint_id"}
    assert indexes["attempt"] >= {"ix_attempt_message_id", "ix_attempt_endpoint_id"}
    assert indexes["endpointsecret"] >= {"ix_endpointsecret_endpoint_id"}
    uniques = inspector.get_unique_constraints("message")
    assert [unique["column_names"] for unique in uniques] == [["business_key"]]
    assert foreign_keys(store, TABLES) == {
        ("endpointsecret", ("endpoint_id",), "endpoint", "CASCADE"),
        ("delivery", ("message_id",), "message", "CASCADE"),
        ("delivery", ("endpoint_id",), "endpoint", "CASCADE"),
        ("attempt", ("message_id",), "message", "CASCADE"),
        ("attempt", ("endpoint_id",), "endpoint", "CASCADE"),
    }


def test_migrations_match_the_tables(store: Store) -> None:
    # A change to store/tables.py without a migration shows up here as a difference.
    with store.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        assert compare_metadata(context, SQLModel.metadata) == []


def test_unreachable_database_names_it_without_the_password() -> None:
    store = Store.from_url("postgresql+psycopg://postgres:hunter2@127.0.0.1:9/billhook")
    with pytest.raises(StoreNotReady) as raised:
        store.check_ready()
    message = str(raised.value)
    assert message.startswith(
        "cannot reach the database at postgresql+psycopg://postgres:***@127.0.0.1:9/billhook: "
    )
    assert "hunter2" not in message
    assert "\n" not in message


def test_unreachable_sqlite_file_is_reported_by_upgrade_and_check_ready(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("")
    store = Store.from_url(f"sqlite:///{blocker / 'billhook.db'}")
    expected = (
        f"cannot reach the database at sqlite:///{blocker}/billhook.db: "
        "unable to open database file"
    )
    for call in (store.upgrade, store.check_ready):
        with pytest.raises(StoreNotReady) as raised:
            call()
        assert str(raised.value) == expected


def test_plain_postgresql_urls_use_psycopg() -> None:
    store = Store.from_url("postgresql://postgres@127.0.0.1:5432/postgres")
    assert store.engine.url.drivername == "postgresql+psycopg"


def test_sqlite_from_url_creates_the_directory(tmp_path: Path) -> None:
    database = tmp_path / "a" / "b" / "billhook.db"
    store = Store.from_url(f"sqlite:///{database}")
    store.upgrade()
    store.check_ready()
    with store.engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert connection.exec_driver_sql("PRAGMA busy_timeout").scalar() == 30_000
    store.engine.dispose()
    assert database.is_file()


def test_alembic_command_line_migrates_the_configured_database(
    database_url: str, tmp_path: Path
) -> None:
    # Run from elsewhere: the ini file must not depend on the working directory.
    environment = {**os.environ, "BILLHOOK_DATABASE_URL": database_url}
    alembic = Path(sys.executable).with_name("alembic")
    subprocess.run(
        [str(alembic), "-c", str(REPO / "store" / "alembic.ini"), "upgrade", "head"],
        cwd=tmp_path,
        env=environment,
        check=True,
        capture_output=True,
    )
    store = Store.from_url(database_url)
    try:
        store.check_ready()
    finally:
        store.engine.dispose()
