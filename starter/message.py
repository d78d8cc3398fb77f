"""``billhook message ...``: list and inspect emitted messages, and resend one by hand."""

from __future__ import annotations

import argparse
import asyncio
import json

from config import get_settings
from errors import Conflict
from models.delivery import DeliveryStatus, ManualDeliveryProgress
from models.events import EventType
from starter.attempt import attempt_result
from starter.runtime import Subcommands, open_store, positive_int
from starter.table import render, render_fields
from store import Store
from store.store import MessageSummary


def register(commands: Subcommands) -> None:
    """Add ``message`` and its subcommands to the command line."""
    group = commands.add_parser("message", help="inspect emitted messages and resend them")
    sub = group.add_subparsers(dest="message_command", required=True, metavar="COMMAND")
    listing = sub.add_parser("list", help="list recent messages, newest first")
    # Choices as plain strings: argparse converts before it checks, so an enum ``type`` would
    # hide the list of valid values behind "invalid DeliveryStatus value".
    listing.add_argument("--status", choices=[s.value for s in DeliveryStatus])
    listing.add_argument("--event-type", choices=[t.value for t in EventType])
    listing.add_argument("--limit", type=positive_int, default=50)
    listing.set_defaults(handler=list_messages)
    show = sub.add_parser("show", help="show a message, its payload and its deliveries")
    show.add_argument("message_id", metavar="MSG")
    show.set_defaults(handler=show_message)
    resend = sub.add_parser("resend", help="resend a message now, as a manual attempt")
    resend.add_argument("message_id", metavar="MSG")
    resend.add_argument("--endpoint", metavar="ID", help="only to this endpoint")
    resend.set_defaults(handler=resend_message)


def counts_text(statuses: dict[DeliveryStatus, int]) -> str:
    """``2 succeeded, 1 pending`` in the order of ``DeliveryStatus``; ``no endpoint`` if empty."""
    parts = [f"{statuses[s]} {s.value}" for s in DeliveryStatus if statuses.get(s)]
    return ", ".join(parts) or "no endpoint"


def list_messages(args: argparse.Namespace) -> None:
    """Print recent messages with their deliveries counted by status."""
    store = open_store(get_settings())
    status = DeliveryStatus(args.status) if args.status else None
    summaries = store.list_messages(status=status, event_type=args.event_type, limit=args.limit)
    print(render(["id", "type", "created", "business key", "deliveries"], _rows(summaries)))


def _rows(summaries: list[MessageSummary]) -> list[tuple[object, ...]]:
    return [
        (m.id, m.event_type, m.created_at, m.business_key, counts_text(m.statuses))
        for m in summaries
    ]


def show_message(args: argparse.Namespace) -> None:
    """Print a message's header, its payload pretty-printed, and its deliveries."""
    store = open_store(get_settings())
    message = store.get_message(args.message_id)
    header = [
        ("message", message.id),
        ("event type", message.event_type),
        ("created", message.created_at),
        ("business key", message.business_key),
    ]
    print(render_fields(header))
    print("\npayload:")
    print(json.dumps(message.payload, indent=2, ensure_ascii=False))
    deliveries = store.deliveries_for_message(message.id)
    rows = [(d.endpoint_id, d.status, d.attempts, d.next_attempt_at) for d in deliveries]
    print("\ndeliveries:")
    print(render(["endpoint", "status", "attempts", "next attempt"], rows))


def resend_message(args: argparse.Namespace) -> None:
    """Resend a message to one endpoint, or to every endpoint it has a delivery for."""
    from starter import manual  # Temporal: loaded only by the commands that use it

    settings = get_settings()
    store = open_store(settings)
    message = store.get_message(args.message_id)
    if args.endpoint is not None:
        endpoint_ids = [store.get_endpoint(args.endpoint).id]
    else:
        endpoint_ids = [d.endpoint_id for d in store.deliveries_for_message(message.id)]
    if not endpoint_ids:
        raise Conflict(
            f"message {message.id} was delivered to no endpoint (none subscribed to "
            f"{message.event_type} when it was emitted); resend it with --endpoint ID"
        )
    outcomes = asyncio.run(manual.resend(settings, message.id, endpoint_ids))
    rows = [_outcome_row(store, message.id, eid, progress) for eid, progress in outcomes.items()]
    print(render(["endpoint", "outcome", "attempt", "response"], rows))


def _outcome_row(
    store: Store, message_id: str, endpoint_id: str, progress: ManualDeliveryProgress
) -> tuple[object, ...]:
    if progress.succeeded:
        outcome = DeliveryStatus.SUCCEEDED.value
    elif progress.skipped:
        outcome = "skipped (endpoint disabled)"
    else:
        outcome = DeliveryStatus.FAILED.value
    attempts = store.list_attempts(message_id=message_id, endpoint_id=endpoint_id, limit=1)
    latest = attempts[0] if attempts and not progress.skipped else None
    if latest is None:
        return (endpoint_id, outcome, None, None)
    return (endpoint_id, outcome, latest.attempt, attempt_result(latest))
