"""A fast webhook receiver for the benchmarks, run in its own process.

    .venv/bin/python bench/receiver.py --ports-file PATH [--count 2] [--secret whsec_... ...]

It binds ``--count`` HTTP/1.1 servers on 127.0.0.1 (OS-chosen ports, one endpoint each), writes
their ports to PATH as a JSON list once all are listening, and serves until SIGTERM (or SIGINT).
The i-th ``--secret`` belongs to the i-th port (an empty one, or none given, means that port does
not verify): verifying costs CPU, so it is optional.

Every POST (except ``POST /reset``) is answered 204 with an empty body and recorded: the port,
the ``svix-id`` header, the body's ``attempt``, ``created_at`` and ``properties.event_type``, the
receipt time (``time.time()``) and whether the Standard Webhooks signature verifies (``None``
without a secret). On any port:

- ``GET /stats``: ``{"received", "per_port" (keys are port strings), "verified", "invalid",
  "unique" (distinct (port, svix-id) pairs)}``;
- ``GET /records``: every record as a JSON object;
- ``POST /reset``: forgets every record and counter.

The server is hand-rolled on ``asyncio.Protocol`` (keep-alive, pipelining, content-length and
chunked bodies): with 50 keep-alive clients it answers several times faster than
``ThreadingHTTPServer``, and being a separate process it does not share the benchmark's GIL.
``ReceiverProcess`` (``bench/receiver_process.py``) starts it from a benchmark and queries it.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import json
import os
import signal
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

#: Largest request head accepted; a bigger one is answered 431 and the connection closed.
MAX_HEAD = 64 * 1024

Record = tuple[int, str | None, int | None, str | None, str | None, float, bool | None]
RECORD_FIELDS = (
    "port",
    "msg_id",
    "attempt",
    "event_type",
    "created_at",
    "received_at",
    "verified",
)

REASONS = {200: "OK", 204: "No Content", 400: "Bad Request", 404: "Not Found", 431: "Too Large"}


class State:
    """Records and counters shared by every port of one receiver process."""

    def __init__(self) -> None:
        """Start with nothing received."""
        self.records: list[Record] = []
        self.per_port: dict[int, int] = {}
        self.unique: set[tuple[int, str | None]] = set()
        self.verified = 0
        self.invalid = 0

    def reset(self) -> None:
        """Forget every record and counter (the ports are kept)."""
        self.records.clear()
        self.per_port = dict.fromkeys(self.per_port, 0)
        self.unique.clear()
        self.verified = 0
        self.invalid = 0

    def record(self, port: int, headers: dict[str, str], body: bytes, verifier: Any | None) -> None:
        """Record one webhook POST received on ``port``."""
        received_at = time.time()
        msg_id = headers.get("svix-id", headers.get("webhook-id"))
        attempt = event_type = created_at = None
        try:
            envelope = json.loads(body)
            attempt = envelope.get("attempt")
            created_at = envelope.get("created_at")
            event_type = (envelope.get("properties") or {}).get("event_type")
        except (ValueError, AttributeError):
            pass
        verified: bool | None = None
        if verifier is not None:
            try:
                verifier.verify(body, headers)
                verified = True
                self.verified += 1
            except Exception:
                verified = False
                self.invalid += 1
        self.records.append((port, msg_id, attempt, event_type, created_at, received_at, verified))
        self.per_port[port] = self.per_port.get(port, 0) + 1
        self.unique.add((port, msg_id))

    def stats(self) -> dict[str, Any]:
        """The ``GET /stats`` document."""
        return {
            "received": len(self.records),
            "per_port": {str(port): n for port, n in self.per_port.items()},
            "verified": self.verified,
            "invalid": self.invalid,
            "unique": len(self.unique),
        }

    def records_json(self) -> list[dict[str, Any]]:
        """The ``GET /records`` document."""
        return [dict(zip(RECORD_FIELDS, record, strict=True)) for record in self.records]


def response(status: int, body: bytes = b"", *, close: bool = False) -> bytes:
    """The bytes of one HTTP/1.1 response (JSON when there is a body)."""
    head = f"HTTP/1.1 {status} {REASONS.get(status, 'Error')}\r\ncontent-length: {len(body)}\r\n"
    if body:
        head += "content-type: application/json\r\n"
    if close:
        head += "connection: close\r\n"
    return head.encode("latin-1") + b"\r\n" + body


NO_CONTENT = response(204)


def parse_chunked(buffer: bytearray, start: int) -> tuple[bytes, int] | None:
    """Decode a chunked body beginning at ``start``: (body, end offset), or None if incomplete.

    Raises:
        ValueError: a chunk size that is not hexadecimal.
    """
    parts: list[bytes] = []
    pos = start
    while True:
        eol = buffer.find(b"\r\n", pos)
        if eol < 0:
            return None
        size = int(bytes(buffer[pos:eol]).split(b";", 1)[0], 16)
        pos = eol + 2
        if size == 0:
            end = buffer.find(b"\r\n\r\n", pos - 2)  # trailers, then the empty line
            return (b"".join(parts), end + 4) if end >= 0 else None
        if len(buffer) < pos + size + 2:
            return None
        parts.append(bytes(buffer[pos : pos + size]))
        pos += size + 2


class HttpProtocol(asyncio.Protocol):
    """One keep-alive HTTP/1.1 connection to one of the receiver's ports."""

    def __init__(self, state: State, verifier: Any | None) -> None:
        """Serve into ``state``, verifying with ``verifier`` when it is set."""
        self.state = state
        self.verifier = verifier
        self.port = 0  # the port it was accepted on, once connected
        self.buffer = bytearray()
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        """Keep the transport to answer on, and the port the connection came in on."""
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self.port = transport.get_extra_info("sockname")[1]

    def data_received(self, data: bytes) -> None:
        """Answer every complete request in the buffer, in order (pipelining included)."""
        self.buffer += data
        try:
            while self.transport is not None and self.handle_one():
                pass
        except ValueError:
            self.reply(response(400, close=True), close=True)

    def reply(self, data: bytes, *, close: bool = False) -> None:
        """Send one response, closing the connection after it when asked."""
        if self.transport is None:
            return
        self.transport.write(data)
        if close:
            self.transport.close()
            self.transport = None

    def handle_one(self) -> bool:
        """Answer the first request of the buffer if complete; returns whether it was.

        Raises:
            ValueError: a malformed request.
        """
        buffer = self.buffer
        head_end = buffer.find(b"\r\n\r\n")
        if head_end < 0:
            if len(buffer) > MAX_HEAD:
                self.reply(response(431, close=True), close=True)
            return False
        lines = bytes(buffer[:head_end]).decode("latin-1").split("\r\n")
        method, target, version = lines[0].split(" ", 2)
        headers: dict[str, str] = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        body_start = head_end + 4
        if "chunked" in headers.get("transfer-encoding", "").lower():
            decoded = parse_chunked(buffer, body_start)
            if decoded is None:
                return False
            body, end = decoded
        else:
            end = body_start + int(headers.get("content-length", "0"))
            if len(buffer) < end:
                return False
            body = bytes(buffer[body_start:end])
        del buffer[:end]
        connection = headers.get("connection", "").lower()
        close = connection == "close" or (version == "HTTP/1.0" and connection != "keep-alive")
        path = target.split("?", 1)[0]
        state = self.state
        if method == "POST" and path == "/reset":
            state.reset()
            self.reply(response(204, close=close), close=close)
        elif method == "POST":
            state.record(self.port, headers, body, self.verifier)
            self.reply(NO_CONTENT if not close else response(204, close=True), close=close)
        elif method == "GET" and path == "/stats":
            document = json.dumps(state.stats()).encode()
            self.reply(response(200, document, close=close), close=close)
        elif method == "GET" and path == "/records":
            document = json.dumps(state.records_json()).encode()
            self.reply(response(200, document, close=close), close=close)
        else:
            self.reply(response(404, close=close), close=close)
        return True

    def connection_lost(self, exc: Exception | None) -> None:
        """Stop answering on a closed connection."""
        self.transport = None


async def serve(ports_file: Path, count: int, secrets: Sequence[str | None]) -> None:
    """Listen on ``count`` ports, publish them to ``ports_file``, and serve until SIGTERM."""
    verifiers: list[Any | None] = [None] * count
    if any(secrets):
        from svix.webhooks import Webhook

        for i, secret in enumerate(secrets):
            verifiers[i] = Webhook(secret) if secret else None
    state = State()
    loop = asyncio.get_running_loop()
    servers: list[asyncio.Server] = []
    ports: list[int] = []
    for verifier in verifiers:
        factory = functools.partial(HttpProtocol, state, verifier)
        server = await loop.create_server(factory, "127.0.0.1", 0, backlog=1024)
        port = server.sockets[0].getsockname()[1]
        state.per_port[port] = 0
        servers.append(server)
        ports.append(port)
    stop = asyncio.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    partial = ports_file.with_name(ports_file.name + ".partial")
    partial.write_text(json.dumps(ports))
    os.replace(partial, ports_file)  # readers never see a half-written file
    await stop.wait()
    for server in servers:
        server.close()


def main() -> None:
    """Parse the command line and serve."""
    parser = argparse.ArgumentParser(description="benchmark webhook receiver (own process)")
    parser.add_argument("--ports-file", type=Path, required=True, help="where to write the ports")
    parser.add_argument("--count", type=int, default=2, help="how many ports (endpoints)")
    parser.add_argument(
        "--secret",
        action="append",
        default=[],
        help="signing secret of the next port (repeatable; empty: that port does not verify)",
    )
    args = parser.parse_args()
    if args.count < 1 or len(args.secret) > args.count:
        parser.error("need --count >= 1 and at most one --secret per port")
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(args.ports_file, args.count, args.secret))


if __name__ == "__main__":
    main()
