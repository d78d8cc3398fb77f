"""``billhook endpoint recover``: re-enable an endpoint and resend what it missed."""

from __future__ import annotations

import argparse
import asyncio

from config import get_settings
from models.delivery import ManualDeliveryProgress
from starter.runtime import Subcommands, open_store
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


def recover_endpoint(args: argparse.Namespace) -> None:
    """Enable the endpoint, resend its recoverable messages as one workflow, print a summary."""
    from starter import manual  # Temporal: loaded only by the commands that use it

    settings = get_settings()
    store = open_store(settings)
    store.get_endpoint(args.endpoint_id)  # an unknown id fails before anything changes
    result = asyncio.run(manual.recover(settings, store, args.endpoint_id, args.since))
    if result is not None:
        _print_summary(args.endpoint_id, result)


def _print_summary(endpoint_id: str, result: ManualDeliveryProgress) -> None:
    print(
        f"recovered {endpoint_id}: {result.total} message(s) resent, {result.succeeded} "
        f"succeeded, {result.failed} failed, {result.skipped} skipped"
    )
    if result.failed:
        print(f"see why: `billhook attempt list --endpoint {endpoint_id}`")
