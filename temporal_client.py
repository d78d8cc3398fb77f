"""The one way billhook connects to Temporal: worker, command line and tests use it."""

from __future__ import annotations

from temporalio.client import Client, WorkflowHandle
from temporalio.common import SearchAttributePair, TypedSearchAttributes, WorkflowIDReusePolicy
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.runtime import Runtime

from config import Settings
from models.billing import (
    CustomerSnapshot,
    CustomerWorkflowInput,
    SubscriptionState,
    SubscriptionWorkflowInput,
)
from models.delivery import DeliveryWorkflowInput, DeliveryWorkflowResult
from models.search import CUSTOMER_ID, SUBSCRIPTION_ID
from workflows.customer import CustomerWorkflow
from workflows.delivery import DeliveryWorkflow
from workflows.subscription import SubscriptionWorkflow


async def connect(settings: Settings, runtime: Runtime | None = None) -> Client:
    """A Temporal client with the pydantic data converter, for the configured namespace.

    Args:
        settings: where Temporal is.
        runtime: the SDK runtime (telemetry: metrics, core logs); the SDK's default when None.
    """
    return await Client.connect(
        settings.temporal_address,
        namespace=settings.temporal_namespace,
        data_converter=pydantic_data_converter,
        runtime=runtime,
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


async def start_customer(
    client: Client, task_queue: str, customer: CustomerSnapshot
) -> WorkflowHandle[CustomerWorkflow, str]:
    """Create a customer: id ``customer-<id>``, never reused: ``customer.created`` is sent once."""
    return await client.start_workflow(
        CustomerWorkflow.run,
        CustomerWorkflowInput(customer=customer),
        id=f"customer-{customer.customer_id}",
        task_queue=task_queue,
        id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
        search_attributes=TypedSearchAttributes(
            [SearchAttributePair(CUSTOMER_ID, customer.customer_id)]
        ),
    )


async def start_subscription(
    client: Client, task_queue: str, input: SubscriptionWorkflowInput
) -> WorkflowHandle[SubscriptionWorkflow, SubscriptionState]:
    """Start a subscription's workflow, id ``subscription-<sub id>``."""
    return await client.start_workflow(
        SubscriptionWorkflow.run,
        input,
        id=f"subscription-{input.subscription_id}",
        task_queue=task_queue,
        id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
        search_attributes=TypedSearchAttributes(
            [
                SearchAttributePair(CUSTOMER_ID, input.customer.customer_id),
                SearchAttributePair(SUBSCRIPTION_ID, input.subscription_id),
            ]
        ),
    )
