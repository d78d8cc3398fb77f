"""``billhook db upgrade``: migrate the database to the schema this version needs."""

from __future__ import annotations

import argparse

from config import Settings
from starter.runtime import Subcommands
from store import Store
from store.engine import display_url
from store.migrate import head_revision


def register(commands: Subcommands) -> None:
    """Add ``db`` and its ``upgrade`` subcommand to the command line."""
    group = commands.add_parser("db", help="manage the database")
    sub = group.add_subparsers(dest="db_command", required=True, metavar="COMMAND")
    upgrade = sub.add_parser("upgrade", help="create or migrate the tables (safe to repeat)")
    upgrade.set_defaults(handler=upgrade_database)


def upgrade_database(args: argparse.Namespace, settings: Settings) -> None:
    """Migrate the configured database to the newest revision and say which one that is."""
    url = settings.database_url
    Store.from_url(url).upgrade()
    # The URL may hold a PostgreSQL password: show it masked.
    print(f"database {display_url(url)} is at the newest schema (revision {head_revision()})")
