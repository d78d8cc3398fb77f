"""Customers: create once, read back whole, refuse bad input without writing anything."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command
from store_testing import T0

from errors import Conflict, InvalidInput, NotFound
from models.address import Address
from models.billing import CustomerSnapshot
from store import Store, migrate
from store.catalog import Catalog
from store.tables import UTCDateTime

ACME = CustomerSnapshot(
    customer_id="acme-42",
    name="Acme Corp",
    email="billing@acme.example",
    timezone="Europe/Paris",
    currency="EUR",
    net_terms_days=15,
    address=Address(
        line1="8 rue de la Paix", line2="3e étage", city="Paris", postal_code="75002",
        state=None, country="FR",
    ),
    billing_address=Address(line1="BP 12", city="Lyon", country="FR"),
    shipping_address=Address(line1="Quai 4", city="Le Havre", postal_code="76600", country="FR"),
)  # fmt: skip


def test_create_then_get_returns_every_field(catalog: Catalog) -> None:
    created = catalog.create_customer(ACME, T0)
    assert created == ACME
    assert catalog.get_customer("acme-42") == ACME
    assert catalog.customer_exists("acme-42")


def test_defaults_round_trip(catalog: Catalog) -> None:
    catalog.create_customer(CustomerSnapshot(customer_id="bare"), T0)
    assert catalog.get_customer("bare") == CustomerSnapshot(
        customer_id="bare",
        name=None,
        email=None,
        timezone="UTC",
        currency="USD",
        net_terms_days=None,
        address=None,
        billing_address=None,
        shipping_address=None,
    )


def test_list_is_oldest_first(catalog: Catalog) -> None:
    catalog.create_customer(CustomerSnapshot(customer_id="second"), T0 + timedelta(seconds=1))
    catalog.create_customer(CustomerSnapshot(customer_id="first"), T0)
    assert [c.customer_id for c in catalog.list_customers()] == ["first", "second"]


def test_existing_id_is_a_conflict_and_keeps_the_original(
    catalog: Catalog, catalog_rows: Callable[[], dict[str, int]]
) -> None:
    catalog.create_customer(ACME, T0)
    before = catalog_rows()
    with pytest.raises(Conflict) as raised:
        catalog.create_customer(ACME.model_copy(update={"name": "Impostor"}), T0)
    assert str(raised.value) == (
        "customer acme-42 exists already; choose another customer_id, or use the existing customer"
    )
    assert catalog.get_customer("acme-42").name == "Acme Corp"
    assert catalog_rows() == before


def test_unknown_customer_is_not_found(catalog: Catalog) -> None:
    assert not catalog.customer_exists("ghost")
    with pytest.raises(NotFound) as raised:
        catalog.get_customer("ghost")
    assert str(raised.value) == "no customer ghost; list them with: billhook customer list"


def test_customer_id_of_100_characters_is_accepted(catalog: Catalog) -> None:
    catalog.create_customer(CustomerSnapshot(customer_id="x" * 100), T0)
    assert catalog.customer_exists("x" * 100)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"customer_id": ""}, "customer_id '' must be 1 to 100 characters"),
        ({"customer_id": "   "}, "customer_id '   ' must be 1 to 100 characters"),
        ({"customer_id": "x" * 101}, "must be 1 to 100 characters, not all blank"),
        ({"timezone": "Mars/Olympus_Mons"}, "unknown timezone 'Mars/Olympus_Mons'; use an IANA"),
        ({"timezone": "../etc/passwd"}, "unknown timezone '../etc/passwd'"),
        ({"timezone": ""}, "unknown timezone ''"),
        ({"currency": "eur"}, "currency 'eur' must be 3 upper-case letters, like USD or EUR"),
        ({"currency": "EURO"}, "currency 'EURO' must be 3 upper-case letters"),
        ({"currency": "E1R"}, "currency 'E1R' must be 3 upper-case letters"),
        ({"email": "billing.acme.example"}, "email 'billing.acme.example' has no @; give an"),
        ({"email": ""}, "email '' has no @"),
        ({"net_terms_days": -1}, "net terms of -1 days are negative; give 0 days or more"),
        (
            {"address": Address(line1="8 rue de la Paix", country="FR")},
            "the address has no city (it needs at least line1, city, country)",
        ),
        (
            {"billing_address": Address(line1="BP 12", city="Lyon", country="fr")},
            "the billing address country 'fr' is not a two-letter ISO 3166 code",
        ),
        (
            {"shipping_address": Address(line1="Quai\u202e4", city="Le Havre", country="FR")},
            "the shipping address's line1 contains the control or bidirectional character U+202E",
        ),
        (
            {"address": Address(line1="x" * 201, city="Paris", country="FR")},
            "the address's line1 is 201 characters long; give at most 200",
        ),
    ],
)
def test_bad_input_is_refused_and_writes_nothing(
    catalog: Catalog,
    catalog_rows: Callable[[], dict[str, int]],
    changes: dict[str, Any],
    message: str,
) -> None:
    customer = ACME.model_copy(update=changes)
    with pytest.raises(InvalidInput) as raised:
        catalog.create_customer(customer, T0)
    assert message in str(raised.value)
    assert "\n" not in str(raised.value)
    assert set(catalog_rows().values()) == {0}


def test_0005_keeps_existing_customers_without_addresses_and_downgrades(
    empty_store: Store,
) -> None:
    customers = sa.table(
        "customer",
        sa.column("id"),
        sa.column("timezone"),
        sa.column("currency"),
        sa.column("created_at", UTCDateTime()),
    )
    with empty_store.engine.connect() as connection, connection.begin():
        command.upgrade(migrate.alembic_config(connection), "0003")
    with empty_store.engine.begin() as connection:
        row = {"id": "old", "timezone": "UTC", "currency": "USD", "created_at": T0}
        connection.execute(sa.insert(customers).values(row))

    empty_store.upgrade()
    catalog = Catalog(empty_store.engine)
    catalog.create_customer(ACME.model_copy(update={"customer_id": "new"}), T0)

    old = catalog.get_customer("old")
    assert (old.address, old.billing_address, old.shipping_address) == (None, None, None)
    assert catalog.get_customer("new").billing_address == ACME.billing_address
    with empty_store.engine.connect() as connection, connection.begin():
        command.downgrade(migrate.alembic_config(connection), "0003")
    columns = {c["name"] for c in sa.inspect(empty_store.engine).get_columns("customer")}
    assert not columns & {"address", "billing_address", "shipping_address"}
