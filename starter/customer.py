"""``billhook customer ...``: create customers (through their workflow), show and list them."""

from __future__ import annotations

import argparse

from config import get_settings
from models.billing import CustomerSnapshot
from starter.billing import (
    open_catalog,
    parse_days,
    plan_names,
    render_invoices,
    render_subscriptions,
)
from starter.runtime import Subcommands
from starter.table import render, render_fields
from store.catalog import check_customer


def register(commands: Subcommands) -> None:
    """Add ``customer`` and its subcommands to the command line."""
    group = commands.add_parser("customer", help="create and inspect customers")
    sub = group.add_subparsers(dest="customer_command", required=True, metavar="COMMAND")
    create = sub.add_parser("create", help="create a customer and emit customer.created")
    create.add_argument("customer_id", metavar="ID", help="your own id for the customer")
    create.add_argument("--name", help="the customer's name")
    create.add_argument("--email", help="the billing email address")
    create.add_argument("--timezone", default="UTC", help="IANA timezone of its billing periods")
    create.add_argument("--currency", default="USD", help="three-letter currency code (USD)")
    create.add_argument(
        "--net-terms", metavar="DAYS", help="days to pay an invoice, overriding the plan's"
    )
    create.set_defaults(handler=create_customer)
    show = sub.add_parser("show", help="show a customer with its subscriptions and invoices")
    show.add_argument("customer_id", metavar="ID")
    show.set_defaults(handler=show_customer)
    sub.add_parser("list", help="list customers").set_defaults(handler=list_customers)


def create_customer(args: argparse.Namespace) -> None:
    """Check the customer, then start its workflow and wait for ``customer.created``."""
    from starter import billing_temporal  # Temporal: loaded only by the commands that use it

    settings = get_settings()
    customer = CustomerSnapshot(
        customer_id=args.customer_id,
        name=args.name,
        email=args.email,
        timezone=args.timezone,
        currency=args.currency,
        net_terms_days=parse_days(args.net_terms),
    )
    check_customer(customer)
    catalog = open_catalog(settings)
    if catalog.customer_exists(customer.customer_id):
        raise billing_temporal.customer_exists(customer.customer_id)
    message_id = billing_temporal.run(
        settings, catalog, lambda billing: billing.create_customer(customer)
    )
    print(f"created customer {customer.customer_id}")
    print(render_fields(_fields(customer)))
    print(
        f"customer.created emitted as {message_id}; follow it: billhook message show {message_id}"
    )


def _fields(customer: CustomerSnapshot) -> list[tuple[str, object]]:
    terms = customer.net_terms_days
    return [
        ("id", customer.customer_id),
        ("name", customer.name),
        ("email", customer.email),
        ("timezone", customer.timezone),
        ("currency", customer.currency),
        ("net terms", "the plan's" if terms is None else f"{terms} days"),
    ]


def show_customer(args: argparse.Namespace) -> None:
    """Print a customer's details, then its subscriptions and its invoices."""
    catalog = open_catalog(get_settings())
    customer = catalog.get_customer(args.customer_id)
    print(render_fields(_fields(customer)))
    subscriptions = catalog.list_subscriptions(customer_id=customer.customer_id)
    print("\nsubscriptions")
    print(render_subscriptions(subscriptions, plan_names(catalog)))
    print("\ninvoices")
    print(render_invoices(catalog.list_invoices(customer_id=customer.customer_id)))


def list_customers(args: argparse.Namespace) -> None:
    """Print every customer, oldest first."""
    customers = open_catalog(get_settings()).list_customers()
    rows = [
        (c.customer_id, c.name, c.email, c.timezone, c.currency, c.net_terms_days)
        for c in customers
    ]
    print(render(["id", "name", "email", "timezone", "currency", "net terms (days)"], rows))
