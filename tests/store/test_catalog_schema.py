"""The 0002_catalog migration: keys, indexes and foreign keys; downgrade; the ``Money`` type."""

from __future__ import annotations

from decimal import Decimal

import pytest
import sqlalchemy as sa
from alembic import command
from sqlalchemy.dialects import postgresql, sqlite
from store_testing import CATALOG_TABLES, foreign_keys

from store import Store, migrate
from store.tables import Money


def test_catalog_tables_have_their_keys_and_indexes(store: Store) -> None:
    inspector = sa.inspect(store.engine)
    indexes = {
        table: {index["name"] for index in inspector.get_indexes(table)} for table in CATALOG_TABLES
    }
    assert indexes["plancomponent"] >= {"ix_plancomponent_metric_id"}
    assert indexes["usagealert"] >= {"ix_usagealert_plan_version_id"}
    assert indexes["subscription"] >= {"ix_subscription_customer_id", "ix_subscription_status"}
    assert indexes["invoice"] >= {
        "ix_invoice_subscription_id",
        "ix_invoice_customer_id",
        "ix_invoice_issue_date",
        "ix_invoice_payment_status",
    }
    uniques = {
        table: [unique["column_names"] for unique in inspector.get_unique_constraints(table)]
        for table in ("planversion", "invoice")
    }
    assert uniques == {"planversion": [["plan_id", "version"]], "invoice": [["invoice_number"]]}
    assert inspector.get_pk_constraint("plancomponent")["constrained_columns"] == [
        "plan_version_id",
        "metric_id",
    ]


def test_catalog_foreign_keys(store: Store) -> None:
    assert foreign_keys(store, CATALOG_TABLES) == {
        ("planversion", ("plan_id",), "plan", "CASCADE"),
        ("plancomponent", ("plan_version_id",), "planversion", "CASCADE"),
        ("plancomponent", ("metric_id",), "metric", None),
        ("usagealert", ("plan_version_id", "metric_id"), "plancomponent", "CASCADE"),
    }


def test_downgrade_to_0001_drops_the_catalog_and_upgrade_restores_it(store: Store) -> None:
    with store.engine.connect() as connection, connection.begin():
        command.downgrade(migrate.alembic_config(connection), "0001")
    assert not CATALOG_TABLES & set(sa.inspect(store.engine).get_table_names())
    store.upgrade()
    store.check_ready()
    assert set(sa.inspect(store.engine).get_table_names()) >= CATALOG_TABLES


@pytest.mark.parametrize("dialect", [postgresql.dialect(), sqlite.dialect()], ids=["pg", "sqlite"])
def test_money_refuses_what_it_cannot_hold_exactly(dialect: sa.Dialect) -> None:
    money = Money()
    assert money.process_bind_param(Decimal("1.5"), dialect) in (Decimal("1.500000"), "1.500000")
    for value in (Decimal("0.0000001"), Decimal("1E+14"), Decimal("NaN")):
        with pytest.raises(ValueError, match="does not fit NUMERIC"):
            money.process_bind_param(value, dialect)
