"""``billhook alert ...``: usage alerts on a plan version's metrics, and their listing."""

from __future__ import annotations

import argparse

from client.inputs import AlertInput
from config import Settings
from starter.billing import number, parse_decimal
from starter.runtime import Subcommands, open_client
from starter.table import render


def register(commands: Subcommands) -> None:
    """Add ``alert`` and its subcommands to the command line."""
    group = commands.add_parser("alert", help="alert when a subscription's usage crosses a line")
    sub = group.add_subparsers(dest="alert_command", required=True, metavar="COMMAND")
    create = sub.add_parser("create", help="create a usage alert on a plan version")
    create.add_argument("--metric", required=True, metavar="METRIC_ID")
    where = create.add_mutually_exclusive_group(required=True)
    where.add_argument("--plan-version", metavar="VERSION_ID", help="the plan version it watches")
    where.add_argument("--plan", metavar="PLAN_ID", help="the plan's newest version")
    create.add_argument(
        "--threshold", required=True, metavar="N", help="usage in a period that fires the alert"
    )
    create.set_defaults(handler=create_alert)
    listing = sub.add_parser("list", help="list usage alerts, oldest first")
    listing.add_argument("--plan-version", metavar="VERSION_ID", help="only this version's")
    listing.set_defaults(handler=list_alerts)


def create_alert(args: argparse.Namespace, settings: Settings) -> None:
    """Create an alert and say which subscriptions it watches."""
    threshold = parse_decimal("alert threshold", args.threshold)
    request = AlertInput(
        metric_id=args.metric,
        threshold=threshold,
        plan_version_id=args.plan_version,
        plan_id=None if args.plan_version else args.plan,
    )
    with open_client(settings) as billhook:
        created = billhook.alerts.create(request)
    alert, version = created.alert, created.version
    assert version is not None  # the version it was just created on
    print(
        f"created alert {alert.alert_id}: usage of {alert.metric_id} reaching "
        f"{number(alert.threshold)} in a period"
    )
    print(
        f"it watches subscriptions that start on {version.plan_name} version {version.version} "
        f"({version.version_id}) from now on, or renew onto it"
    )


def list_alerts(args: argparse.Namespace, settings: Settings) -> None:
    """Print usage alerts with the plan version each watches."""
    with open_client(settings) as billhook:
        alerts = billhook.alerts.list(args.plan_version)
    rows = []
    for details in alerts:
        alert, version = details.alert, details.version
        plan = f"{version.plan_name} v{version.version}" if version else None
        version_id = version.version_id if version else None
        rows.append((alert.alert_id, plan, version_id, alert.metric_id, number(alert.threshold)))
    print(render(["alert", "plan", "plan version", "metric", "threshold"], rows))
