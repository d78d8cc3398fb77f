"""``billhook endpoint ...``: create, inspect, change and remove the endpoints events go to."""

from __future__ import annotations

import argparse
from datetime import timedelta
from urllib.parse import urlsplit

from config import Settings, get_settings
from errors import InvalidInput, InvalidUrl
from models.delivery import DisabledReason, EndpointStatus
from starter import recover
from starter.runtime import Subcommands, open_store, utcnow
from starter.table import format_time, render, render_fields
from store.tables import Endpoint

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
        command = sub.add_parser(name, help=text, description=text)
        command.add_argument("endpoint_id", metavar="ID")
        command.set_defaults(handler=handler)
    rotate = sub.add_parser("rotate-secret", help="replace an endpoint's signing secret")
    rotate.add_argument("endpoint_id", metavar="ID")
    rotate.add_argument("--secret", help="the new secret (whsec_...); generated when omitted")
    rotate.set_defaults(handler=rotate_secret)
    recover.register(sub)


def _add_create(sub: Subcommands) -> None:
    create = sub.add_parser("create", help="add an endpoint and print its signing secret")
    create.add_argument("url", metavar="URL", help="http(s) URL that receives the POSTs")
    create.add_argument("--events", required=True, help="event types, comma-separated")
    create.add_argument("--name", help="a label; defaults to the URL's host")
    create.add_argument("--secret", help="an existing secret (whsec_...); generated when omitted")
    create.set_defaults(handler=create_endpoint)


def _add_update(sub: Subcommands) -> None:
    update = sub.add_parser("update", help="change an endpoint's URL, event types or name")
    update.add_argument("endpoint_id", metavar="ID")
    update.add_argument("--url", help="the new URL")
    update.add_argument("--events", help="the new event types, comma-separated")
    update.add_argument("--name", help="the new name")
    update.set_defaults(handler=update_endpoint)


def split_events(text: str) -> list[str]:
    """``--events`` as a list: comma-separated, blanks dropped (the store validates the names)."""
    return [part.strip() for part in text.split(",") if part.strip()]


def refuse_credentials(url: str, settings: Settings) -> None:
    """Refuse ``user:password@`` in an endpoint URL in production, without quoting either.

    Raises:
        InvalidUrl: the URL carries credentials and ``settings.environment`` is production.
    """
    if settings.environment != "production":
        return
    try:
        parts = urlsplit(url)
    except ValueError:
        return  # unparsable: the store refuses it with its own message
    if parts.username is not None or parts.password is not None:
        raise InvalidUrl(
            f"endpoint URL for host {parts.hostname!r} contains credentials (user:password@), "
            "which production refuses; receivers authenticate requests by their signature"
        )


def refuse_destination(url: str, settings: Settings) -> None:
    """Refuse a URL whose host is, without any lookup, an address delivery would block.

    Delivery resolves and checks every attempt's host again (a name's addresses can change
    after the endpoint is created); this refuses up front what can never be delivered.

    Raises:
        InvalidUrl: the host is a non-global IP literal outside ``BILLHOOK_ALLOWED_NETWORKS``,
            ``localhost``, or IPv4 written in a non-dotted-decimal form.
    """
    from activities.transport import literal_refusal  # httpx: only when an URL is given

    try:
        host = urlsplit(url).hostname
    except ValueError:
        return  # unparsable: the store refuses it with its own message
    if host and (why := literal_refusal(host, settings.allowed_networks)) is not None:
        raise InvalidUrl(f"endpoint URL refused: {why}")


def redact_url(url: str) -> str:
    """``url`` with any password replaced by ``***``: listings never show secrets."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    if parts.password is None:
        return url
    user, _, host = parts.netloc.rpartition("@")
    return parts._replace(netloc=f"{user.partition(':')[0]}:***@{host}").geturl()


def status_text(endpoint: Endpoint) -> str:
    """``enabled``, or ``disabled (<why>)``."""
    if endpoint.status == EndpointStatus.ENABLED:
        return "enabled"
    reason = _REASONS.get(endpoint.disabled_reason) if endpoint.disabled_reason else None
    return f"disabled ({reason})" if reason else "disabled"


def create_endpoint(args: argparse.Namespace) -> None:
    """Create an endpoint and print its id and whole secret, with how to verify requests."""
    settings = get_settings()
    refuse_credentials(args.url, settings)
    refuse_destination(args.url, settings)
    store = open_store(settings)
    endpoint, secret = store.create_endpoint(
        args.url, split_events(args.events), utcnow(), name=args.name, secret=args.secret
    )
    print(f"created endpoint {endpoint.id} ({endpoint.name})")
    details = [("url", redact_url(endpoint.url)), ("events", endpoint.event_types)]
    print(render_fields([*details, ("secret", secret)]))
    print()
    print(f"The secret is shown again only by `billhook endpoint reveal-secret {endpoint.id}`.")
    print("Receivers verify each request with it, using a Svix or Standard Webhooks library:")
    print("  Webhook(secret).verify(body, headers)")
    print(f"Send a sample event: billhook trigger {endpoint.event_types[0]}")


def list_endpoints(args: argparse.Namespace) -> None:
    """Print every endpoint as a table (never with its secret)."""
    endpoints = open_store(get_settings()).list_endpoints()
    rows = [
        (e.id, e.name, redact_url(e.url), e.event_types, status_text(e), e.created_at)
        for e in endpoints
    ]
    print(render(["id", "name", "url", "events", "status", "created"], rows))


def show(args: argparse.Namespace) -> None:
    """Print one endpoint's details (not its secret)."""
    _print_details(open_store(get_settings()).get_endpoint(args.endpoint_id))


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


def update_endpoint(args: argparse.Namespace) -> None:
    """Change an endpoint's URL, event types or name; later events follow the change."""
    if args.url is None and args.events is None and args.name is None:
        raise InvalidInput("nothing to update: give --url, --events or --name")
    settings = get_settings()
    if args.url is not None:
        refuse_credentials(args.url, settings)
        refuse_destination(args.url, settings)
    events = split_events(args.events) if args.events is not None else None
    endpoint = open_store(settings).update_endpoint(
        args.endpoint_id, utcnow(), url=args.url, event_types=events, name=args.name
    )
    print(f"updated endpoint {endpoint.id}; events emitted from now on follow the change")
    _print_details(endpoint)


def disable(args: argparse.Namespace) -> None:
    """Disable an endpoint by hand."""
    store = open_store(get_settings())
    endpoint = store.disable_endpoint(args.endpoint_id, DisabledReason.MANUAL, utcnow())
    print(f"disabled endpoint {endpoint.id}: its events are recorded as skipped")
    print(f"enable it with `billhook endpoint enable {endpoint.id}`")


def enable(args: argparse.Namespace) -> None:
    """Enable an endpoint again; what it missed is resent only by ``recover``."""
    endpoint = open_store(get_settings()).enable_endpoint(args.endpoint_id, utcnow())
    print(f"enabled endpoint {endpoint.id}")
    print(f"to resend what it missed: `billhook endpoint recover {endpoint.id} --since 1d`")


def delete(args: argparse.Namespace) -> None:
    """Delete an endpoint with its secrets and delivery records."""
    open_store(get_settings()).delete_endpoint(args.endpoint_id)
    print(f"deleted endpoint {args.endpoint_id}")


def rotate_secret(args: argparse.Namespace) -> None:
    """Make a new secret current and print it; the previous one stays valid for the grace."""
    settings = get_settings()
    now = utcnow()
    store = open_store(settings)
    secret = store.rotate_secret(args.endpoint_id, now, settings.secret_grace, secret=args.secret)
    grace = settings.secret_grace
    print(f"new signing secret of {args.endpoint_id}: {secret}")
    print(
        f"the previous secret stays valid for {_duration(grace)} (until "
        f"{format_time(now + grace)} UTC); until then every request carries both signatures"
    )


def reveal_secret(args: argparse.Namespace) -> None:
    """Print an endpoint's current secret alone, so scripts can capture it."""
    print(open_store(get_settings()).reveal_secret(args.endpoint_id))


def _duration(span: timedelta) -> str:
    seconds = int(span.total_seconds())
    for unit, size in (("h", 3600), ("min", 60)):
        if seconds and seconds % size == 0:
            return f"{seconds // size} {unit}"
    return f"{seconds} s"
