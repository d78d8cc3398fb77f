"""``ReceiverProcess``: a benchmark's handle on ``bench/receiver.py``, run in its own process.

It starts the receiver with the ports and secrets asked for, waits until every port listens,
queries ``/stats`` and ``/records``, resets it between runs and stops it at the end of the
``with`` block. The receiver's own module documents what it records.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import httpx

#: The receiver's script, run with this Python.
RECEIVER = Path(__file__).resolve().with_name("receiver.py")


class ReceiverProcess:
    """Runs ``bench/receiver.py`` in a subprocess for as long as a ``with`` block lasts.

    Example:
        with ReceiverProcess(count=2, secrets=[s1, s2]) as rx:
            ...  # send to rx.urls
            rx.wait_for(2000, timeout=60)
            assert rx.stats()["verified"] == 2000
    """

    def __init__(
        self,
        count: int = 2,
        secrets: Sequence[str | None] | None = None,
        startup_timeout: float = 15.0,
    ) -> None:
        """Describe the receiver; nothing starts before ``__enter__``.

        Args:
            count: how many ports (endpoints) to serve.
            secrets: the i-th port's signing secret (None: that port does not verify); at most
                ``count`` of them; None: no port verifies.
            startup_timeout: seconds to wait for the ports to be published.

        Raises:
            ValueError: more secrets than ports, or no port.
        """
        secrets = list(secrets or [])
        if count < 1 or len(secrets) > count:
            raise ValueError(f"need 1 or more ports and at most one secret each, not {count}")
        self.count = count
        self.secrets: list[str | None] = secrets
        self.startup_timeout = startup_timeout
        self.ports: list[int] = []
        self._process: subprocess.Popen[bytes] | None = None
        self._client: httpx.Client | None = None
        self._tmp: str | None = None

    @property
    def urls(self) -> list[str]:
        """One webhook URL per port: ``http://127.0.0.1:PORT/hook``."""
        return [f"http://127.0.0.1:{port}/hook" for port in self.ports]

    @property
    def pid(self) -> int:
        """The receiver process's id (for RSS and CPU figures)."""
        assert self._process is not None, "the receiver is not running"
        return self._process.pid

    def __enter__(self) -> ReceiverProcess:
        """Start the receiver and wait until every port listens.

        Raises:
            RuntimeError: the receiver exited or did not publish its ports in time.
        """
        self._tmp = tempfile.mkdtemp(prefix="billhook-rx-")
        ports_file = Path(self._tmp) / "ports.json"
        command = [sys.executable, str(RECEIVER), "--ports-file", str(ports_file)]
        command += ["--count", str(self.count)]
        for secret in self.secrets:
            command += ["--secret", secret or ""]
        self._process = subprocess.Popen(command, stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + self.startup_timeout
        while not ports_file.exists():
            if self._process.poll() is not None:
                self._cleanup()
                raise RuntimeError(f"receiver exited with {self._process.returncode} on start")
            if time.monotonic() > deadline:
                self._cleanup()
                raise RuntimeError(f"receiver did not listen within {self.startup_timeout} s")
            time.sleep(0.02)
        self.ports = json.loads(ports_file.read_text())
        self._client = httpx.Client(
            base_url=f"http://127.0.0.1:{self.ports[0]}", timeout=60, trust_env=False
        )
        return self

    def __exit__(self, *exc_info: object) -> None:
        """Stop the receiver (SIGTERM, then SIGKILL after 5 s) and wait for it."""
        self._cleanup()

    def _cleanup(self) -> None:
        """Close the client, end the process and remove the ports file."""
        if self._client is not None:
            self._client.close()
            self._client = None
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        if self._tmp is not None:
            shutil.rmtree(self._tmp, ignore_errors=True)
            self._tmp = None

    def _http(self) -> httpx.Client:
        """The client to the receiver's first port."""
        assert self._client is not None, "use ReceiverProcess in a with block"
        return self._client

    def stats(self) -> dict[str, Any]:
        """``GET /stats``: received, per_port (port strings as keys), verified, invalid, unique."""
        answer = self._http().get("/stats")
        answer.raise_for_status()
        stats: dict[str, Any] = answer.json()
        return stats

    def records(self) -> list[dict[str, Any]]:
        """``GET /records``: every record received since the start or the last reset."""
        answer = self._http().get("/records")
        answer.raise_for_status()
        records: list[dict[str, Any]] = answer.json()
        return records

    def reset(self) -> None:
        """``POST /reset``: forget every record and counter."""
        self._http().post("/reset").raise_for_status()

    def wait_for(
        self, received: int, timeout: float, progress: Callable[[int], None] | None = None
    ) -> dict[str, Any]:
        """Poll ``/stats`` every 0.2 s until ``received`` requests arrived; returns the stats.

        Args:
            received: how many POSTs (on all ports together) to wait for.
            timeout: seconds before giving up.
            progress: called with the number received so far after every poll.

        Raises:
            TimeoutError: fewer than ``received`` arrived within ``timeout``.
        """
        deadline = time.monotonic() + timeout
        while True:
            stats = self.stats()
            if progress is not None:
                progress(stats["received"])
            if stats["received"] >= received:
                return stats
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"receiver got {stats['received']} of {received} requests in {timeout} s"
                )
            time.sleep(0.2)
