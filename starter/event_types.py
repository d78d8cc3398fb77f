"""``billhook event-types``: the catalog of events endpoints can subscribe to."""

from __future__ import annotations

import argparse

from models.events import EVENT_DESCRIPTIONS, EventType
from starter.runtime import Subcommands
from starter.table import render


def register(commands: Subcommands) -> None:
    """Add ``event-types`` to the command line."""
    command = commands.add_parser("event-types", help="list the event types and when each fires")
    command.set_defaults(handler=list_event_types, standalone=True)


def list_event_types(args: argparse.Namespace) -> None:
    """Print every event type with when it is emitted."""
    rows = [(event_type.value, EVENT_DESCRIPTIONS[event_type]) for event_type in EventType]
    print(render(["type", "emitted when"], rows, max_width=80))
