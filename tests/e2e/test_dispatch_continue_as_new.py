"""A dispatcher continues as new when Temporal suggests it, losing and repeating nothing."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from config import Settings
from models.delivery import DeliveryStatus, Event
from models.events import EventType
from models.search import ALL_KEYS
from store import Store
from tests.conftest import BIN, RunWorker, dispatcher_handle, emit_events, settled
from tests.receiver import Receiver

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
                f'WorkflowId="{dispatcher_handle(client, one_shard, events[0].message_id).id}"'
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
