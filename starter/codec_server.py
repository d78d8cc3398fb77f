"""``billhook codec-key`` and ``billhook codec-server``: keys for payload encryption, and the
codec server the Temporal Web UI and CLI decode billhook's sealed payloads with.

The server speaks Temporal's remote codec protocol: ``POST /encode`` and ``POST /decode`` take
``{"payloads": [...]}`` (payloads in protobuf JSON: base64 ``metadata`` values and ``data``)
and answer the same shape, sealed or opened with ``BILLHOOK_CODEC_KEYS``. It answers the
browser's CORS preflight for the Web UI's origins only, and refuses a request whose
``X-Namespace`` header names another namespace than billhook's. It has no login: whoever
reaches it can read every payload, so it listens on loopback unless told otherwise.
Standard library only (``http.server``): two routes need no web framework.
"""

from __future__ import annotations

import argparse
import json
import logging
import secrets
import sys
from datetime import UTC, datetime
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any

from config import Settings
from errors import BillhookError
from starter.runtime import Subcommands

if TYPE_CHECKING:
    from codec import EncryptionCodec

log = logging.getLogger("billhook.codec_server")

#: The Web UI of ``make run`` (the dev server's, :8233) and of docker-compose.yml (:8080).
DEFAULT_ORIGINS = (
    "http://localhost:8233",
    "http://127.0.0.1:8233",
    "http://localhost:8080",
    "http://127.0.0.1:8080",
)
DEFAULT_PORT = 8081
#: A request larger than this is refused (Temporal's own payload limit is 2 MiB each).
MAX_BODY_BYTES = 16 * 1024 * 1024


def register(commands: Subcommands) -> None:
    """Add ``codec-key`` and ``codec-server`` to the command line."""
    key = commands.add_parser("codec-key", help="print a new payload encryption key (ID:KEY)")
    key.add_argument("--id", dest="key_id", help="the key's id (default: k + today + 4 hex)")
    key.set_defaults(handler=codec_key, standalone=True)
    server = commands.add_parser(
        "codec-server", help="serve Temporal's remote codec protocol for the Web UI"
    )
    server.add_argument("--host", default="127.0.0.1", help="address to listen on")
    server.add_argument("--port", type=int, default=DEFAULT_PORT, help="port to listen on")
    server.add_argument(
        "--ui-origin",
        action="append",
        dest="origins",
        metavar="ORIGIN",
        help="a Web UI origin allowed by CORS (repeatable; default: localhost :8233 and :8080)",
    )
    server.set_defaults(handler=codec_server)


def codec_key(args: argparse.Namespace) -> None:
    """Print ``ID:KEY``, a new random AES-256 key under a new id."""
    from codec import new_key
    from config import parse_codec_keys

    key_id = args.key_id or f"k{datetime.now(UTC):%Y%m%d}{secrets.token_hex(2)}"
    entry = f"{key_id}:{new_key()}"
    try:
        parse_codec_keys(entry)
    except ValueError as exc:
        raise BillhookError(f"--id {key_id!r}: {exc}") from None
    print(entry)
    print(
        "put it first in BILLHOOK_CODEC_KEYS; keep the previous keys after it "
        "(ID:KEY,OLD_ID:OLD_KEY) while histories sealed with them remain",
        file=sys.stderr,
    )


def codec_server(args: argparse.Namespace, settings: Settings) -> None:
    """Serve until interrupted.

    Raises:
        BillhookError: no keys are configured, or the address cannot be bound.
    """
    import logs

    logs.configure(settings.log_format, settings.log_level)
    origins = tuple(args.origins or DEFAULT_ORIGINS)
    try:
        server = make_server(settings, args.host, args.port, origins)
    except OSError as exc:
        raise BillhookError(f"cannot listen on {args.host}:{args.port}: {exc.strerror}") from None
    host, port = str(server.server_address[0]), int(server.server_address[1])
    print(
        f"codec server on http://{host}:{port} (namespace {server.namespace}, "
        f"keys {', '.join(server.codec.key_ids)}); Web UI origins: {', '.join(origins)}",
        flush=True,
    )
    try:
        server.serve_forever()
    finally:
        server.server_close()


class CodecServer(ThreadingHTTPServer):
    """An HTTP server holding the codec, the namespace it serves and the allowed origins."""

    daemon_threads = True

    def __init__(
        self,
        address: tuple[str, int],
        codec: EncryptionCodec,
        namespace: str,
        origins: tuple[str, ...],
    ) -> None:
        super().__init__(address, CodecHandler)
        self.codec = codec
        self.namespace = namespace
        self.origins = origins


def make_server(
    settings: Settings, host: str, port: int, origins: tuple[str, ...] = DEFAULT_ORIGINS
) -> CodecServer:
    """A bound codec server for ``settings`` (port 0: any free port); call ``serve_forever``.

    Raises:
        BillhookError: ``BILLHOOK_CODEC_KEYS`` is empty.
        OSError: the address cannot be bound.
    """
    from codec import codec_of
    from temporal_client import resolve_connection

    codec = codec_of(settings)
    if codec is None:
        raise BillhookError(
            "BILLHOOK_CODEC_KEYS is empty: set it to the workers' keys (billhook codec-key "
            "makes one)"
        )
    namespace = resolve_connection(settings).namespace
    return CodecServer((host, port), codec, namespace, origins)


class CodecHandler(BaseHTTPRequestHandler):
    """``POST /encode``, ``POST /decode`` and their CORS preflight."""

    server: CodecServer
    protocol_version = "HTTP/1.1"

    def do_OPTIONS(self) -> None:
        self._answer(HTTPStatus.OK if self._route() else HTTPStatus.NOT_FOUND, None)

    def do_POST(self) -> None:
        route = self._route()
        if route is None:
            self._answer(HTTPStatus.NOT_FOUND, {"error": "POST /encode or /decode"})
            return
        namespace = self.headers.get("X-Namespace")
        if namespace and namespace != self.server.namespace:
            self._answer(
                HTTPStatus.FORBIDDEN,
                {"error": f"this codec server serves namespace {self.server.namespace}"},
            )
            return
        status, body = self._convert(route)
        self._answer(status, body)

    def _route(self) -> str | None:
        path = self.path.split("?", 1)[0].rstrip("/")
        return path.rsplit("/", 1)[-1] if path in ("/encode", "/decode") else None

    def _convert(self, route: str) -> tuple[HTTPStatus, Any]:
        from google.protobuf import json_format
        from temporalio.api.common.v1 import Payloads

        from codec import CodecError

        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY_BYTES:
            return HTTPStatus.REQUEST_ENTITY_TOO_LARGE, {"error": "request too large"}
        try:
            payloads = json_format.Parse(self.rfile.read(length), Payloads())
        except (json_format.ParseError, UnicodeDecodeError) as exc:
            return HTTPStatus.BAD_REQUEST, {"error": f"not a Payloads JSON object: {exc}"}
        codec = self.server.codec
        try:
            if route == "encode":
                converted = codec.encode_sync(payloads.payloads)
            else:
                converted = codec.decode_sync(payloads.payloads)
        except CodecError as exc:
            log.warning("refused to %s: %s", route, exc)
            return HTTPStatus.BAD_REQUEST, {"error": str(exc)}
        return HTTPStatus.OK, json_format.MessageToDict(Payloads(payloads=converted))

    def _answer(self, status: HTTPStatus, body: Any) -> None:
        data = b"" if body is None else json.dumps(body).encode()
        self.send_response(status)
        origin = self.headers.get("Origin")
        if origin and origin in self.server.origins:
            self.send_header("Access-Control-Allow-Origin", origin)
            self.send_header("Access-Control-Allow-Credentials", "true")
            self.send_header("Access-Control-Allow-Methods", "POST, OPTIONS")
            self.send_header(
                "Access-Control-Allow-Headers", "Content-Type, X-Namespace, Authorization"
            )
            self.send_header("Vary", "Origin")
        if body is not None:
            self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        log.info("%s %s", self.address_string(), format % args)
