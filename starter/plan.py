"""``billhook plan ...``: create plans and their versions, show and list them.

Each version is described whole by its options: a new version does not inherit the previous
one's charges. Running subscriptions move to the newest version when they renew.
"""

from __future__ import annotations

import argparse
from decimal import Decimal

from config import Settings
from errors import InvalidInput
from models.billing import ChargeTiming, PlanVersionSnapshot
from starter.billing import money, number, parse_days, parse_decimal, terms_text
from starter.runtime import Subcommands, add_id_command, open_client
from starter.table import render, render_fields
from store.catalog import ComponentSpec, PlanVersionSpec

USAGE_FORM = "METRIC_ID:UNIT_PRICE[:FREE_UNITS]"


#: The plan a subcommand acts on (``add_id_command``).
_ID = ("plan_id", "PLAN_ID")


def register(commands: Subcommands) -> None:
    """Add ``plan`` and its subcommands to the command line."""
    group = commands.add_parser("plan", help="create and inspect plans and their versions")
    sub = group.add_subparsers(dest="plan_command", required=True, metavar="COMMAND")
    create = sub.add_parser("create", help="create a plan and its version 1")
    create.add_argument("name", metavar="NAME")
    _add_version_options(create)
    create.set_defaults(handler=create_plan)
    version = add_id_command(
        sub, "new-version", new_version, _ID, "add a version; subscriptions renew onto it"
    )
    _add_version_options(version)
    add_id_command(sub, "show", show_plan, _ID, "show every version of a plan, charges and alerts")
    sub.add_parser("list", help="list plans (their newest version)").set_defaults(
        handler=list_plans
    )


def _add_version_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--period",
        default="monthly",
        help="monthly, quarterly, yearly, or an ISO 8601 duration like PT30S (default monthly)",
    )
    parser.add_argument("--currency", default="USD", help="three-letter currency code (USD)")
    parser.add_argument("--flat", metavar="AMOUNT", help="a flat charge every period")
    parser.add_argument(
        "--flat-timing",
        choices=[t.value for t in ChargeTiming],
        default=ChargeTiming.IN_ADVANCE.value,
        help="bill the flat charge at the period's start or end (default in_advance)",
    )
    parser.add_argument(
        "--usage",
        action="append",
        default=[],
        metavar=USAGE_FORM,
        help="bill a metric's usage beyond its free units; repeat for more metrics",
    )
    parser.add_argument(
        "--net-terms",
        metavar="DAYS",
        help="days to pay an invoice (default: none; then the organization's, else no due date)",
    )


def version_spec(args: argparse.Namespace) -> PlanVersionSpec:
    """The version the options describe; the catalog checks the rest.

    Raises:
        InvalidInput: an amount, a ``--usage`` or the net terms do not parse.
    """
    flat = None if args.flat is None else parse_decimal("flat amount", args.flat)
    return PlanVersionSpec(
        currency=args.currency,
        period=args.period,
        flat_amount=flat,
        flat_timing=ChargeTiming(args.flat_timing),
        components=[_component(text) for text in args.usage],
        net_terms_days=parse_days(args.net_terms),
    )


def _component(text: str) -> ComponentSpec:
    parts = text.split(":")
    if len(parts) not in (2, 3) or not parts[0].strip():
        raise InvalidInput(
            f"--usage {text!r} is not {USAGE_FORM}; give one like metric_0a1b...:0.01:100"
        )
    metric_id, price, *free = parts
    return ComponentSpec(
        metric_id=metric_id.strip(),
        unit_price=parse_decimal(f"unit price of {metric_id}", price),
        free_units=parse_decimal(f"free units of {metric_id}", free[0]) if free else Decimal(0),
    )


def create_plan(args: argparse.Namespace, settings: Settings) -> None:
    """Create a plan and print its version 1."""
    spec = version_spec(args)
    with open_client(settings) as billhook:
        version = billhook.plans.create(args.name, spec)
    print(f"created plan {version.plan_id} ({version.plan_name}), version 1")
    print_version(version)


def new_version(args: argparse.Namespace, settings: Settings) -> None:
    """Add a version to a plan and print it."""
    spec = version_spec(args)
    with open_client(settings) as billhook:
        version = billhook.plans.new_version(args.plan_id, spec)
    print(f"created version {version.version} of plan {version.plan_id} ({version.plan_name})")
    print("running subscriptions move to it when they renew")
    print_version(version)


def print_version(version: PlanVersionSnapshot) -> None:
    """A version's terms, its usage components and its alerts."""
    flat = version.flat_charge
    fields = [
        ("version", f"{version.version} ({version.version_id})"),
        ("currency", version.currency),
        ("period", version.period),
        ("flat charge", f"{money(flat.amount, version.currency)}, {flat.timing}" if flat else None),
        ("net terms", terms_text(version.net_terms_days)),
    ]
    print(render_fields(fields))
    components = [
        (
            c.metric.metric_id,
            c.metric.name,
            money(c.unit_price, version.currency),
            number(c.free_units),
        )
        for c in version.components
    ]
    print("usage components")
    print(render(["metric", "name", "unit price", "free units"], components))
    alerts = [(a.alert_id, a.metric_id, number(a.threshold)) for a in version.alerts]
    print("usage alerts")
    print(render(["alert", "metric", "threshold"], alerts))


def show_plan(args: argparse.Namespace, settings: Settings) -> None:
    """Print every version of a plan, oldest first."""
    with open_client(settings) as billhook:
        versions = billhook.plans.versions(args.plan_id)
    print(f"plan {args.plan_id} ({versions[-1].plan_name}): {len(versions)} version(s)")
    for version in versions:
        print()
        print_version(version)


def list_plans(args: argparse.Namespace, settings: Settings) -> None:
    """Print every plan with its newest version's terms."""
    with open_client(settings) as billhook:
        versions = billhook.plans.list()
    rows = [
        (
            v.plan_id,
            v.plan_name,
            v.version,
            v.period,
            money(v.flat_charge.amount, v.currency) if v.flat_charge else None,
            [c.metric.name for c in v.components],
            terms_text(v.net_terms_days),
        )
        for v in versions
    ]
    print(render(["id", "name", "version", "period", "flat", "usage", "net terms"], rows))
