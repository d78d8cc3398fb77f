"""Temporal's dev server for ``python worker.py --dev`` (what ``make run`` does).

``temporal server start-dev`` persisted under ``.data/``, with the Web UI on :8233 and billhook's
search attributes registered; one already listening on the configured address is reused.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import subprocess
import time
from collections.abc import Iterator

from config import Settings
from models.search import dev_server_args

log = logging.getLogger("billhook.worker")


def _port_open(address: str) -> bool:
    host, _, port = address.rpartition(":")
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host or "localhost", int(port))) == 0


@contextlib.contextmanager
def dev_server(settings: Settings) -> Iterator[None]:
    """Run ``temporal server start-dev`` for as long as the block lasts (or reuse one running)."""
    if _port_open(settings.temporal_address):
        log.info("Temporal already listens on %s: using it", settings.temporal_address)
        yield
        return
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    port = settings.temporal_address.rpartition(":")[2]
    command = [
        settings.temporal_cli_path(),
        *("server", "start-dev", "--port", port, "--ui-port", "8233"),
        *("--db-filename", str(settings.data_dir / "temporal.db"), "--log-level", "error"),
        *("--namespace", settings.temporal_namespace, *dev_server_args()),
    ]
    server = subprocess.Popen(command, start_new_session=True)
    try:
        _wait_for(settings.temporal_address, server)
        yield
    finally:
        stop(server, 10)


def stop(server: subprocess.Popen[bytes], wait: float) -> None:
    """End a dev server: SIGTERM, then SIGKILL if it has not exited within ``wait`` s."""
    server.terminate()
    try:
        server.wait(timeout=wait)
    except subprocess.TimeoutExpired:
        server.kill()


def _wait_for(address: str, server: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    print(f"starting Temporal dev server on {address} ...", flush=True)
    while not _port_open(address):
        if server.poll() is not None:
            raise SystemExit(f"error: temporal server start-dev exited with {server.returncode}")
        if time.monotonic() > deadline:
            raise SystemExit(f"error: Temporal did not listen on {address} within 60 s")
        time.sleep(0.3)
