"""The payload builders run inside Temporal's workflow sandbox and give the golden bytes there."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from pathlib import Path

from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from models.events import EventType
from tests.models.sandbox_workflow import BuildPayloadsWorkflow

GOLDEN = Path(__file__).parent / "golden"


async def test_payloads_are_built_in_the_sandbox(ts_env: WorkflowEnvironment) -> None:
    task_queue = str(uuid.uuid4())
    # The default runner: the sandbox the production worker uses.
    async with Worker(
        ts_env.client,
        task_queue=task_queue,
        workflows=[BuildPayloadsWorkflow],
        # Fail the workflow, not just its task, so that a sandbox error ends the test at once.
        workflow_failure_exception_types=[Exception],
    ):
        result = await ts_env.client.execute_workflow(
            BuildPayloadsWorkflow.run, id=f"payloads-{task_queue}", task_queue=task_queue
        )

    for event_type in EventType:
        golden = (GOLDEN / f"{event_type.value}.json").read_bytes()
        assert result[event_type.value].encode() == golden, event_type
    start, end, next_start = map(datetime.fromisoformat, result["period"].split("/"))
    assert start.utcoffset() is not None and start < end
    assert next_start - end == timedelta(microseconds=1)
