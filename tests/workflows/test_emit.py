"""``workflows.emit.emit``: one delivery per business key, however often a workflow emits."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

from temporalio import workflow
from temporalio.testing import WorkflowEnvironment

with workflow.unsafe.imports_passed_through():
    from config import Settings
    from models.delivery import SearchKeys
    from models.events import EventType, message_id
    from store import Store
    from tests.conftest import RunWorker, settled
    from tests.receiver import Receiver
    from workflows.emit import emit


@workflow.defn
class EmitTwiceWorkflow:
    @workflow.run
    async def run(self, key: str) -> list[str]:
        search = SearchKeys(invoice_id=key)
        return [
            await emit(EventType.INVOICE_PAID, key, {"invoice_id": key}, search),
            await emit(EventType.INVOICE_PAID, key, {"invoice_id": key}, search),
            await emit(EventType.INVOICE_PAST_DUE, key, {"invoice_id": key}, search),
        ]


async def test_emitting_the_same_event_twice_delivers_it_once(
    ts_env: WorkflowEnvironment,
    store: Store,
    settings: Settings,
    run_worker: RunWorker,
    receiver: Receiver,
) -> None:
    store.create_endpoint(receiver.url, ["invoice.paid", "invoice.past_due"], now=datetime.now(UTC))
    key = f"invoice_{uuid.uuid4().hex}"
    async with run_worker(ts_env.client, settings, [EmitTwiceWorkflow]):
        ids = await ts_env.client.execute_workflow(
            EmitTwiceWorkflow.run, key, id=f"emit-{key}", task_queue=settings.task_queue
        )
        for msg in {ids[0], ids[2]}:
            await settled(store, msg)

    paid, again, past_due = ids
    assert paid == again == message_id(EventType.INVOICE_PAID, key)
    assert past_due == message_id(EventType.INVOICE_PAST_DUE, key) != paid
    got = sorted(
        (r.headers["svix-id"], json.loads(r.body)["properties"]["event_type"])
        for r in receiver.requests
    )
    assert got == sorted([(paid, "invoice.paid"), (past_due, "invoice.past_due")])
