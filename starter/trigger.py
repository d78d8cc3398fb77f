"""``billhook trigger``: emit a sample event through the real pipeline and watch it delivered."""

from __future__ import annotations

import argparse
import asyncio
from datetime import UTC, datetime
from uuid import uuid4

from config import get_settings
from models.delivery import DeliveryStatus, DeliveryWorkflowResult, Event
from models.events import EventType
from models.samples import sample_payload
from starter.attempt import attempt_result
from starter.runtime import Subcommands, open_store, positive_seconds
from starter.table import render
from store import Store

#: How long ``trigger`` waits for the deliveries before leaving them to their retries.
WAIT_SECONDS = 20.0


def register(commands: Subcommands) -> None:
    """Add ``trigger`` to the command line."""
    command = commands.add_parser(
        "trigger", help="emit a sample event of a type and wait for its deliveries"
    )
    command.add_argument("event_type", choices=[t.value for t in EventType], metavar="EVENT_TYPE")
    command.add_argument(
        "--wait",
        type=positive_seconds,
        default=WAIT_SECONDS,
        metavar="SECONDS",
        help=f"how long to wait for the deliveries (default {WAIT_SECONDS:g})",
    )
    command.set_defaults(handler=trigger)


def trigger(args: argparse.Namespace) -> None:
    """Emit a sample event of the type through the pipeline, then report each endpoint's outcome."""
    from starter import emit  # Temporal: loaded only by the commands that use it

    settings = get_settings()
    store = open_store(settings)
    event_type = EventType(args.event_type)
    input = Event.for_event(
        event_type, f"sample:{uuid4().hex}", sample_payload(event_type), datetime.now(UTC)
    )
    result = asyncio.run(emit.emit_and_wait(settings, store, input, args.wait))
    if result is not None:
        _print_result(store, input, result)


def _print_result(store: Store, input: Event, result: DeliveryWorkflowResult) -> None:
    if not result.statuses:
        event_type = input.event_type.value
        print(f"no endpoint subscribes to {event_type}; add one with")
        print(f"  billhook endpoint create https://example.com/webhooks --events {event_type}")
        return
    rows = [_row(store, input.message_id, eid, status) for eid, status in result.statuses.items()]
    print(render(["endpoint", "status", "attempts", "last response"], rows))


def _row(
    store: Store, message_id: str, endpoint_id: str, status: DeliveryStatus
) -> tuple[object, ...]:
    attempts = store.list_attempts(message_id=message_id, endpoint_id=endpoint_id, limit=1)
    if not attempts:
        return (endpoint_id, status, None, None)  # skipped: the endpoint is disabled
    return (endpoint_id, status, attempts[0].attempt, attempt_result(attempts[0]))
