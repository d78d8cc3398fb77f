"""The Temporal side of ``message resend`` and ``endpoint recover``: ``ManualDeliveryWorkflow``.

Imported only by those commands' handlers, since Temporal and the workflows are slow to load.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime, timedelta

from temporalio.client import (
    Client,
    RPCTimeoutOrCancelledError,
    WorkflowHandle,
    WorkflowQueryFailedError,
)
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.service import RPCError

from config import Settings
from models.delivery import ManualDeliveryInput, ManualDeliveryProgress
from starter.runtime import Progress, utcnow
from starter.table import format_time
from starter.temporal import temporal, wait_polling
from store import Store
from workflows.manual import ManualDeliveryWorkflow

#: How often progress is asked for while a resend runs.
POLL_SECONDS = 0.5
#: A query waits for a worker; a slow answer must not stall the progress loop for long.
QUERY_TIMEOUT = timedelta(seconds=2)

OnProgress = Callable[[ManualDeliveryProgress], None]


async def resend(
    settings: Settings, message_id: str, endpoint_ids: list[str]
) -> dict[str, ManualDeliveryProgress]:
    """Resend one message to each endpoint (``resend-<msg>-<endpoint>``), concurrently."""
    async with temporal(settings) as client:
        progress = Progress()
        progress.update(f"resending {message_id} to {len(endpoint_ids)} endpoint(s)...")
        finished = 0

        async def one(endpoint_id: str) -> ManualDeliveryProgress:
            nonlocal finished
            result = await run_manual(
                client,
                settings,
                f"resend-{message_id}-{endpoint_id}",
                ManualDeliveryInput(endpoint_id=endpoint_id, message_ids=[message_id]),
            )
            finished += 1
            progress.update(f"resent to {finished} of {len(endpoint_ids)} endpoint(s)")
            return result

        results = await asyncio.gather(*(one(endpoint_id) for endpoint_id in endpoint_ids))
        progress.done()
    return dict(zip(endpoint_ids, results, strict=True))


async def recover(
    settings: Settings, store: Store, endpoint_id: str, since: datetime
) -> ManualDeliveryProgress | None:
    """Enable the endpoint, then resend what it missed since ``since`` (``recover-<endpoint>``).

    Returns:
        The outcome, or None when there was nothing to resend.
    """
    # Connected first: when Temporal is down, the endpoint is left as it was.
    async with temporal(settings) as client:
        await asyncio.to_thread(store.enable_endpoint, endpoint_id, utcnow())
        print(f"enabled endpoint {endpoint_id}")
        message_ids = await asyncio.to_thread(store.recoverable_messages, endpoint_id, since)
        if not message_ids:
            print(f"nothing to resend: no failed or skipped message since {format_time(since)} UTC")
            return None
        progress = Progress()
        progress.update(f"resending {len(message_ids)} message(s) to {endpoint_id}...")
        result = await run_manual(
            client,
            settings,
            f"recover-{endpoint_id}",
            ManualDeliveryInput(endpoint_id=endpoint_id, message_ids=message_ids),
            lambda state: progress.update(progress_text(state)),
        )
        progress.done()
    return result


async def run_manual(
    client: Client,
    settings: Settings,
    workflow_id: str,
    input: ManualDeliveryInput,
    on_progress: OnProgress | None = None,
) -> ManualDeliveryProgress:
    """Start (or join) the manual delivery ``workflow_id`` and wait for its outcome.

    A workflow with that id still running is joined rather than duplicated (the same resend
    asked twice); a finished one may be run again.

    Args:
        client: the Temporal client.
        settings: for the task queue.
        workflow_id: ``resend-<msg>-<endpoint>`` or ``recover-<endpoint>``.
        input: the endpoint and the messages to resend.
        on_progress: called with the progress about every half second while it runs.
    """
    handle = await client.start_workflow(
        ManualDeliveryWorkflow.run,
        input,
        id=workflow_id,
        task_queue=settings.task_queue,
        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
        id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE,
    )

    async def poll() -> None:
        if on_progress is not None and (progress := await _query(handle)) is not None:
            on_progress(progress)

    return await wait_polling(handle.result(), poll, interval=POLL_SECONDS)


async def _query(
    handle: WorkflowHandle[ManualDeliveryWorkflow, ManualDeliveryProgress],
) -> ManualDeliveryProgress | None:
    try:
        return await handle.query(ManualDeliveryWorkflow.progress, rpc_timeout=QUERY_TIMEOUT)
    except (WorkflowQueryFailedError, RPCTimeoutOrCancelledError, RPCError):
        # Before a worker has run the first task there is nothing to answer: keep waiting.
        return None


def progress_text(progress: ManualDeliveryProgress) -> str:
    """``resent 3 of 10: 2 succeeded, 1 failed, 0 skipped``."""
    return (
        f"resent {progress.done} of {progress.total}: {progress.succeeded} succeeded, "
        f"{progress.failed} failed, {progress.skipped} skipped"
    )
