"""Two worker processes on one task queue and one PostgreSQL store, under a burst of events."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from temporalio.api.enums.v1 import TaskQueueType
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from config import Settings
from models.delivery import DeliveryStatus, Event
from models.events import EventType
from store import Store
from tests.conftest import (
    dispatcher_handle,
    emit_events,
    postgres_database,
    retry_handle,
    settled,
)
from tests.receiver import Receiver

ROOT = Path(__file__).resolve().parents[2]
EVENTS = 40
ENDPOINTS = 3


@pytest.fixture
def postgres_store() -> Iterator[Store]:
    with postgres_database() as url:
        store = Store.from_url(url)
        store.upgrade()
        try:
            yield store
        finally:
            store.engine.dispose()


def start_worker(env: WorkflowEnvironment, store: Store, task_queue: str) -> subprocess.Popen[str]:
    """``python worker.py`` as an operator runs it, configured by environment variables."""
    environ = {
        **os.environ,
        "BILLHOOK_TEMPORAL_ADDRESS": env.client.service_client.config.target_host,
        "BILLHOOK_DATABASE_URL": store.engine.url.render_as_string(hide_password=False),
        "BILLHOOK_TASK_QUEUE": task_queue,
        "BILLHOOK_ALLOWED_NETWORKS": "127.0.0.0/8",
        "BILLHOOK_RETRY_SCHEDULE": "0.2,0.4,0.6,0.8,1,1,1",
        "BILLHOOK_LOG_LEVEL": "WARNING",
    }
    return subprocess.Popen(
        [sys.executable, "worker.py"], cwd=ROOT, env=environ, text=True, stderr=subprocess.PIPE
    )


async def pollers(client: Client, task_queue: str) -> set[str]:
    """Identities of the workers polling the task queue for activities."""
    response = await client.workflow_service.describe_task_queue(
        DescribeTaskQueueRequest(
            namespace=client.namespace,
            task_queue=TaskQueue(name=task_queue),
            task_queue_type=TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY,
        )
    )
    return {poller.identity for poller in response.pollers}


async def test_two_workers_deliver_a_burst_with_consistent_attempt_records(
    dev_env: WorkflowEnvironment, postgres_store: Store, settings: Settings, receiver: Receiver
) -> None:
    store = postgres_store
    receiver.statuses = [500 if i % 7 == 3 else 204 for i in range(EVENTS * ENDPOINTS)]
    endpoints = [
        store.create_endpoint(f"{receiver.url}/{n}", ["invoice.created"], datetime.now(UTC))[0]
        for n in range(ENDPOINTS)
    ]
    workers = [start_worker(dev_env, store, settings.task_queue) for _ in range(2)]
    try:
        for _ in range(300):  # a minute: a loaded machine starts a worker slowly
            if len(await pollers(dev_env.client, settings.task_queue)) == 2:
                break
            await asyncio.sleep(0.2)
        assert len(await pollers(dev_env.client, settings.task_queue)) == 2
        events = [
            Event.for_event(EventType.INVOICE_CREATED, f"burst:{i}", {"n": i}, datetime.now(UTC))
            for i in range(EVENTS)
        ]
        # One at a time, as independent emitters would: the batches spread over both workers.
        await asyncio.gather(*(emit_events(dev_env.client, settings, e) for e in events))
        results = await asyncio.gather(*(settled(store, e.message_id, 120) for e in events))
        dispatchers = {dispatcher_handle(dev_env.client, settings, e).id for e in events}
        retried = [
            retry_handle(dev_env.client, d.message_id, d.endpoint_id)
            for e in events
            for d in store.deliveries_for_message(e.message_id)
            if d.attempts > 1
        ]
        identities = await activity_workers(
            [dev_env.client.get_workflow_handle(d) for d in dispatchers] + retried
        )
    finally:
        for worker in workers:
            worker.terminate()
        outputs = [worker.communicate(timeout=30)[1] for worker in workers]
    assert [w.returncode for w in workers] == [0, 0], outputs

    assert all(r == {e.id: DeliveryStatus.SUCCEEDED for e in endpoints} for r in results)
    got = Counter((r.headers["svix-id"], r.path.rsplit("/", 1)[1]) for r in receiver.requests)
    for event in events:
        for n, endpoint in enumerate(endpoints):
            attempts = store.list_attempts(message_id=event.message_id, endpoint_id=endpoint.id)
            numbers = sorted(a.attempt for a in attempts)
            assert numbers == list(range(1, len(numbers) + 1))  # no gap, no duplicate
            assert [a.response_status for a in attempts].count(204) == 1
            assert got[(event.message_id, str(n))] == len(attempts)
            [delivery] = [
                d
                for d in store.deliveries_for_message(event.message_id)
                if d.endpoint_id == endpoint.id
            ]
            assert (delivery.status, delivery.attempts) == (DeliveryStatus.SUCCEEDED, len(numbers))
    assert sum(got.values()) == len(receiver.requests) > EVENTS * ENDPOINTS  # retries happened
    assert len(identities) == 2  # both processes delivered


async def activity_workers(handles: list[object]) -> set[str]:
    """Identities of the workers that ran the activities of these dispatchers and retries."""
    identities: set[str] = set()
    for handle in handles:
        history = await handle.fetch_history()  # type: ignore[attr-defined]
        for event in history.events:
            if event.HasField("activity_task_started_event_attributes"):
                identities.add(event.activity_task_started_event_attributes.identity)
    return identities
