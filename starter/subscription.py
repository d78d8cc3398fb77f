"""``billhook subscription ...``: subscribe a customer to a plan, inspect, list and cancel."""

from __future__ import annotations

import argparse
import uuid
from datetime import datetime, timedelta
from decimal import Decimal

from config import get_settings
from errors import InvalidInput
from models.billing import (
    PlanVersionSnapshot,
    SubscriptionState,
    SubscriptionStatus,
    SubscriptionWorkflowInput,
)
from models.periods import in_timezone, period_bounds, zone
from starter.billing import (
    local_time,
    money,
    number,
    open_catalog,
    plan_names,
    render_invoices,
    render_subscriptions,
)
from starter.runtime import Subcommands, utcnow
from starter.table import render, render_fields
from store.catalog import Catalog

SUBSCRIPTION_ID_PREFIX = "sub_"
#: The latest first period a subscription may start: further ahead is a typo.
MAX_START_AHEAD = timedelta(days=36525)


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
    show = sub.add_parser("show", help="show a subscription's period, usage and invoices")
    show.add_argument("subscription_id", metavar="SUB")
    show.set_defaults(handler=show_subscription)
    listing = sub.add_parser("list", help="list subscriptions, newest first")
    listing.add_argument("--customer", metavar="C", help="only this customer's")
    listing.add_argument("--status", choices=[s.value for s in SubscriptionStatus])
    listing.set_defaults(handler=list_subscriptions)
    cancel = sub.add_parser("cancel", help="cancel now (final invoice) or at the period's end")
    cancel.add_argument("subscription_id", metavar="SUB")
    cancel.add_argument("--at-period-end", action="store_true", help="end when the period ends")
    cancel.set_defaults(handler=cancel_subscription)


def parse_start(text: str | None, timezone: str) -> datetime:
    """``--start`` as an aware time in ``timezone``; now (whole seconds) when not given.

    Raises:
        InvalidInput: not an ISO 8601 date or time.
    """
    if text is None:
        return in_timezone(utcnow().replace(microsecond=0), timezone)
    try:
        moment = datetime.fromisoformat(text.strip())
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=zone(timezone))
        moment = in_timezone(moment, timezone)
    except (ValueError, OverflowError):  # OverflowError: 0001-01-01 moved to another zone
        raise InvalidInput(
            f"--start {text[:40]!r} is not an ISO 8601 time; give one like 2024-05-01 "
            "or 2024-05-01T09:00:00-04:00"
        ) from None
    if moment - utcnow() > MAX_START_AHEAD:
        raise InvalidInput(
            f"--start {text[:40]!r} is more than 100 years ahead; give a nearer start"
        )
    return moment


def create_subscription(args: argparse.Namespace) -> None:
    """Start a subscription's workflow and print its first period."""
    from starter import billing_temporal  # Temporal: loaded only by the commands that use it

    settings = get_settings()
    catalog = open_catalog(settings)
    customer = catalog.get_customer(args.customer)
    plan = catalog.latest_version(args.plan)
    anchor = parse_start(args.start, customer.timezone)
    _refuse_ended_first_period(anchor, plan)
    input = SubscriptionWorkflowInput(
        subscription_id=SUBSCRIPTION_ID_PREFIX + uuid.uuid4().hex,
        customer=customer,
        plan=plan,
        anchor=anchor,
        auto_renew=not args.no_auto_renew,
    )
    record = billing_temporal.run(settings, catalog, lambda billing: billing.subscribe(input))
    print(f"created subscription {input.subscription_id}")
    print(render_fields(_fields(record, plan, customer.timezone)))


def _refuse_ended_first_period(anchor: datetime, plan: PlanVersionSnapshot) -> None:
    """Refuse a start so far back that periods would be billed in a burst, all at once.

    Raises:
        InvalidInput: the first period ended before now.
    """
    _, end, next_start = period_bounds(anchor, plan.period, 0)
    if next_start <= utcnow():
        raise InvalidInput(
            f"a subscription starting {anchor.isoformat()} on a {plan.period} plan would have "
            f"ended its first period at {end.isoformat(timespec='seconds')}; give a --start "
            "within the current period or later"
        )


def _fields(
    state: SubscriptionState, plan: PlanVersionSnapshot, timezone: str
) -> list[tuple[str, object]]:
    return [
        ("id", state.subscription_id),
        ("customer", state.customer_id),
        ("plan", f"{plan.plan_name} version {plan.version} ({plan.version_id})"),
        ("status", state.status),
        ("auto-renew", "yes" if state.auto_renew else "no"),
        ("period", state.sequence + 1),
        ("period start", local_time(state.period_start, timezone)),
        ("period end", local_time(state.period_end, timezone)),
    ]


def show_subscription(args: argparse.Namespace) -> None:
    """Print a subscription as its workflow sees it, or its last record once it has closed."""
    from starter import billing_temporal  # Temporal: loaded only by the commands that use it

    settings = get_settings()
    catalog = open_catalog(settings)
    sub_id = args.subscription_id
    record = catalog.get_subscription(sub_id)  # an unknown id fails before Temporal is asked
    try:
        live = billing_temporal.run(
            settings, catalog, lambda billing: billing.subscription_state(sub_id)
        )
        source = "its workflow (live)" if live else "the catalog: its workflow has closed"
    except billing_temporal.QueryUnanswered as exc:
        live, source = None, f"the catalog: {exc}"
    state = live or record
    plan = catalog.get_version(state.plan_version_id)
    timezone = catalog.get_customer(state.customer_id).timezone
    print(render_fields([*_fields(state, plan, timezone), ("source", source)]))
    if live is not None:
        _print_usage(live, plan)
    print("\ninvoices")
    print(render_invoices(catalog.list_invoices(subscription_id=sub_id)))


def _print_usage(state: SubscriptionState, plan: PlanVersionSnapshot) -> None:
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


def list_subscriptions(args: argparse.Namespace) -> None:
    """Print subscription records, newest first."""
    catalog = open_catalog(get_settings())
    status = SubscriptionStatus(args.status) if args.status else None
    subscriptions = catalog.list_subscriptions(customer_id=args.customer, status=status)
    print(render_subscriptions(subscriptions, plan_names(catalog)))


def cancel_subscription(args: argparse.Namespace) -> None:
    """Cancel a subscription now or at its period's end, through its workflow."""
    from starter import billing_temporal  # Temporal: loaded only by the commands that use it

    settings = get_settings()
    catalog = open_catalog(settings)
    sub_id = args.subscription_id
    record = catalog.get_subscription(sub_id)  # an unknown id fails before Temporal is asked
    state = billing_temporal.run(
        settings, catalog, lambda billing: billing.cancel(sub_id, args.at_period_end)
    )
    print(f"cancelled subscription {sub_id}; subscription.cancelled is emitted")
    if args.at_period_end:
        end = local_time(state.period_end, _timezone(catalog, record))
        print(f"it stays active until {end}, is invoiced for this period, and does not renew")
    else:
        print("it has ended; its final invoice, for the usage so far, is being issued")


def _timezone(catalog: Catalog, record: SubscriptionState) -> str:
    return catalog.get_customer(record.customer_id).timezone
