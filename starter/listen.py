"""``billhook listen``: a local receiver to point an endpoint at while developing."""

from __future__ import annotations

import argparse

from errors import BillhookError
from starter.runtime import Subcommands


def _non_negative(text: str) -> int:
    digits = text.strip()
    if not (digits.isascii() and digits.isdigit()):
        raise argparse.ArgumentTypeError(f"must be a whole number, 0 or more, not {text[:40]!r}")
    return int(digits)


def _port(text: str) -> int:
    value = _non_negative(text)
    if value > 65535:
        raise argparse.ArgumentTypeError(f"{value} is not a TCP port (0 to 65535)")
    return value


def _status(text: str) -> int:
    value = int(text)
    if not 100 <= value <= 599:
        raise argparse.ArgumentTypeError(f"{value} is not an HTTP status")
    return value


def register(commands: Subcommands) -> None:
    """Add ``listen`` to the command line."""
    listen = commands.add_parser(
        "listen", help="receive webhooks locally, verifying each signature like a real receiver"
    )
    listen.add_argument("--port", type=_port, required=True)
    listen.add_argument("--secret", required=True, help="the endpoint's signing secret")
    listen.add_argument("--host", default="127.0.0.1", help="interface to bind (127.0.0.1)")
    listen.add_argument(
        "--fail-first",
        type=_non_negative,
        default=0,
        metavar="K",
        help="answer --fail-status to the first K verified requests, to watch retries",
    )
    listen.add_argument("--fail-status", type=_status, default=500, metavar="STATUS")
    listen.add_argument(
        "--retry-after",
        type=_non_negative,
        metavar="SECONDS",
        help="send Retry-After with the simulated failures",
    )
    listen.set_defaults(handler=listen_forever, standalone=True)


def listen_forever(args: argparse.Namespace) -> None:
    """Serve until Ctrl-C, printing one line per request."""
    from starter.receiver import WebhookReceiver  # svix is slow to load; only listen needs it

    receiver = WebhookReceiver(
        args.secret,
        fail_first=args.fail_first,
        fail_status=args.fail_status,
        retry_after=args.retry_after,
        host=args.host,
        port=args.port,
    )
    try:
        receiver.start()
    except OSError as exc:
        raise BillhookError(f"cannot listen on {args.host}:{args.port}: {exc.strerror}") from exc
    print(f"listening on {receiver.url}, verifying signatures; Ctrl-C stops", flush=True)
    print(
        f"point an endpoint here: billhook endpoint create {receiver.url} --events TYPE "
        "--secret <the same secret>  (the worker must allow 127.0.0.0/8, as `make run` does)"
    )
    try:
        receiver.wait()
    except KeyboardInterrupt:
        print(f"\nstopped after {len(receiver.events)} verified request(s)")
    finally:
        receiver.stop()
