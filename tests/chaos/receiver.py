"""The chaos suite's receivers, in a process of their own: they verify, record, and misbehave.

    .venv/bin/python -m tests.chaos.receiver --ports-file PATH --secret whsec_... [--secret ...]

One HTTP/1.1 server per ``--secret`` on 127.0.0.1 (OS-chosen ports, written to PATH as a JSON
list once all listen), served until SIGTERM. Every POST is recorded when its body has arrived
(port, ``svix-id``, the body's ``attempt``, event type, a digest of the payload, whether the
signature verifies with svix's ``Webhook``) and then answered. About ``--fail-rate`` of them, at
random (``--seed``), get one of the faults:

- ``500``: an immediate 500;
- ``429``: 429 with ``Retry-After: 1``;
- ``slow``: 204, but only after ``--slow-seconds`` (longer than billhook's request timeout);
- ``reset``: the connection is reset (TCP RST) without an answer;
- ``large``: 200 with a body of ``--large-bytes`` (over billhook's response size limit).

A message stops being failed on a port after ``--max-failures`` faults, so that no delivery
runs out of its (short) retry schedule from the receiver's faults alone: what is checked is
billhook's accounting under faults, not the odds of a fault streak.

``GET /records`` (any port) returns every record as JSON; each names the ``answer`` given.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import json
import os
import random
import signal
import socket
import struct
import time
from collections import Counter
from pathlib import Path
from typing import Any

from svix.webhooks import Webhook

FAULTS = ("500", "429", "slow", "reset", "large")
OK = "204"


def payload_digest(payload: object) -> str:
    """A digest of a payload as JSON with sorted keys: compared with the store's copy."""
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


class Faults:
    """Chooses each request's answer: a fault about ``rate`` of the time, at most ``most``."""

    def __init__(self, rate: float, most: int, seed: int) -> None:
        self.rate = rate
        self.most = most
        self.random = random.Random(seed)
        self.failed: Counter[tuple[int, str]] = Counter()

    def choose(self, port: int, msg_id: str) -> str:
        if self.failed[(port, msg_id)] >= self.most or self.random.random() >= self.rate:
            return OK
        self.failed[(port, msg_id)] += 1
        return self.random.choice(FAULTS)


class State:
    """What every port of the process shares: the records, the faults, the verifiers."""

    def __init__(self, faults: Faults, slow: float, large: int) -> None:
        self.faults = faults
        self.slow = slow
        self.large = large
        self.records: list[dict[str, Any]] = []
        self.verifiers: dict[int, Webhook] = {}

    def record(self, port: int, headers: dict[str, str], body: bytes) -> str:
        """Record one POST and choose its answer."""
        msg_id = headers.get("svix-id", "")
        entry: dict[str, Any] = {"port": port, "msg_id": msg_id, "at": time.time()}
        try:
            envelope = json.loads(body)
            properties = envelope.get("properties") or {}
            entry["attempt"] = envelope.get("attempt")
            entry["event_type"] = properties.get("event_type")
            entry["created_at"] = envelope.get("created_at")
            entry["payload"] = payload_digest(properties.get("payload"))
        except (ValueError, AttributeError):
            entry["attempt"] = None
        try:
            self.verifiers[port].verify(body, headers)
            entry["verified"] = True
        except Exception:
            entry["verified"] = False
        answer = entry["answer"] = self.faults.choose(port, msg_id)
        self.records.append(entry)
        return answer


def response(status: int, reason: str, body: bytes = b"", extra: str = "") -> bytes:
    head = f"HTTP/1.1 {status} {reason}\r\ncontent-length: {len(body)}\r\n{extra}\r\n"
    return head.encode("latin-1") + body


class HttpProtocol(asyncio.Protocol):
    """One keep-alive connection (content-length bodies; billhook's client sends those)."""

    def __init__(self, state: State, port: int) -> None:
        self.state = state
        self.port = port
        self.buffer = bytearray()
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while self.transport is not None and self._one():
            pass

    def _one(self) -> bool:
        end = self.buffer.find(b"\r\n\r\n")
        if end < 0:
            return False
        lines = bytes(self.buffer[:end]).decode("latin-1").split("\r\n")
        method, target, _ = lines[0].split(" ", 2)
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        body_end = end + 4 + int(headers.get("content-length", "0"))
        if len(self.buffer) < body_end:
            return False
        body = bytes(self.buffer[end + 4 : body_end])
        del self.buffer[:body_end]
        if method == "GET" and target == "/records":
            self._write(response(200, "OK", json.dumps(self.state.records).encode()))
        elif method == "POST":
            self._answer(self.state.record(self.port, headers, body))
        else:
            self._write(response(404, "Not Found"))
        return True

    def _answer(self, answer: str) -> None:
        if answer == OK:
            self._write(response(204, "No Content"))
        elif answer == "500":
            self._write(response(500, "Internal Server Error"))
        elif answer == "429":
            self._write(response(429, "Too Many Requests", extra="retry-after: 1\r\n"))
        elif answer == "large":
            self._write(response(200, "OK", b"x" * self.state.large))
        elif answer == "slow":
            later = response(204, "No Content")
            asyncio.get_running_loop().call_later(self.state.slow, self._write, later)
        else:
            self._reset()

    def _write(self, data: bytes) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(data)

    def _reset(self) -> None:
        if self.transport is None:
            return
        sock = self.transport.get_extra_info("socket")
        if sock is not None:  # SO_LINGER 0: close() sends RST, not FIN
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.transport.abort()
        self.transport = None


async def serve(args: argparse.Namespace) -> None:
    state = State(Faults(args.fail_rate, args.max_failures, args.seed), args.slow, args.large)
    loop = asyncio.get_running_loop()
    servers, ports = [], []
    for secret in args.secret:
        holder: dict[str, int] = {}

        def factory(holder: dict[str, int] = holder) -> HttpProtocol:
            return HttpProtocol(state, holder["port"])

        server = await loop.create_server(factory, "127.0.0.1", 0, backlog=1024)
        holder["port"] = server.sockets[0].getsockname()[1]
        state.verifiers[holder["port"]] = Webhook(secret)
        servers.append(server)
        ports.append(holder["port"])
    stop = asyncio.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    partial = args.ports_file.with_name(args.ports_file.name + ".partial")
    partial.write_text(json.dumps(ports))
    os.replace(partial, args.ports_file)
    await stop.wait()
    for server in servers:
        server.close()


def main() -> None:
    parser = argparse.ArgumentParser(description="chaos receivers (own process)")
    parser.add_argument("--ports-file", type=Path, required=True)
    parser.add_argument("--secret", action="append", required=True, help="one port each")
    parser.add_argument("--fail-rate", type=float, default=0.3)
    parser.add_argument("--max-failures", type=int, default=4)
    parser.add_argument("--slow", type=float, default=3.0, help="seconds a slow answer takes")
    parser.add_argument("--large", type=int, default=96 * 1024, help="bytes of a large answer")
    parser.add_argument("--seed", type=int, default=0)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(parser.parse_args()))


if __name__ == "__main__":
    main()
