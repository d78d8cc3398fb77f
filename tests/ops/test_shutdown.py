"""Graceful shutdown: SIGTERM lets the attempt in flight finish and record itself, then exit 0.

The worker runs as ``python worker.py`` in a subprocess, configured through the environment as
a deployment configures it (JSON logs, a metrics port), against the dev server.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from temporalio.testing import WorkflowEnvironment

from config import Settings
from models.delivery import DeliveryStatus
from store import Store
from tests.conftest import RunWorker, dispatcher_handle, settled
from tests.ops.conftest import address_of, emit, free_port
from tests.receiver import Received, Receiver, serve

WORKER = Path(__file__).parents[2] / "worker.py"
#: Credentials in an endpoint URL (development only) are secrets: they must not be logged.
PASSWORD = "hunter2-in-the-url"
#: Long enough to send SIGTERM mid-request; well within the worker's graceful timeout (20 s).
ANSWER_AFTER_SECONDS = 2.0


@dataclass
class SlowReceiver(Receiver):
    """A receiver that answers each request ``ANSWER_AFTER_SECONDS`` after it arrived."""

    arrived: threading.Event = field(default_factory=threading.Event)

    def answer(self, received: Received) -> int:
        self.arrived.set()
        time.sleep(ANSWER_AFTER_SECONDS)
        return super().answer(received)


@pytest.fixture
def slow_receiver() -> Iterator[SlowReceiver]:
    yield from serve(SlowReceiver())  # type: ignore[misc]


def worker_environment(
    dev_env: WorkflowEnvironment, settings: Settings, metrics_port: int
) -> dict[str, str]:
    """This process's environment without BILLHOOK_* settings, plus the test's."""
    inherited = {k: v for k, v in os.environ.items() if not k.startswith("BILLHOOK_")}
    return {
        **inherited,
        "BILLHOOK_TEMPORAL_ADDRESS": address_of(dev_env),
        "BILLHOOK_DATABASE_URL": settings.database_url,
        "BILLHOOK_TASK_QUEUE": settings.task_queue,
        "BILLHOOK_ALLOWED_NETWORKS": "127.0.0.0/8",
        "BILLHOOK_ENVIRONMENT": "development",
        "BILLHOOK_METRICS_PORT": str(metrics_port),
        "BILLHOOK_LOG_FORMAT": "json",
    }


async def stop_mid_attempt(
    process: asyncio.subprocess.Process, receiver: SlowReceiver, metrics_port: int
) -> int:
    """SIGTERM ``process`` while the receiver holds the attempt; its exit code."""
    try:
        assert await asyncio.to_thread(receiver.arrived.wait, 30), "no attempt arrived"
        async with httpx.AsyncClient() as http:
            metrics = await http.get(f"http://127.0.0.1:{metrics_port}/metrics")
        assert "temporal_worker_task_slots_available" in metrics.text
        process.send_signal(signal.SIGTERM)
        return await asyncio.wait_for(process.wait(), 30)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


async def test_sigterm_lets_the_attempt_in_flight_finish_and_record_itself(
    dev_env: WorkflowEnvironment,
    store: Store,
    settings: Settings,
    run_worker: RunWorker,
    slow_receiver: SlowReceiver,
    tmp_path: Path,
) -> None:
    url = slow_receiver.url.replace("http://", f"http://billhook:{PASSWORD}@")
    endpoint, secret = store.create_endpoint(url, ["invoice.created"], now=datetime.now(UTC))
    output = tmp_path / "worker.log"
    metrics_port = free_port()
    with output.open("wb") as sink:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            str(WORKER),
            cwd=tmp_path,  # no stray .env file is read
            env=worker_environment(dev_env, settings, metrics_port),
            stdout=sink,
            stderr=asyncio.subprocess.STDOUT,
        )
        event = await emit(dev_env.client, settings)
        code = await stop_mid_attempt(process, slow_receiver, metrics_port)

    text = output.read_text()
    assert code == 0, text
    [delivery] = store.deliveries_for_message(event.message_id)
    assert (delivery.status, delivery.attempts) == (DeliveryStatus.SUCCEEDED, 1)
    [attempt] = store.list_attempts(message_id=event.message_id)
    assert (attempt.attempt, attempt.response_status) == (1, 204)
    # The stopped worker reported the batch to Temporal: the next worker sends the next
    # event and never the first one again.
    async with run_worker(dev_env.client, settings):
        later = await emit(dev_env.client, settings)
        assert await settled(store, later.message_id) == {endpoint.id: DeliveryStatus.SUCCEEDED}
    assert [r.headers["svix-id"] for r in slow_receiver.requests] == [
        event.message_id,
        later.message_id,
    ]
    assert_logged_in_order(
        text, event.message_id, dispatcher_handle(dev_env.client, settings, event).id
    )
    assert secret.removeprefix("whsec_") not in text and PASSWORD not in text


def assert_logged_in_order(text: str, message_id: str, workflow_id: str) -> None:
    """Every line is a JSON object; the signal, the attempt, then the stop were logged."""
    records = [json.loads(line) for line in text.splitlines()]
    assert all({"time", "level", "logger", "message"} <= record.keys() for record in records)
    messages = [record["message"] for record in records]
    signalled = messages.index("received SIGTERM: shutting down gracefully")
    [attempted] = [i for i, m in enumerate(messages) if m.startswith(f"attempt 1 of {message_id}")]
    stopped = next(i for i, m in enumerate(messages) if m.startswith("worker stopped"))
    assert signalled < attempted < stopped, messages
    assert records[attempted]["temporal_activity"]["workflow_id"] == workflow_id
