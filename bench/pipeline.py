"""billhook's side of the benchmarks: a store, a worker process as ``make run`` runs it, emitters.

The worker runs as ``python worker.py`` in its own process, configured by environment variables
like a deployment, against the benchmark's dev server (a SQLite file, as ``make run`` has) and a
SQLite store: the embedded default. The benchmark's interpreter only emits and watches.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

from harness import PAYLOAD, ROOT
from temporalio.client import Client

from client.publisher import Publisher
from models.delivery import Event
from models.events import EventType
from store import Store

#: The worker's settings for every benchmark (the rest are the defaults users get).
WORKER_ENV = {
    "BILLHOOK_ENVIRONMENT": "development",
    "BILLHOOK_ALLOWED_NETWORKS": "127.0.0.0/8",
    "BILLHOOK_LOG_LEVEL": "WARNING",
}


def open_store(tmp: Path) -> Store:
    """A migrated SQLite store in ``tmp``: the embedded default's."""
    store = Store.from_url(f"sqlite:///{tmp / 'billhook.db'}")
    store.upgrade()
    return store


@contextlib.contextmanager
def worker_process(client: Client, store: Store, task_queue: str) -> Iterator[int]:
    """``python worker.py`` on ``task_queue`` for the block; yields its pid, stops it after."""
    environ = {
        **{k: v for k, v in os.environ.items() if not k.startswith("BILLHOOK_")},
        **WORKER_ENV,
        "BILLHOOK_TEMPORAL_ADDRESS": client.service_client.config.target_host,
        "BILLHOOK_DATABASE_URL": str(store.engine.url),
        "BILLHOOK_TASK_QUEUE": task_queue,
    }
    process = subprocess.Popen([sys.executable, str(ROOT / "worker.py")], cwd=ROOT, env=environ)
    try:
        yield process.pid
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def new_task_queue(name: str) -> str:
    return f"bench-{name}-{uuid.uuid4().hex[:8]}"


def invoice_event(key: str) -> Event:
    """An ``invoice.created`` with the benchmark payload, emitted now."""
    return Event.for_event(EventType.INVOICE_CREATED, key, PAYLOAD, datetime.now(UTC))


async def emit_each(publisher: Publisher, events: list[Event], concurrency: int) -> None:
    """Emit every event on its own, ``concurrency`` emitters at once, as applications would."""
    limit = asyncio.Semaphore(concurrency)

    async def one(event: Event) -> None:
        async with limit:
            await publisher.publish([event])

    await asyncio.gather(*(one(event) for event in events))
