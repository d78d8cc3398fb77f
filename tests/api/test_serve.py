"""``billhook serve`` as ``make run`` starts it: a process answering until SIGTERM."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from config import Settings
from store import Store
from tests.api.conftest import make_key

BILLHOOK = Path(sys.executable).with_name("billhook")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def serve(settings: Settings, port: int) -> subprocess.Popen[str]:
    environ = {
        **{k: v for k, v in os.environ.items() if not k.startswith("BILLHOOK_")},
        "BILLHOOK_DATABASE_URL": settings.database_url,
        "BILLHOOK_TEMPORAL_ADDRESS": "127.0.0.1:1",
    }
    return subprocess.Popen(
        [str(BILLHOOK), "serve", "--port", str(port)],
        env=environ,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


async def test_serve_answers_on_its_port_until_sigterm(settings: Settings, store: Store) -> None:
    key = await make_key(settings, store)
    await asyncio.to_thread(answers_until_sigterm, settings, key)


def answers_until_sigterm(settings: Settings, key: str) -> None:
    port = free_port()
    process = serve(settings, port)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                health = httpx.get(url + "/health", timeout=1)
                break
            except httpx.TransportError:
                assert process.poll() is None and time.monotonic() < deadline
                time.sleep(0.1)
        assert health.json() == {"status": "ok"}
        headers = {"Authorization": f"Bearer {key}"}
        assert httpx.get(url + "/endpoints", headers=headers).json() == {
            "data": [],
            "next_cursor": None,
        }
        # The same port again: one error line, a non-zero exit.
        taken = serve(settings, port)
        _, err = taken.communicate(timeout=30)
        assert taken.returncode == 1
        assert err.splitlines()[-1] == (
            f"error: the API could not listen on 127.0.0.1:{port} (is it taken?)"
        )
    finally:
        process.send_signal(signal.SIGTERM)
        _, err = process.communicate(timeout=30)
    assert process.returncode == 0
    lines = err.splitlines()
    assert lines[0].startswith(f"billhook API on http://127.0.0.1:{port}")
    assert lines[-1] == "billhook API stopped"
    assert key not in err
