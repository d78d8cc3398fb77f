"""``billhook message ...``: list and inspect emitted messages, and resend one by hand."""

from __future__ import annotations

import argparse
import json

from client.results import DeliveryOutcome
from config import Settings
from models.delivery import DeliveryStatus, ManualDeliveryProgress
from models.events import EventType
from starter.attempt import attempt_result
from starter.runtime import Progress, Subcommands, add_id_command, open_client, positive_int
from starter.table import render, render_fields
from store.store import MessageSummary

#: The message a subcommand acts on (``add_id_command``).
_ID = ("message_id", "MSG")


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
    add_id_command(sub, "show", show_message, _ID, "show a message, its payload and its deliveries")
    resend = add_id_command(
        sub, "resend", resend_message, _ID, "resend a message now, as a manual attempt"
    )
    resend.add_argument("--endpoint", metavar="ID", help="only to this endpoint")


def counts_text(statuses: dict[DeliveryStatus, int]) -> str:
    """``2 succeeded, 1 pending`` in the order of ``DeliveryStatus``; ``no endpoint`` if empty."""
    parts = [f"{statuses[s]} {s.value}" for s in DeliveryStatus if statuses.get(s)]
    return ", ".join(parts) or "no endpoint"


def list_messages(args: argparse.Namespace, settings: Settings) -> None:
    """Print recent messages with their deliveries counted by status."""
    status = DeliveryStatus(args.status) if args.status else None
    with open_client(settings) as billhook:
        summaries = billhook.messages.list(
            status=status, event_type=args.event_type, limit=args.limit
        )
    print(render(["id", "type", "created", "business key", "deliveries"], _rows(summaries)))


def _rows(summaries: list[MessageSummary]) -> list[tuple[object, ...]]:
    return [
        (m.id, m.event_type, m.created_at, m.business_key, counts_text(m.statuses))
        for m in summaries
    ]


def show_message(args: argparse.Namespace, settings: Settings) -> None:
    """Print a message's header, its payload pretty-printed, and its deliveries."""
    with open_client(settings) as billhook:
        details = billhook.messages.show(args.message_id)
    message = details.message
    header = [
        ("message", message.id),
        ("event type", message.event_type),
        ("created", message.created_at),
        ("business key", message.business_key),
    ]
    print(render_fields(header))
    print("\npayload:")
    print(json.dumps(message.payload, indent=2, ensure_ascii=False))
    rows = [(d.endpoint_id, d.status, d.attempts, d.next_attempt_at) for d in details.deliveries]
    print("\ndeliveries:")
    print(render(["endpoint", "status", "attempts", "next attempt"], rows))


def resend_message(args: argparse.Namespace, settings: Settings) -> None:
    """Resend a message to one endpoint, or to every endpoint it has a delivery for."""
    progress = Progress()
    started = False

    def show(state: ManualDeliveryProgress) -> None:
        nonlocal started
        if not started:
            started = True
            progress.update(f"resending {args.message_id} to {state.total} endpoint(s)...")
        else:
            progress.update(f"resent to {state.done} of {state.total} endpoint(s)")

    with open_client(settings) as billhook:
        outcomes = billhook.messages.resend(args.message_id, args.endpoint, on_progress=show)
    progress.done()
    print(render(["endpoint", "outcome", "attempt", "response"], [_row(o) for o in outcomes]))


#: How a resend's outcome reads.
_OUTCOMES = {
    DeliveryStatus.SUCCEEDED: DeliveryStatus.SUCCEEDED.value,
    DeliveryStatus.SKIPPED: "skipped (endpoint disabled)",
}


def _row(outcome: DeliveryOutcome) -> tuple[object, ...]:
    text = _OUTCOMES.get(outcome.status, DeliveryStatus.FAILED.value)
    latest = outcome.attempt
    if latest is None:
        return (outcome.endpoint_id, text, None, None)
    return (outcome.endpoint_id, text, latest.attempt, attempt_result(latest))
