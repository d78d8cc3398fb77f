"""``billhook pdf-server``: serve invoices' PDFs at the URL their ``invoice_pdf`` names.

``GET /invoices/<invoice id>.pdf`` answers the invoice's PDF as its newest event showed it
(``client.pdf``): rendered on the first request, stored, read after. Set
``BILLHOOK_INVOICE_PDF_BASE_URL`` to where receivers reach this server (through a proxy that
authenticates, if invoices are not to be public: the server has no login), and the workers put
``<base>/invoices/<id>.pdf`` in every invoice's ``invoice_pdf``. Standard library only.
"""

from __future__ import annotations

import argparse
import logging
import re
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from client.pdf import invoice_pdf
from config import Settings
from errors import BillhookError, NotFound
from starter.runtime import Subcommands
from store import Store

log = logging.getLogger("billhook.pdf_server")

DEFAULT_PORT = 8082
_PATH = re.compile(r"/invoices/(invoice_[0-9a-f]{32})\.pdf")


def register(commands: Subcommands) -> None:
    """Add ``pdf-server`` to the command line."""
    server = commands.add_parser("pdf-server", help="serve invoice PDFs at their invoice_pdf URL")
    server.add_argument("--host", default="127.0.0.1", help="address to listen on")
    server.add_argument("--port", type=int, default=DEFAULT_PORT, help="port to listen on")
    server.set_defaults(handler=pdf_server)


def pdf_server(args: argparse.Namespace, settings: Settings) -> None:
    """Serve until interrupted.

    Raises:
        BillhookError: the store is not ready, or the address cannot be bound.
    """
    store = Store.from_url(settings.database_url)
    store.check_ready()
    try:
        server = PdfServer((args.host, args.port), store)
    except OSError as exc:
        raise BillhookError(f"cannot listen on {args.host}:{args.port}: {exc.strerror}") from None
    host, port = str(server.server_address[0]), int(server.server_address[1])
    base = settings.invoice_pdf_base_url or "(BILLHOOK_INVOICE_PDF_BASE_URL is not set)"
    print(f"invoice PDFs on http://{host}:{port}/invoices/ID.pdf; invoices link {base}", flush=True)
    try:
        server.serve_forever()
    finally:
        server.server_close()


class PdfServer(ThreadingHTTPServer):
    """An HTTP server answering invoice PDFs from ``store``."""

    daemon_threads = True

    def __init__(self, address: tuple[str, int], store: Store) -> None:
        super().__init__(address, PdfHandler)
        self.store = store


class PdfHandler(BaseHTTPRequestHandler):
    """``GET /invoices/<invoice id>.pdf``."""

    server: PdfServer
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        match = _PATH.fullmatch(self.path.split("?", 1)[0])
        if match is None:
            self._answer(HTTPStatus.NOT_FOUND, b"GET /invoices/<invoice id>.pdf\n", "text/plain")
            return
        try:
            pdf = invoice_pdf(self.server.store, match.group(1))
        except NotFound as exc:
            self._answer(HTTPStatus.NOT_FOUND, f"{exc}\n".encode(), "text/plain")
            return
        self._answer(HTTPStatus.OK, pdf, "application/pdf")

    def _answer(self, status: HTTPStatus, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        log.info("%s %s", self.address_string(), format % args)
