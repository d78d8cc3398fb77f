"""``emit``: how a workflow publishes an event, durably and at most once per business key."""

from __future__ import annotations

from typing import Any

from temporalio import workflow
from temporalio.common import WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError

with workflow.unsafe.imports_passed_through():
    from models.delivery import DeliveryWorkflowInput, SearchKeys
    from models.events import EventType

from workflows.delivery import DeliveryWorkflow


async def emit(
    event_type: EventType,
    key: str,
    payload: dict[str, Any],
    search: SearchKeys | None = None,
) -> str:
    """Start the delivery of an event; a second emission of the same event is a no-op.

    The delivery workflow's id is the message id derived from ``event_type`` and ``key``, so
    Temporal itself refuses a duplicate (a retried starter, a replayed branch). The child is
    abandoned: it outlives this workflow's runs, including continue-as-new.

    Args:
        event_type: the event's type.
        key: the business key of the occurrence, e.g. the invoice id.
        payload: the event's payload, serialized as receivers will see it.
        search: business ids for the delivery workflow's search attributes.

    Returns:
        The message id.
    """
    input = DeliveryWorkflowInput.for_event(event_type, key, payload, workflow.now(), search)
    try:
        await workflow.start_child_workflow(
            DeliveryWorkflow.run,
            input,
            id=input.message_id,
            parent_close_policy=workflow.ParentClosePolicy.ABANDON,
            id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
        )
    except WorkflowAlreadyStartedError:
        workflow.logger.info("event %s already emitted as %s", key, input.message_id)
    return input.message_id
