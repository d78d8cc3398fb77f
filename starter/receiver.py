"""``WebhookReceiver``: a development receiver that verifies signatures as real receivers do.

It checks every POST with the Svix library, exactly as a production receiver written against
Svix or Standard Webhooks would, so a request it accepts is one they accept. It can answer a
failure status to the first requests to exercise retries. Used by ``billhook listen`` and tests.
"""

from __future__ import annotations

import json
import sys
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, TextIO

from svix.webhooks import Webhook, WebhookVerificationError

from models.signing import validate_secret

NO_CONTENT = 204
BAD_REQUEST = 400


@dataclass(frozen=True)
class ReceivedEvent:
    """One verified request, as the receiver saw and answered it."""

    message_id: str
    event_type: str | None
    attempt: int | None
    payload: Any
    body: bytes
    headers: dict[str, str]
    status: int
    received_at: datetime = field(default_factory=lambda: datetime.now(UTC))


@dataclass(frozen=True)
class Reply:
    """What the receiver answers to one request."""

    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""


class WebhookReceiver:
    """An HTTP server that verifies, prints and records each webhook it receives.

    Args:
        secret: the endpoint's signing secret (``whsec_...``), as a receiver holds it.
            ``InvalidSecret`` is raised when it is not one.
        fail_first: answer ``fail_status`` to this many verified requests before succeeding.
        fail_status: the status of those simulated failures.
        retry_after: seconds sent as ``Retry-After`` with the simulated failures, if given.
        out: where the one-line-per-request log goes (standard output by default).
        host: the interface to bind.
        port: the port to bind; 0 picks a free one (see ``url``).
    """

    def __init__(
        self,
        secret: str,
        *,
        fail_first: int = 0,
        fail_status: int = 500,
        retry_after: int | None = None,
        out: TextIO | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        # The library silently drops characters outside base64; refuse such a secret instead.
        self._webhook = Webhook(validate_secret(secret))
        self.fail_first = fail_first
        self.fail_status = fail_status
        self.retry_after = retry_after
        self.out = out if out is not None else sys.stdout
        self.events: list[ReceivedEvent] = []
        self._address = (host, port)
        self._lock = threading.RLock()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """The URL to point an endpoint at (the bound port once started)."""
        host, port = self._server.server_address[:2] if self._server else self._address
        return f"http://{host!s}:{port}/"

    def start(self) -> None:
        """Bind and serve in a background thread until ``stop``."""
        server = self._bind()
        self._thread = threading.Thread(target=server.serve_forever, name="webhook-receiver")
        self._thread.daemon = True  # never keeps a test run or the CLI alive on its own
        self._thread.start()

    def wait(self) -> None:
        """Block until ``stop`` is called from another thread, or Ctrl-C (``billhook listen``)."""
        while (thread := self._thread) is not None and thread.is_alive():
            # A short timeout keeps the main thread responsive to KeyboardInterrupt.
            thread.join(timeout=0.5)

    def stop(self) -> None:
        """Stop serving and release the port."""
        server, self._server = self._server, None
        if server is None:
            return
        server.shutdown()
        server.server_close()
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def _bind(self) -> _Server:
        self._server = _Server(self._address, _Handler)
        self._server.receiver = self
        return self._server

    def handle(self, body: bytes, headers: dict[str, str]) -> Reply:
        """Verify one request and decide the answer; records and prints it.

        Args:
            body: the raw request body, exactly as received.
            headers: the request headers, names lower-cased.
        """
        try:
            self._webhook.verify(body, headers)
        except (WebhookVerificationError, ValueError) as exc:
            # ValueError: malformed signature headers or a body the library cannot decode.
            reason = str(exc) or type(exc).__name__
            self._print(f"✗ rejected {headers.get('svix-id', '(no svix-id)')}: {reason} → 400")
            return Reply(BAD_REQUEST, body=f"signature verification failed: {reason}\n".encode())
        with self._lock:
            number = len(self.events) + 1
            failing = number <= self.fail_first
            reply = self._failure(number) if failing else Reply(NO_CONTENT)
            event = _event(body, headers, reply.status)
            self.events.append(event)
            note = self._failure_note(number) if failing else ""
            self._print(_line(event, note), "  " + _compact(event.payload))
        return reply

    def _failure(self, number: int) -> Reply:
        headers = {} if self.retry_after is None else {"retry-after": str(self.retry_after)}
        return Reply(self.fail_status, headers, f"simulated failure {number}\n".encode())

    def _failure_note(self, number: int) -> str:
        note = f" (simulated failure {number} of {self.fail_first}"
        if self.retry_after is not None:
            note += f", Retry-After: {self.retry_after}"
        return note + ")"

    def _print(self, first: str, *more: str) -> None:
        stamp = datetime.now(UTC).strftime("%H:%M:%S")
        with self._lock:  # requests are served on several threads: keep their lines together
            self.out.write("\n".join([f"{stamp} {first}", *more]) + "\n")
            self.out.flush()


def _event(body: bytes, headers: dict[str, str], status: int) -> ReceivedEvent:
    """A verified request's fields; a body that is not our envelope is kept whole as payload."""
    try:
        payload: Any = json.loads(body)
    except ValueError:
        payload = body.decode("utf-8", errors="replace")
    event_type = attempt = None
    if isinstance(payload, dict) and isinstance(payload.get("properties"), dict):
        event_type = payload["properties"].get("event_type")
        attempt = payload.get("attempt")
        payload = payload["properties"].get("payload")
    message_id = headers.get("svix-id") or headers.get("webhook-id", "")
    return ReceivedEvent(message_id, event_type, attempt, payload, body, headers, status)


def _line(event: ReceivedEvent, note: str) -> str:
    return (
        f"✓ verified {event.message_id} {event.event_type or '(no event type)'} "
        f"attempt {event.attempt if event.attempt is not None else '?'} → {event.status}{note}"
    )


def _compact(payload: Any) -> str:
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False)


class _Server(ThreadingHTTPServer):
    receiver: WebhookReceiver


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def do_POST(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        body = self.rfile.read(length)
        headers = {name.lower(): value for name, value in self.headers.items()}
        reply = self.server.receiver.handle(body, headers)
        self.send_response(reply.status)
        for name, value in reply.headers.items():
            self.send_header(name, value)
        if reply.status != NO_CONTENT:  # a 204 carries no body, hence no length either
            self.send_header("content-length", str(len(reply.body)))
        self.end_headers()
        self.wfile.write(reply.body)

    def log_message(self, format: str, *args: Any) -> None:
        """Silenced: the receiver prints its own line per request instead."""
