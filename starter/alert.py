"""``billhook alert ...``: usage alerts on a plan version's metrics, and their listing."""

from __future__ import annotations

import argparse

from config import get_settings
from models.billing import PlanVersionSnapshot
from starter.billing import number, open_catalog, parse_decimal
from starter.runtime import Subcommands, utcnow
from starter.table import render
from store.catalog import Catalog


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


def create_alert(args: argparse.Namespace) -> None:
    """Create an alert and say which subscriptions it watches."""
    threshold = parse_decimal("alert threshold", args.threshold)
    catalog = open_catalog(get_settings())
    version_id = args.plan_version or catalog.latest_version(args.plan).version_id
    alert = catalog.create_alert(args.metric, version_id, threshold, utcnow())
    version = catalog.get_version(version_id)
    print(
        f"created alert {alert.alert_id}: usage of {alert.metric_id} reaching "
        f"{number(alert.threshold)} in a period"
    )
    print(
        f"it watches subscriptions that start on {version.plan_name} version {version.version} "
        f"({version_id}) from now on, or renew onto it"
    )


def list_alerts(args: argparse.Namespace) -> None:
    """Print usage alerts with the plan version each watches."""
    catalog = open_catalog(get_settings())
    alerts = catalog.list_alerts(args.plan_version)
    versions = _versions_by_alert(catalog)
    rows = []
    for alert in alerts:
        version = versions.get(alert.alert_id)
        plan = f"{version.plan_name} v{version.version}" if version else None
        version_id = version.version_id if version else None
        rows.append((alert.alert_id, plan, version_id, alert.metric_id, number(alert.threshold)))
    print(render(["alert", "plan", "plan version", "metric", "threshold"], rows))


def _versions_by_alert(catalog: Catalog) -> dict[str, PlanVersionSnapshot]:
    """The plan version of every alert (alert snapshots do not name theirs)."""
    return {
        alert.alert_id: version
        for latest in catalog.list_plans()
        for version in catalog.plan_versions(latest.plan_id)
        for alert in version.alerts
    }
