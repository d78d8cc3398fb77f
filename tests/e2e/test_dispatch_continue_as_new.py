"""A dispatcher continues as new when Temporal suggests it, losing and repeating nothing."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from client.ids import dispatch_task_queue, dispatcher_workflow_id
from config import Settings
from models.delivery import DeliveryStatus, DispatchInput, Event, PublishInput
from models.events import EventType
from models.search import ALL_KEYS
from store import Store
from tests.conftest import BIN, RunWorker, dispatcher_handle, emit_events, settled
from tests.receiver import Receiver
from workflows.dispatch import DispatchWorkflow

EVENTS = 240


@pytest.fixture
async def suggesting_env() -> AsyncIterator[WorkflowEnvironment]:
    """A dev server that suggests continue-as-new after 40 history events (4,096 by default)."""
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=str(BIN / "temporal"),
        data_converter=pydantic_data_converter,
        search_attributes=ALL_KEYS,
        dev_server_log_level="error",
        dev_server_extra_args=[
            "--dynamic-config-value",
            "limit.historyCount.suggestContinueAsNew=40",
        ],
    )
    try:
        yield env
    finally:
        await env.shutdown()


async def test_events_keep_flowing_across_continue_as_new(
    suggesting_env: WorkflowEnvironment,
    store: Store,
    settings: Settings,
    run_worker: RunWorker,
    receiver: Receiver,
) -> None:
    client = suggesting_env.client
    one_shard = settings.model_copy(update={"delivery_shards": 1})
    receiver.statuses = [500 if i % 9 == 4 else 204 for i in range(EVENTS)]
    endpoint, _ = store.create_endpoint(receiver.url, ["invoice.created"], datetime.now(UTC))
    events = [
        Event.for_event(EventType.INVOICE_CREATED, f"can:{i}", {"n": i}, datetime.now(UTC))
        for i in range(EVENTS)
    ]
    async with run_worker(client, one_shard):
        # In waves, so the dispatcher passes its suggestion with work queued and in flight.
        for wave in range(0, EVENTS, 40):
            await asyncio.gather(*(emit_events(client, one_shard, e) for e in events[wave:][:40]))
            await asyncio.sleep(0.2)
        outcomes = [await settled(store, e.message_id, 60) for e in events]
        runs = [
            run
            async for run in client.list_workflows(
                f'WorkflowId="{dispatcher_handle(client, one_shard, events[0]).id}"'
            )
        ]

    assert all(o == {endpoint.id: DeliveryStatus.SUCCEEDED} for o in outcomes)
    assert len(runs) > 2  # it did continue as new, more than once
    got: dict[str, list[int]] = {}
    for request in receiver.requests:
        got.setdefault(request.headers["svix-id"], []).append(json.loads(request.body)["attempt"])
    assert set(got) == {e.message_id for e in events}  # none lost
    for event in events:
        # None repeated: each arrival is one attempt, numbered 1, 2, ... as the log says.
        logged = sorted(a.attempt for a in store.list_attempts(message_id=event.message_id))
        assert sorted(got[event.message_id]) == logged == list(range(1, len(logged) + 1))
    assert sum(len(numbers) for numbers in got.values()) > EVENTS  # some were retried


async def test_a_dispatcher_started_on_the_main_queue_moves_to_the_dispatch_queue(
    suggesting_env: WorkflowEnvironment,
    store: Store,
    settings: Settings,
    run_worker: RunWorker,
    receiver: Receiver,
) -> None:
    """Before 0.6 dispatchers ran on the main task queue: one still running there delivers,
    continues as new onto ``<queue>-dispatch``, and starts its retries on the main queue."""
    client = suggesting_env.client
    one_shard = settings.model_copy(update={"delivery_shards": 1})
    queue = one_shard.task_queue
    receiver.statuses = [500 if i % 9 == 4 else 204 for i in range(120)]
    endpoint, _ = store.create_endpoint(receiver.url, ["invoice.created"], datetime.now(UTC))
    events = [
        Event.for_event(EventType.INVOICE_CREATED, f"moved:{i}", {"n": i}, datetime.now(UTC))
        for i in range(120)
    ]

    async def publish_as_0_5(batch: list[Event]) -> None:
        # What a 0.5 publisher did: signal-with-start the dispatcher on the main queue.
        await client.start_workflow(
            DispatchWorkflow.run,
            DispatchInput(task_queue=queue, shard=0),
            id=dispatcher_workflow_id(queue, 0),
            task_queue=queue,
            start_signal="publish",
            start_signal_args=[PublishInput(events=batch)],
        )

    async with run_worker(client, one_shard):
        for wave in range(0, len(events), 20):
            await publish_as_0_5(events[wave:][:20])
            await asyncio.sleep(0.2)
        outcomes = [await settled(store, e.message_id, 60) for e in events]
        runs = [
            run
            async for run in client.list_workflows(
                f'WorkflowId="{dispatcher_workflow_id(queue, 0)}"'
            )
        ]
        retries = [run async for run in client.list_workflows('WorkflowType="RetryWorkflow"')]

    assert all(o == {endpoint.id: DeliveryStatus.SUCCEEDED} for o in outcomes)
    runs.sort(key=lambda run: run.start_time)
    assert len(runs) > 1  # it continued as new
    assert runs[0].task_queue == queue
    assert {run.task_queue for run in runs[1:]} == {dispatch_task_queue(queue)}
    assert retries and {run.task_queue for run in retries} == {queue}
    got = {request.headers["svix-id"] for request in receiver.requests}
    assert got == {e.message_id for e in events}  # none lost on the way
