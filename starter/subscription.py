"""``billhook subscription ...``: subscribe a customer to a plan, inspect, list and cancel."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from decimal import Decimal

from client.inputs import SubscriptionInput
from client.lifecycle import MAX_START_AHEAD
from client.results import SubscriptionDetails, SubscriptionView
from config import Settings
from errors import InvalidInput
from models.billing import CancelInput, SubscriptionStatus
from starter.billing import local_time, money, number, render_invoices, render_subscriptions
from starter.runtime import Subcommands, add_id_command, open_client, utcnow
from starter.table import render, render_fields

#: The subscription a subcommand acts on (``add_id_command``).
_ID = ("subscription_id", "SUB")


def register(commands: Subcommands) -> None:
    """Add ``subscription`` and its subcommands to the command line."""
    group = commands.add_parser("subscription", help="subscribe customers to plans")
    sub = group.add_subparsers(dest="subscription_command", required=True, metavar="COMMAND")
    create = sub.add_parser("create", help="subscribe a customer to a plan's newest version")
    create.add_argument("--customer", required=True, metavar="ID")
    create.add_argument("--plan", required=True, metavar="PLAN_ID")
    create.add_argument(
        "--start",
        metavar="TIME",
        help="ISO 8601 start of the first period (naive: the customer's timezone); default now",
    )
    create.add_argument("--no-auto-renew", action="store_true", help="end after one period")
    create.set_defaults(handler=create_subscription)
    add_id_command(
        sub, "show", show_subscription, _ID, "show a subscription's period, usage and invoices"
    )
    listing = sub.add_parser("list", help="list subscriptions, newest first")
    listing.add_argument("--customer", metavar="C", help="only this customer's")
    listing.add_argument("--status", choices=[s.value for s in SubscriptionStatus])
    listing.set_defaults(handler=list_subscriptions)
    cancel = add_id_command(
        sub, "cancel", cancel_subscription, _ID, "cancel now (final invoice) or at the period's end"
    )
    cancel.add_argument("--at-period-end", action="store_true", help="end when the period ends")


def parse_start(text: str | None) -> datetime | None:
    """``--start`` as a time (naive: the customer's clock, which the client applies); None if
    not given.

    Raises:
        InvalidInput: not an ISO 8601 date or time, or more than 100 years ahead.
    """
    if text is None:
        return None
    try:
        moment = datetime.fromisoformat(text.strip())
        aware = moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
        ahead = aware.astimezone(UTC) - utcnow()
    except (ValueError, OverflowError):  # OverflowError: 0001-01-01 moved to another zone
        raise InvalidInput(
            f"--start {text[:40]!r} is not an ISO 8601 time; give one like 2024-05-01 "
            "or 2024-05-01T09:00:00-04:00"
        ) from None
    if ahead > MAX_START_AHEAD:
        raise InvalidInput(
            f"--start {text[:40]!r} is more than 100 years ahead; give a nearer start"
        )
    return moment


def create_subscription(args: argparse.Namespace, settings: Settings) -> None:
    """Start a subscription's workflow and print its first period."""
    request = SubscriptionInput(
        customer_id=args.customer,
        plan_id=args.plan,
        start=parse_start(args.start),
        auto_renew=not args.no_auto_renew,
    )
    with open_client(settings) as billhook:
        created = billhook.subscriptions.create(request)
    print(f"created subscription {created.state.subscription_id}")
    print(render_fields(_fields(created)))


def _fields(view: SubscriptionView) -> list[tuple[str, object]]:
    state, plan = view.state, view.plan
    return [
        ("id", state.subscription_id),
        ("customer", state.customer_id),
        ("plan", f"{plan.plan_name} version {plan.version} ({plan.version_id})"),
        ("status", state.status),
        ("auto-renew", "yes" if state.auto_renew else "no"),
        ("period", state.sequence + 1),
        ("period start", local_time(state.period_start, view.timezone)),
        ("period end", local_time(state.period_end, view.timezone)),
    ]


def show_subscription(args: argparse.Namespace, settings: Settings) -> None:
    """Print a subscription as its workflow sees it, or its last record once it has closed."""
    with open_client(settings) as billhook:
        details = billhook.subscriptions.show(args.subscription_id)
    if details.live:
        source = "its workflow (live)"
    elif details.unanswered is not None:
        source = f"the catalog: {details.unanswered}"
    else:
        source = "the catalog: its workflow has closed"
    print(render_fields([*_fields(details), ("source", source)]))
    if details.live:
        _print_usage(details)
    print("\ninvoices")
    print(render_invoices(details.invoices))


def _print_usage(details: SubscriptionDetails) -> None:
    state, plan = details.state, details.plan
    usage = [
        (
            c.metric.metric_id,
            c.metric.name,
            number(state.usage.get(c.metric.metric_id, Decimal(0))),
            number(c.free_units),
            money(c.unit_price, plan.currency),
        )
        for c in plan.components
    ]
    print("\nusage this period")
    print(render(["metric", "name", "usage", "free units", "unit price"], usage))
    alerts = [
        (
            a.alert_id,
            a.metric_id,
            number(a.threshold),
            "yes" if a.alert_id in state.alerts_fired else "no",
        )
        for a in plan.alerts
    ]
    print("\nusage alerts")
    print(render(["alert", "metric", "threshold", "fired this period"], alerts))


def list_subscriptions(args: argparse.Namespace, settings: Settings) -> None:
    """Print subscription records, newest first."""
    status = SubscriptionStatus(args.status) if args.status else None
    with open_client(settings) as billhook:
        subscriptions = billhook.subscriptions.list(customer_id=args.customer, status=status)
    print(render_subscriptions(subscriptions))


def cancel_subscription(args: argparse.Namespace, settings: Settings) -> None:
    """Cancel a subscription now or at its period's end, through its workflow."""
    sub_id = args.subscription_id
    with open_client(settings) as billhook:
        cancelled = billhook.subscriptions.cancel(
            sub_id, CancelInput(at_period_end=args.at_period_end)
        )
    print(f"cancelled subscription {sub_id}")
    if args.at_period_end:
        end = local_time(cancelled.state.period_end, cancelled.timezone)
        print(f"it stays active until {end}, is invoiced for this period, and does not renew;")
        print("subscription.cancelled is emitted then, with its final invoice")
    else:
        print("it has ended; subscription.cancelled is emitted with its final invoice, for the")
        print("usage so far")
