"""A real local HTTP receiver for tests: records every request's exact bytes and headers."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Received:
    """One request as the receiver got it."""

    body: bytes
    headers: dict[str, str]
    path: str = "/"


@dataclass
class Receiver:
    """Answers each request with the next planned status (then ``default``), recording it."""

    statuses: list[int] = field(default_factory=list)
    default: int = 204
    extra_headers: dict[str, str] = field(default_factory=dict)
    requests: list[Received] = field(default_factory=list)
    url: str = ""
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    #: Cleared, requests are recorded as they arrive and answered once it is set again (a
    #: receiver that holds them, so a test sees what else arrives while they are in flight).
    gate: threading.Event = field(default_factory=threading.Event, repr=False)

    def __post_init__(self) -> None:
        self.gate.set()

    def answer(self, received: Received) -> int:
        with self.lock:
            self.requests.append(received)
            status = self.statuses.pop(0) if self.statuses else self.default
        self.gate.wait(timeout=60)
        return status


def _handler(receiver: Receiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length", 0)))
            status = receiver.answer(
                Received(body, {k.lower(): v for k, v in self.headers.items()}, self.path)
            )
            self.send_response(status)
            for name, value in receiver.extra_headers.items():
                self.send_header(name, value)
            self.send_header("content-length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, format: str, *args: object) -> None:
            pass

    return Handler


class _Server(ThreadingHTTPServer):
    request_queue_size = 256
    daemon_threads = True


def serve(receiver: Receiver) -> Iterator[Receiver]:
    """Run ``receiver`` on 127.0.0.1 on a free port for the duration of a fixture."""
    # A batch opens many connections at once; the default backlog of 5 would refuse some.
    server = _Server(("127.0.0.1", 0), _handler(receiver))
    receiver.url = f"http://127.0.0.1:{server.server_address[1]}/webhooks"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()
