"""The one way billhook connects to Temporal: worker, command line and tests use it."""

from __future__ import annotations

from temporalio.client import Client, WorkflowHandle
from temporalio.common import WorkflowIDReusePolicy
from temporalio.contrib.pydantic import pydantic_data_converter

from config import Settings
from models.delivery import DeliveryWorkflowInput, DeliveryWorkflowResult
from workflows.delivery import DeliveryWorkflow


async def connect(settings: Settings) -> Client:
    """A Temporal client with the pydantic data converter, for the configured namespace."""
    return await Client.connect(
        settings.temporal_address,
        namespace=settings.temporal_namespace,
        data_converter=pydantic_data_converter,
    )


async def start_delivery(
    client: Client, task_queue: str, event: DeliveryWorkflowInput
) -> WorkflowHandle[DeliveryWorkflow, DeliveryWorkflowResult]:
    """Emit an event from outside a workflow: start its delivery workflow, once ever.

    The workflow id is the message id and a closed run's id is never reused, so a second
    emission of the same event raises ``WorkflowAlreadyStartedError`` and sends nothing.
    """
    return await client.start_workflow(
        DeliveryWorkflow.run,
        event,
        id=event.message_id,
        task_queue=task_queue,
        id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
    )
