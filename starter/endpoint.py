"""``billhook endpoint ...``: create, inspect, change and remove the endpoints events go to."""

from __future__ import annotations

import argparse
from datetime import timedelta

from client.inputs import EndpointInput, EndpointUpdate
from config import Settings
from errors import InvalidInput
from models.delivery import DisabledReason
from models.urls import mask_credentials as redact_url  # listings never show secrets
from starter import recover
from starter.runtime import Subcommands, add_id_command, open_client
from starter.table import format_time, render, render_fields
from store.tables import Endpoint

#: The endpoint a subcommand acts on (``add_id_command``).
_ID = ("endpoint_id", "ID")
_REASONS = {
    DisabledReason.MANUAL: "by hand",
    DisabledReason.FAILING: "failing: no success for days",
    DisabledReason.GONE: "410 Gone",
}


def register(commands: Subcommands) -> None:
    """Add ``endpoint`` and its subcommands to the command line."""
    group = commands.add_parser("endpoint", help="manage the endpoints events are delivered to")
    sub = group.add_subparsers(dest="endpoint_command", required=True, metavar="COMMAND")
    _add_create(sub)
    sub.add_parser("list", help="list endpoints").set_defaults(handler=list_endpoints)
    _add_update(sub)
    simple = [
        ("show", show, "show an endpoint's details"),
        ("disable", disable, "stop delivering to an endpoint (its events are recorded as skipped)"),
        ("enable", enable, "deliver to an endpoint again"),
        ("delete", delete, "delete an endpoint, its secrets and its delivery records"),
        ("reveal-secret", reveal_secret, "print an endpoint's current signing secret"),
    ]
    for name, handler, text in simple:
        add_id_command(sub, name, handler, _ID, text, description=text)
    rotate = add_id_command(
        sub, "rotate-secret", rotate_secret, _ID, "replace an endpoint's signing secret"
    )
    rotate.add_argument("--secret", help="the new secret (whsec_...); generated when omitted")
    recover.register(sub)


def _add_create(sub: Subcommands) -> None:
    create = sub.add_parser("create", help="add an endpoint and print its signing secret")
    create.add_argument("url", metavar="URL", help="http(s) URL that receives the POSTs")
    create.add_argument("--events", required=True, help="event types, comma-separated")
    create.add_argument("--name", help="a label; defaults to the URL's host")
    create.add_argument("--secret", help="an existing secret (whsec_...); generated when omitted")
    create.set_defaults(handler=create_endpoint)


def _add_update(sub: Subcommands) -> None:
    update = add_id_command(
        sub, "update", update_endpoint, _ID, "change an endpoint's URL, event types or name"
    )
    update.add_argument("--url", help="the new URL")
    update.add_argument("--events", help="the new event types, comma-separated")
    update.add_argument("--name", help="the new name")


def split_events(text: str) -> list[str]:
    """``--events`` as a list: comma-separated, blanks dropped (the store validates the names)."""
    return [part.strip() for part in text.split(",") if part.strip()]


def status_text(endpoint: Endpoint) -> str:
    """``enabled``, or ``disabled (<why>)``."""
    if endpoint.enabled:
        return "enabled"
    reason = _REASONS.get(endpoint.disabled_reason) if endpoint.disabled_reason else None
    return f"disabled ({reason})" if reason else "disabled"


def create_endpoint(args: argparse.Namespace, settings: Settings) -> None:
    """Create an endpoint and print its id and whole secret, with how to verify requests."""
    request = EndpointInput(
        url=args.url, event_types=split_events(args.events), name=args.name, secret=args.secret
    )
    with open_client(settings) as billhook:
        created = billhook.endpoints.create(request)
    endpoint, secret = created.endpoint, created.secret
    print(f"created endpoint {endpoint.id} ({endpoint.name})")
    details = [("url", redact_url(endpoint.url)), ("events", endpoint.event_types)]
    print(render_fields([*details, ("secret", secret)]))
    print()
    print(f"The secret is shown again only by `billhook endpoint reveal-secret {endpoint.id}`.")
    print("Receivers verify each request with it, using a Svix or Standard Webhooks library:")
    print("  Webhook(secret).verify(body, headers)")
    print(f"Send a sample event: billhook trigger {endpoint.event_types[0]}")


def list_endpoints(args: argparse.Namespace, settings: Settings) -> None:
    """Print every endpoint as a table (never with its secret)."""
    with open_client(settings) as billhook:
        endpoints = billhook.endpoints.list()
    rows = [
        (e.id, e.name, redact_url(e.url), e.event_types, status_text(e), e.created_at)
        for e in endpoints
    ]
    print(render(["id", "name", "url", "events", "status", "created"], rows))


def show(args: argparse.Namespace, settings: Settings) -> None:
    """Print one endpoint's details (not its secret)."""
    with open_client(settings) as billhook:
        endpoint = billhook.endpoints.get(args.endpoint_id)
    _print_details(endpoint)


def _print_details(endpoint: Endpoint) -> None:
    fields = [
        ("id", endpoint.id),
        ("name", endpoint.name),
        ("url", redact_url(endpoint.url)),
        ("events", endpoint.event_types),
        ("status", status_text(endpoint)),
        ("failing since", endpoint.failing_since),
        ("created", endpoint.created_at),
        ("updated", endpoint.updated_at),
    ]
    print(render_fields(fields))


def update_endpoint(args: argparse.Namespace, settings: Settings) -> None:
    """Change an endpoint's URL, event types or name; later events follow the change."""
    if args.url is None and args.events is None and args.name is None:
        raise InvalidInput("nothing to update: give --url, --events or --name")
    events = split_events(args.events) if args.events is not None else None
    update = EndpointUpdate(url=args.url, event_types=events, name=args.name)
    with open_client(settings) as billhook:
        endpoint = billhook.endpoints.update(args.endpoint_id, update)
    print(f"updated endpoint {endpoint.id}; events emitted from now on follow the change")
    _print_details(endpoint)


def disable(args: argparse.Namespace, settings: Settings) -> None:
    """Disable an endpoint by hand."""
    with open_client(settings) as billhook:
        endpoint = billhook.endpoints.disable(args.endpoint_id)
    print(f"disabled endpoint {endpoint.id}: its events are recorded as skipped")
    print(f"enable it with `billhook endpoint enable {endpoint.id}`")


def enable(args: argparse.Namespace, settings: Settings) -> None:
    """Enable an endpoint again; what it missed is resent only by ``recover``."""
    with open_client(settings) as billhook:
        endpoint = billhook.endpoints.enable(args.endpoint_id)
    print(f"enabled endpoint {endpoint.id}")
    print(f"to resend what it missed: `billhook endpoint recover {endpoint.id} --since 1d`")


def delete(args: argparse.Namespace, settings: Settings) -> None:
    """Delete an endpoint with its secrets and delivery records."""
    with open_client(settings) as billhook:
        billhook.endpoints.delete(args.endpoint_id)
    print(f"deleted endpoint {args.endpoint_id}")


def rotate_secret(args: argparse.Namespace, settings: Settings) -> None:
    """Make a new secret current and print it; the previous one stays valid for the grace."""
    with open_client(settings) as billhook:
        rotated = billhook.endpoints.rotate_secret(args.endpoint_id, secret=args.secret)
    print(f"new signing secret of {args.endpoint_id}: {rotated.secret}")
    print(
        f"the previous secret stays valid for {_duration(rotated.grace)} (until "
        f"{format_time(rotated.previous_valid_until)} UTC); until then every request carries "
        "both signatures"
    )


def reveal_secret(args: argparse.Namespace, settings: Settings) -> None:
    """Print an endpoint's current secret alone, so scripts can capture it."""
    with open_client(settings) as billhook:
        print(billhook.endpoints.reveal_secret(args.endpoint_id))


def _duration(span: timedelta) -> str:
    seconds = int(span.total_seconds())
    for unit, size in (("h", 3600), ("min", 60)):
        if seconds and seconds % size == 0:
            return f"{seconds // size} {unit}"
    return f"{seconds} s"
