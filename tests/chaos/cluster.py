"""The processes of a chaos run: Temporal's dev server, two workers, the store's proxy, receivers.

Each runs as a subprocess of its own, logging to a file of the run's directory, and can be
killed with SIGKILL and started again; ``Cluster.close`` ends whatever is still running.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from models.search import dev_server_args

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


@dataclass
class Managed:
    """One restartable process: its command, environment and log file."""

    name: str
    command: list[str]
    log: Path
    env: dict[str, str] | None = None
    process: subprocess.Popen[bytes] | None = None
    starts: int = 0

    def start(self) -> None:
        with self.log.open("ab") as sink:
            sink.write(f"=== start {self.starts + 1} at {time.strftime('%X')}\n".encode())
            sink.flush()
            self.process = subprocess.Popen(
                self.command,
                cwd=self.log.parent,  # no stray .env file is read
                env=self.env,
                stdout=sink,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.starts += 1

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def kill(self) -> None:
        """SIGKILL, and reap it."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait()

    def signal(self, signum: signal.Signals) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signum)

    def stop(self, timeout: float = 30.0) -> int | None:
        """SIGTERM, waiting up to ``timeout`` seconds, then SIGKILL; the exit code."""
        if self.process is None:
            return None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill()
        return self.process.returncode


@dataclass
class Cluster:
    """Every process of one run, created by ``Cluster.create`` and ended by ``close``."""

    directory: Path
    temporal_port: int
    proxy_port: int
    task_queue: str
    server: Managed
    proxy: Managed
    workers: list[Managed] = field(default_factory=list)
    receiver: Managed | None = None
    receiver_ports: list[int] = field(default_factory=list)

    @classmethod
    def create(cls, directory: Path, task_queue: str) -> Cluster:
        temporal_port, proxy_port = free_port(), free_port()
        server = Managed(
            "temporal",
            [
                str(BIN / "temporal"),
                *("server", "start-dev", "--headless", "--port", str(temporal_port)),
                *("--http-port", str(free_port()), "--metrics-port", str(free_port())),
                *("--db-filename", str(directory / "temporal.db"), "--log-level", "error"),
                *("--namespace", "default", *dev_server_args()),
            ],
            directory / "temporal.log",
        )
        proxy = Managed(
            "dbproxy",
            [sys.executable, "-m", "tests.chaos.dbproxy", "--port", str(proxy_port)],
            directory / "dbproxy.log",
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )
        return cls(directory, temporal_port, proxy_port, task_queue, server, proxy)

    @property
    def temporal_address(self) -> str:
        return f"127.0.0.1:{self.temporal_port}"

    def start_server(self, within: float = 60.0) -> None:
        self.server.start()
        wait_for(lambda: port_open(self.temporal_port), within, "Temporal's dev server")

    def start_proxy(self) -> None:
        self.proxy.start()
        wait_for(lambda: port_open(self.proxy_port), 15.0, "the store's proxy")

    def start_receivers(self, secrets: list[str]) -> list[int]:
        ports_file = self.directory / "receiver-ports.json"
        command = [sys.executable, "-m", "tests.chaos.receiver", "--ports-file", str(ports_file)]
        command += [arg for secret in secrets for arg in ("--secret", secret)]
        self.receiver = Managed(
            "receiver",
            command,
            self.directory / "receiver.log",
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )
        self.receiver.start()
        wait_for(ports_file.exists, 30.0, "the receivers")
        self.receiver_ports = json.loads(ports_file.read_text())
        return self.receiver_ports

    def add_workers(self, count: int, environ: dict[str, str]) -> None:
        for n in range(count):
            self.workers.append(
                Managed(
                    f"worker-{n + 1}",
                    [sys.executable, str(ROOT / "worker.py")],
                    self.directory / f"worker-{n + 1}.log",
                    env=environ,
                )
            )

    def close(self) -> None:
        """End every process still running: workers first, then the server and the rest."""
        for managed in [*self.workers, self.server, self.proxy, self.receiver]:
            if managed is not None:
                with contextlib.suppress(Exception):
                    managed.stop(timeout=25.0)


def wait_for(check: Callable[[], bool], within: float, what: str) -> None:
    deadline = time.monotonic() + within
    while not check():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} did not come up within {within:g} s")
        time.sleep(0.2)
