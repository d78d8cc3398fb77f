"""``billhook usage record``: add a batch of usage to a subscription's current period."""

from __future__ import annotations

import argparse
import uuid

from config import Settings
from errors import BillhookError, Conflict, InvalidInput, NotFound, StoreNotReady
from models.billing import UsageInput, UsageResult
from starter.billing import number, parse_decimal
from starter.runtime import Subcommands, open_client


def register(commands: Subcommands) -> None:
    """Add ``usage`` and its ``record`` subcommand to the command line."""
    group = commands.add_parser("usage", help="record usage of subscriptions")
    sub = group.add_subparsers(dest="usage_command", required=True, metavar="COMMAND")
    record = sub.add_parser("record", help="add usage of a metric to the current period")
    record.add_argument("subscription_id", metavar="SUB")
    record.add_argument("metric_id", metavar="METRIC_ID")
    record.add_argument("quantity", metavar="QUANTITY")
    record.add_argument(
        "--key",
        metavar="K",
        help="idempotency key: a batch with a key seen before is ignored (default: a new one)",
    )
    record.set_defaults(handler=record_usage)


def record_usage(args: argparse.Namespace, settings: Settings) -> None:
    """Record the batch through the subscription's workflow and report what it did."""
    quantity = parse_decimal("quantity", args.quantity)
    # A new key unless given: printed with the outcome, and with any error after which the
    # batch may still be recorded, so that a retry with it cannot count twice.
    key = args.key or uuid.uuid4().hex
    usage = UsageInput(metric_id=args.metric_id, quantity=quantity, idempotency_key=key)
    try:
        with open_client(settings) as billhook:
            result = billhook.usage.record(args.subscription_id, usage)
    except (InvalidInput, NotFound, Conflict, StoreNotReady):
        raise  # refused, or nothing was asked yet: nothing was recorded
    except BillhookError as exc:
        raise BillhookError(f"{exc}; retry with --key {key} so that the batch counts once") from exc
    _print_result(usage, result)


def _print_result(usage: UsageInput, result: UsageResult) -> None:
    metric = usage.metric_id
    if result.accepted:
        print(f"accepted {number(usage.quantity)} of {metric} (key {usage.idempotency_key})")
    else:
        print(f"duplicate: key {usage.idempotency_key} was recorded before; nothing was added")
    print(f"usage of {metric} this period: {number(result.usage)}")
    if result.alerts_triggered:
        print(f"alerts triggered: {', '.join(result.alerts_triggered)} (usage_alert.triggered)")
    else:
        print("alerts triggered: none")
