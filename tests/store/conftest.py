"""Store fixtures: every store test runs on a SQLite file and on a fresh PostgreSQL database.

PostgreSQL is the machine's server at 127.0.0.1:5432 (user ``postgres``, trust auth). When it is
unreachable the tests fail, so a green run always means both databases were exercised; set
``BILLHOOK_TEST_NO_POSTGRES=1`` to skip its half on purpose.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from store import Store
from store.catalog import Catalog
from tests.conftest import postgres_database


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The URL of an empty database: a SQLite file in ``tmp_path``, or a new PostgreSQL database."""
    if request.param == "sqlite":
        # A subdirectory that does not exist yet: from_url must create it.
        yield f"sqlite:///{tmp_path / 'data' / 'billhook.db'}"
        return
    with postgres_database() as url:
        yield url


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
