"""Store fixtures: every store test runs on a SQLite file and on a fresh PostgreSQL database.

PostgreSQL is the machine's server at 127.0.0.1:5432 (user ``postgres``, trust auth). When it is
unreachable the tests fail, so a green run always means both databases were exercised; set
``BILLHOOK_TEST_NO_POSTGRES=1`` to skip its half on purpose.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest
import sqlalchemy as sa
from psycopg import sql

from store import Store
from store.catalog import Catalog

POSTGRES_ADMIN = "host=127.0.0.1 port=5432 user=postgres dbname=postgres connect_timeout=5"
POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/{name}"


def _admin() -> psycopg.Connection[tuple[object, ...]]:
    """An autocommit connection to the maintenance database (CREATE/DROP DATABASE need one)."""
    try:
        return psycopg.connect(POSTGRES_ADMIN, autocommit=True)
    except psycopg.OperationalError as exc:
        if os.environ.get("BILLHOOK_TEST_NO_POSTGRES") == "1":
            pytest.skip("PostgreSQL skipped: BILLHOOK_TEST_NO_POSTGRES=1")
        pytest.fail(
            f"PostgreSQL at 127.0.0.1:5432 is unreachable ({exc}); start it, or set "
            "BILLHOOK_TEST_NO_POSTGRES=1 to run the store tests on SQLite only",
            pytrace=False,
        )


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The URL of an empty database: a SQLite file in ``tmp_path``, or a new PostgreSQL database."""
    if request.param == "sqlite":
        # A subdirectory that does not exist yet: from_url must create it.
        yield f"sqlite:///{tmp_path / 'data' / 'billhook.db'}"
        return
    name = f"billhook_test_{uuid.uuid4().hex}"
    with _admin() as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield POSTGRES_URL.format(name=name)
    finally:
        with _admin() as admin:
            # FORCE: a failed test may leave a pooled connection open.
            admin.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


@pytest.fixture
def empty_store(database_url: str) -> Iterator[Store]:
    """A store on an empty, unmigrated database."""
    store = Store.from_url(database_url)
    try:
        yield store
    finally:
        store.engine.dispose()


@pytest.fixture
def store(empty_store: Store) -> Store:
    """A store migrated to the head revision."""
    empty_store.upgrade()
    return empty_store


#: The tables of ``store.catalog``, created by the 0002_catalog migration.
CATALOG_TABLES = (
    "customer",
    "metric",
    "plan",
    "planversion",
    "plancomponent",
    "usagealert",
    "subscription",
    "invoice",
    "invoicesequence",
)


@pytest.fixture
def catalog(store: Store) -> Catalog:
    """A catalog on the migrated store's database."""
    return Catalog(store.engine)


@pytest.fixture
def catalog_rows(catalog: Catalog) -> Callable[[], dict[str, int]]:
    """A function counting the rows of each catalog table: refused input must change nothing."""

    def count() -> dict[str, int]:
        with catalog.engine.connect() as connection:
            return {
                table: connection.scalar(sa.text(f"SELECT count(*) FROM {table}")) or 0
                for table in CATALOG_TABLES
            }

    return count
