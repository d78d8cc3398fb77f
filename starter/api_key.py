"""``billhook api-key ...``: the REST API's bearer keys: create (shown once), list, revoke."""

from __future__ import annotations

import argparse

from config import Settings
from starter.runtime import Subcommands, open_client
from starter.table import render


def register(commands: Subcommands) -> None:
    """Add ``api-key`` and its subcommands to the command line."""
    group = commands.add_parser("api-key", help="create, list and revoke keys of the REST API")
    sub = group.add_subparsers(dest="api_key_command", required=True, metavar="COMMAND")
    create = sub.add_parser("create", help="make a key; it is printed this once")
    create.add_argument("name", metavar="NAME", help="what the key is for")
    create.set_defaults(handler=create_key)
    sub.add_parser("list", help="list keys (never the keys themselves)").set_defaults(
        handler=list_keys
    )
    revoke = sub.add_parser("revoke", help="revoke a key: the API refuses it from now on")
    revoke.add_argument("key_id", metavar="ID")
    revoke.set_defaults(handler=revoke_key)


def create_key(args: argparse.Namespace, settings: Settings) -> None:
    """Make a key and print it, once: only its hash is stored."""
    with open_client(settings) as billhook:
        created = billhook.api_keys.create(args.name)
    print(f"created API key {created.key.id} ({created.key.name})")
    print(created.secret)
    print("it is shown this once; send it as: Authorization: Bearer <key>")


def list_keys(args: argparse.Namespace, settings: Settings) -> None:
    """Print every key, oldest first, revoked ones too."""
    with open_client(settings) as billhook:
        keys = billhook.api_keys.list()
    rows = [
        (k.id, k.name, k.prefix + "…", k.created_at, "revoked" if k.revoked_at else "active")
        for k in keys
    ]
    print(render(["id", "name", "key", "created", "status"], rows))


def revoke_key(args: argparse.Namespace, settings: Settings) -> None:
    """Revoke a key."""
    with open_client(settings) as billhook:
        key = billhook.api_keys.revoke(args.key_id)
    print(f"revoked API key {key.id} ({key.name}); requests with it are refused (401)")
