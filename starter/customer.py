"""``billhook customer ...``: create customers (through their workflow), show and list them."""

from __future__ import annotations

import argparse

from config import Settings
from errors import InvalidInput
from models.address import Address, parse_address
from models.billing import CustomerSnapshot
from starter.billing import parse_days, render_invoices, render_subscriptions
from starter.runtime import Subcommands, add_id_command, open_client
from starter.table import render, render_fields

#: The customer a subcommand acts on (``add_id_command``).
_ID = ("customer_id", "ID")


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
    for option, what in ADDRESS_OPTIONS:
        create.add_argument(
            option,
            metavar="KEY=VALUE",
            action="append",
            help=f"{what}, one field each time: line1=... city=... country=US (also line2, "
            "state, postal_code)",
        )
    create.set_defaults(handler=create_customer)
    add_id_command(
        sub, "show", show_customer, _ID, "show a customer with its subscriptions and invoices"
    )
    sub.add_parser("list", help="list customers").set_defaults(handler=list_customers)


#: The address options of ``customer create``, and what each gives.
ADDRESS_OPTIONS = [
    ("--address", "the customer's postal address"),
    ("--billing-address", "the address invoices show (default: --address)"),
    ("--shipping-address", "the shipping address"),
]


def _address(option: str, pairs: list[str] | None) -> Address | None:
    """The address given by ``option``'s ``KEY=VALUE`` pairs, if any."""
    if not pairs:
        return None
    try:
        return parse_address(pairs)
    except ValueError as error:
        raise InvalidInput(f"{option}: {error}") from None


def create_customer(args: argparse.Namespace, settings: Settings) -> None:
    """Create a customer through its workflow and say which message announced it."""
    customer = CustomerSnapshot(
        customer_id=args.customer_id,
        name=args.name,
        email=args.email,
        timezone=args.timezone,
        currency=args.currency,
        net_terms_days=parse_days(args.net_terms),
        address=_address("--address", args.address),
        billing_address=_address("--billing-address", args.billing_address),
        shipping_address=_address("--shipping-address", args.shipping_address),
    )
    with open_client(settings) as billhook:
        created = billhook.customers.create(customer)
    message_id = created.message_id
    print(f"created customer {customer.customer_id}")
    print(render_fields(_fields(created.customer)))
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
        ("net terms", "the plan's, else the organization's" if terms is None else f"{terms} days"),
        ("address", one_line(customer.address)),
        ("billing address", one_line(customer.billing_address)),
        ("shipping address", one_line(customer.shipping_address)),
    ]


def one_line(address: Address | None) -> str | None:
    """``548 Market St, San Francisco, CA 94104, US``: an address on one line."""
    if address is None:
        return None
    region = " ".join(part for part in (address.state, address.postal_code) if part)
    parts = (address.line1, address.line2, address.city, region, address.country)
    return ", ".join(part for part in parts if part)


def show_customer(args: argparse.Namespace, settings: Settings) -> None:
    """Print a customer's details, then its subscriptions and its invoices."""
    with open_client(settings) as billhook:
        details = billhook.customers.show(args.customer_id)
    print(render_fields(_fields(details.customer)))
    print("\nsubscriptions")
    print(render_subscriptions(details.subscriptions))
    print("\ninvoices")
    print(render_invoices(details.invoices))


def list_customers(args: argparse.Namespace, settings: Settings) -> None:
    """Print every customer, oldest first."""
    with open_client(settings) as billhook:
        customers = billhook.customers.list()
    rows = [
        (c.customer_id, c.name, c.email, c.timezone, c.currency, c.net_terms_days)
        for c in customers
    ]
    print(render(["id", "name", "email", "timezone", "currency", "net terms (days)"], rows))
