"""``billhook demo``: a customer's whole billing story on the running worker, webhooks verified.

Needs ``make run`` up: Temporal, and a worker that may deliver to 127.0.0.1. The story itself is
told by ``starter.demo_story``, loaded only here since Temporal and svix are slow to load.
"""

from __future__ import annotations

import argparse
import asyncio
from datetime import timedelta

from config import Settings
from errors import InvalidInput
from models.periods import period_bounds, validate_period
from starter.runtime import Subcommands, utcnow

DEFAULT_PERIOD = "PT20S"
#: The demo waits through three periods: long enough to act in the first, short enough to watch.
SHORTEST = timedelta(seconds=5)
LONGEST = timedelta(minutes=5)


def register(commands: Subcommands) -> None:
    """Add ``demo`` to the command line."""
    command = commands.add_parser(
        "demo",
        help="run a customer's billing story on the running worker; watch each webhook arrive",
    )
    command.add_argument(
        "--period",
        default=DEFAULT_PERIOD,
        help=f"the demo plan's billing period, an ISO 8601 duration (default {DEFAULT_PERIOD})",
    )
    command.set_defaults(handler=run_demo)


def period_length(period: str) -> timedelta:
    """How long one period of ``period`` lasts, when the demo can wait through three.

    Raises:
        InvalidInput: not a billing period, or shorter than 5 s or longer than 5 min.
    """
    try:
        validate_period(period)
    except ValueError as exc:
        raise InvalidInput(str(exc)) from None
    start, _, next_start = period_bounds(utcnow(), period, 0)
    length = next_start - start
    if not SHORTEST <= length <= LONGEST:
        raise InvalidInput(
            f"a demo period of {period} is {length.total_seconds():g} s; the demo waits through "
            "three periods, so give one from PT5S to PT5M"
        )
    return length


def run_demo(args: argparse.Namespace, settings: Settings) -> None:
    """Tell the story, printing each event as it arrives, then a summary of them all."""
    from starter import demo_story  # Temporal and svix: loaded only by the commands that use them

    length = period_length(args.period)
    asyncio.run(demo_story.tell(settings, args.period, length))
