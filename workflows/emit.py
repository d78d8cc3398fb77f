"""``emit``: how a workflow publishes an event, durably and at most once per business key."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError

with workflow.unsafe.imports_passed_through():
    from activities.engine import EngineActivities
    from models.delivery import Event, PublishInput, SearchKeys
    from models.events import EventType

from workflows.versions import batched

#: Publishing is retried until Temporal accepts the signal: an event is never dropped.
PUBLISH_TIMEOUT = timedelta(seconds=10)
PUBLISH_RETRY = RetryPolicy(maximum_interval=timedelta(seconds=10))


async def emit(
    event_type: EventType,
    key: str,
    payload: dict[str, Any],
    search: SearchKeys | None = None,
) -> str:
    """Publish an event to its dispatcher; a second emission of the same event is a no-op.

    The message id derives from ``event_type`` and ``key``. A local activity signals the
    event to its ``DispatchWorkflow`` (``client.publisher.Publisher``); when it returns, the
    event is in Temporal's history, so it is durable from here whatever crashes next. A second
    emission (a retried starter, a replayed branch) is dropped by the dispatcher or, later, by
    the store, which keeps the message under its id.

    Args:
        event_type: the event's type.
        key: the business key of the occurrence, e.g. the invoice id.
        payload: the event's payload, serialized as receivers will see it.
        search: business ids for the Web UI's search attributes on the delivery's retries.

    Returns:
        The message id.
    """
    event = Event.for_event(event_type, key, payload, workflow.now(), search)
    await emit_events([event])
    return event.message_id


async def emit_events(events: list[Event], *, since_0_2: bool = False) -> None:
    """Publish events built already (``Event.for_event``), as ``emit`` does.

    ``since_0_2``: the caller's run started on 0.2 or later (its input says so): no patch asked.
    """
    if not (since_0_2 or batched()):
        for event in events:
            await _start_legacy_delivery(event)
        return
    await workflow.execute_local_activity_method(
        EngineActivities.publish_events,
        PublishInput(events=events),
        start_to_close_timeout=PUBLISH_TIMEOUT,
        retry_policy=PUBLISH_RETRY,
    )


async def _start_legacy_delivery(event: Event) -> None:
    """What runs that emitted before batched delivery did, replayed: a child per event.

    Named by its type, not its class: this module is passed through the sandbox, and
    ``workflows.delivery`` (a workflow's own module) is not.
    """
    try:
        await workflow.start_child_workflow(
            "DeliveryWorkflow",
            event,
            id=event.message_id,
            parent_close_policy=workflow.ParentClosePolicy.ABANDON,
            id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
        )
    except WorkflowAlreadyStartedError:
        workflow.logger.info("event %s already emitted", event.message_id)
