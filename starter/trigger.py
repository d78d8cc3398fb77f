"""``billhook trigger``: emit a sample event through the real pipeline and watch it delivered."""

from __future__ import annotations

import argparse

from client.delivery import TRIGGER_WAIT_SECONDS
from client.results import DeliveryOutcome, DeliveryProgress, TriggerResult
from config import Settings
from models.events import EventType
from starter.attempt import attempt_result
from starter.runtime import Progress, Subcommands, open_client, positive_seconds
from starter.table import render


def register(commands: Subcommands) -> None:
    """Add ``trigger`` to the command line."""
    command = commands.add_parser(
        "trigger", help="emit a sample event of a type and wait for its deliveries"
    )
    command.add_argument("event_type", choices=[t.value for t in EventType], metavar="EVENT_TYPE")
    command.add_argument(
        "--wait",
        type=positive_seconds,
        default=TRIGGER_WAIT_SECONDS,
        metavar="SECONDS",
        help=f"how long to wait for the deliveries (default {TRIGGER_WAIT_SECONDS:g})",
    )
    command.set_defaults(handler=trigger)


def trigger(args: argparse.Namespace, settings: Settings) -> None:
    """Emit a sample event of the type through the pipeline, then report each endpoint's outcome."""
    event_type = EventType(args.event_type)
    progress = Progress()
    emitted = False

    def show(state: DeliveryProgress) -> None:
        nonlocal emitted
        if not emitted:  # the first call: the event is durable in Temporal
            emitted = True
            print(f"emitted {event_type.value} as {state.message_id}", flush=True)
        if not state.stored:
            progress.update("waiting for a worker to pick it up...")
        else:
            progress.update(f"delivering to {state.endpoints} endpoint(s): {state.settled} settled")

    with open_client(settings) as billhook:
        try:
            result = billhook.events.trigger(event_type, wait=args.wait, on_progress=show)
        finally:
            progress.done()  # end the status line before what follows
    if result.outcomes is None:
        _print_still_running(result, settings.task_queue)
    else:
        _print_outcomes(result, result.outcomes)


def _print_outcomes(result: TriggerResult, outcomes: list[DeliveryOutcome]) -> None:
    if not outcomes:
        event_type = result.event_type.value
        print(f"no endpoint subscribes to {event_type}; add one with")
        print(f"  billhook endpoint create https://example.com/webhooks --events {event_type}")
        return
    rows = [_row(outcome) for outcome in outcomes]
    print(render(["endpoint", "status", "attempts", "last response"], rows))


def _row(outcome: DeliveryOutcome) -> tuple[object, ...]:
    latest = outcome.attempt
    if latest is None:
        return (outcome.endpoint_id, outcome.status, None, None)  # skipped: endpoint disabled
    return (outcome.endpoint_id, outcome.status, latest.attempt, attempt_result(latest))


def _print_still_running(result: TriggerResult, task_queue: str) -> None:
    message_id = result.message_id
    if not result.stored:
        print(f"no worker has picked up {message_id} yet: is `make run` up?")
        print(f"it is delivered once a worker polls task queue {task_queue!r}")
        return
    print(f"{message_id} is still being delivered (failed attempts are retried); follow it with")
    print(f"  billhook message show {message_id}")
