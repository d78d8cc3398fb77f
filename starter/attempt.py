"""``billhook attempt list``: the log of HTTP attempts, newest first."""

from __future__ import annotations

import argparse

from config import Settings
from models.delivery import AttemptState, ErrorKind
from starter.runtime import Subcommands, open_client, positive_int
from starter.table import render
from store.tables import Attempt

HEADERS = ["time", "message", "endpoint", "#", "trigger", "result", "ms", "next retry"]


def register(commands: Subcommands) -> None:
    """Add ``attempt`` and its ``list`` subcommand to the command line."""
    group = commands.add_parser("attempt", help="inspect delivery attempts")
    sub = group.add_subparsers(dest="attempt_command", required=True, metavar="COMMAND")
    listing = sub.add_parser("list", help="list attempts, newest first")
    listing.add_argument("--message", metavar="MSG", help="only attempts of this message")
    listing.add_argument("--endpoint", metavar="ID", help="only attempts to this endpoint")
    listing.add_argument("--limit", type=positive_int, default=100)
    listing.set_defaults(handler=list_attempts)


def attempt_result(attempt: Attempt) -> str:
    """An attempt's outcome in a word: its HTTP status, its error kind, or both (``301 redirect``).

    ``http_status`` alone would only repeat what the status code says, so it is left out. An
    attempt still being sent is ``in flight``; one whose worker died mid-attempt is
    ``interrupted``: its request may or may not have reached the receiver.
    """
    if attempt.state == AttemptState.IN_FLIGHT:
        return "in flight"
    if attempt.state == AttemptState.INTERRUPTED:
        return "interrupted"
    parts: list[str] = []
    if attempt.response_status is not None:
        parts.append(str(attempt.response_status))
    if attempt.error_kind is not None and (
        attempt.error_kind != ErrorKind.HTTP_STATUS or not parts
    ):
        parts.append(str(attempt.error_kind))
    return " ".join(parts) or "-"


def list_attempts(args: argparse.Namespace, settings: Settings) -> None:
    """Print attempts, filtered by message and endpoint."""
    with open_client(settings) as billhook:
        attempts = billhook.attempts.list(
            message_id=args.message, endpoint_id=args.endpoint, limit=args.limit
        )
    rows = [
        (
            a.started_at,
            a.message_id,
            a.endpoint_id,
            a.attempt,
            a.trigger,
            attempt_result(a),
            a.duration_ms,
            a.next_retry_at,
        )
        for a in attempts
    ]
    print(render(HEADERS, rows))
