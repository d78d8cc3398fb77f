"""``billhook metric ...``: define what usage counts (or sums), and list the metrics."""

from __future__ import annotations

import argparse

from client.inputs import MetricInput
from config import Settings
from errors import InvalidInput
from models.billing import Aggregation, MetricSnapshot
from starter.runtime import Subcommands, open_client
from starter.table import Cell, render, render_fields

#: What a metric shows: the columns of its listing, and its details once created.
_COLUMNS = ("id", "name", "event", "aggregation", "property")


def register(commands: Subcommands) -> None:
    """Add ``metric`` and its subcommands to the command line."""
    group = commands.add_parser("metric", help="define and list usage metrics")
    sub = group.add_subparsers(dest="metric_command", required=True, metavar="COMMAND")
    create = sub.add_parser("create", help="create a metric")
    create.add_argument("name", metavar="NAME", help="a label, like 'API calls'")
    create.add_argument("--event", required=True, metavar="EVENT_NAME", help="events it measures")
    create.add_argument(
        "--aggregation",
        choices=[a.value for a in Aggregation],
        default=Aggregation.COUNT.value,
        help="count the events, or sum a property of them (default count)",
    )
    create.add_argument("--property", metavar="P", help="the property a sum adds up")
    create.set_defaults(handler=create_metric)
    sub.add_parser("list", help="list metrics").set_defaults(handler=list_metrics)


def create_metric(args: argparse.Namespace, settings: Settings) -> None:
    """Create a metric and print its id."""
    aggregation = Aggregation(args.aggregation)
    if aggregation is Aggregation.SUM and args.property is None:
        raise InvalidInput("a sum metric adds up a property of its events; give --property")
    request = MetricInput(
        name=args.name,
        event_name=args.event,
        aggregation=aggregation,
        property_name=args.property,
    )
    with open_client(settings) as billhook:
        metric = billhook.metrics.create(request)
    print(f"created metric {metric.metric_id}")
    details = list(zip(_COLUMNS, _cells(metric), strict=True))
    print(render_fields(details[1:]))  # its id is on the line above
    print(f"bill it in a plan: billhook plan create NAME --usage {metric.metric_id}:UNIT_PRICE")


def list_metrics(args: argparse.Namespace, settings: Settings) -> None:
    """Print every metric, oldest first."""
    with open_client(settings) as billhook:
        metrics = billhook.metrics.list()
    print(render(_COLUMNS, [_cells(metric) for metric in metrics]))


def _cells(metric: MetricSnapshot) -> tuple[Cell, ...]:
    """``metric``'s values under ``_COLUMNS``."""
    return (
        metric.metric_id,
        metric.name,
        metric.event_name,
        metric.aggregation,
        metric.property_name,
    )
