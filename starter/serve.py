"""``billhook serve``: the REST API (FastAPI on uvicorn) until Ctrl-C or SIGTERM."""

from __future__ import annotations

import argparse
import contextlib
import signal
import sys
from types import FrameType

from config import Settings
from errors import BillhookError
from starter.runtime import Subcommands


def register(commands: Subcommands) -> None:
    """Add ``serve`` to the command line."""
    serve = commands.add_parser("serve", help="serve the REST API (/docs, /openapi.json)")
    serve.add_argument("--host", help="the address to listen on (BILLHOOK_API_HOST, 127.0.0.1)")
    serve.add_argument("--port", type=int, help="the port to listen on (BILLHOOK_API_PORT, 8000)")
    serve.set_defaults(handler=serve_api)


def serve_api(args: argparse.Namespace, settings: Settings) -> None:
    """Serve the API; one line says where, another when it stops."""
    from api.server import build_server  # FastAPI and uvicorn: only for this command

    host = args.host or settings.api_host
    port = args.port or settings.api_port
    server = build_server(settings, host, port)
    print(
        f"billhook API on http://{host}:{port} (docs: /docs); keys: billhook api-key create NAME",
        file=sys.stderr,
        flush=True,
    )
    # uvicorn stops gracefully on SIGINT and SIGTERM, then raises the signal again for the
    # handler it found: this one, so that a stop asked for is a clean exit (0), as the worker's.
    for stop in (signal.SIGINT, signal.SIGTERM):
        signal.signal(stop, _stopped)
    with contextlib.suppress(SystemExit):  # uvicorn's way of saying it could not start
        server.run()
    if not server.started:
        raise BillhookError(f"the API could not listen on {host}:{port} (is it taken?)")
    print("billhook API stopped", file=sys.stderr)


def _stopped(signum: int, frame: FrameType | None) -> None:
    """Nothing: uvicorn has already stopped when it raises the signal again."""
