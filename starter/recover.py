"""``billhook endpoint recover``: re-enable an endpoint and resend what it missed."""

from __future__ import annotations

import argparse

from client.results import RecoverResult
from config import Settings
from models.delivery import ManualDeliveryProgress
from starter.runtime import Progress, Subcommands, open_client
from starter.table import format_time
from starter.times import parse_since


def register(sub: Subcommands) -> None:
    """Add ``endpoint recover`` to the ``endpoint`` group."""
    recover = sub.add_parser(
        "recover",
        help="enable an endpoint and resend its failed or skipped messages since a time",
    )
    recover.add_argument("endpoint_id", metavar="ID")
    recover.add_argument(
        "--since",
        required=True,
        type=parse_since,
        metavar="TIME",
        help="ISO 8601 (naive means UTC) or how long ago: 30m, 2h, 3d",
    )
    recover.set_defaults(handler=recover_endpoint)


def recover_endpoint(args: argparse.Namespace, settings: Settings) -> None:
    """Enable the endpoint, resend its recoverable messages as one workflow, print a summary."""
    endpoint_id = args.endpoint_id
    progress = Progress()
    enabled = False

    def say_enabled() -> None:
        nonlocal enabled
        if not enabled:
            enabled = True
            print(f"enabled endpoint {endpoint_id}", flush=True)

    def show(state: ManualDeliveryProgress) -> None:
        if not enabled:  # the first call: enabled, nothing sent yet
            say_enabled()
            progress.update(f"resending {state.total} message(s) to {endpoint_id}...")
        else:
            progress.update(progress_text(state))

    with open_client(settings) as billhook:
        try:
            result = billhook.endpoints.recover(endpoint_id, args.since, on_progress=show)
        finally:
            progress.done()
    say_enabled()
    _print_summary(result)


def progress_text(progress: ManualDeliveryProgress) -> str:
    """``resent 3 of 10: 2 succeeded, 1 failed, 0 skipped``."""
    return (
        f"resent {progress.done} of {progress.total}: {progress.succeeded} succeeded, "
        f"{progress.failed} failed, {progress.skipped} skipped"
    )


def _print_summary(result: RecoverResult) -> None:
    endpoint_id, resent = result.endpoint.id, result.resent
    if resent is None:
        since = format_time(result.since)
        print(f"nothing to resend: no failed or skipped message since {since} UTC")
        return
    print(
        f"recovered {endpoint_id}: {resent.total} message(s) resent, {resent.succeeded} "
        f"succeeded, {resent.failed} failed, {resent.skipped} skipped"
    )
    if resent.failed:
        print(f"see why: `billhook attempt list --endpoint {endpoint_id}`")
