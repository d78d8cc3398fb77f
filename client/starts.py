"""Starting billhook's workflows: each under its id (``client.ids``) with its search attributes.

Used by ``BillhookClient``, by the worker (an invoice started from a subscription's local
activity) and by the benchmarks and tests that start workflows directly.
"""

from __future__ import annotations

import logging

from temporalio.client import Client, WithStartWorkflowOperation, WorkflowHandle
from temporalio.common import (
    SearchAttributePair,
    WorkflowIDConflictPolicy,
    WorkflowIDReusePolicy,
)
from temporalio.exceptions import WorkflowAlreadyStartedError

from client.ids import customer_workflow_id, invoice_workflow_id, subscription_workflow_id
from models.billing import (
    CustomerSnapshot,
    CustomerWorkflowInput,
    InvoiceWorkflowInput,
    SubscriptionState,
    SubscriptionWorkflowInput,
)
from models.delivery import SearchKeys
from models.search import BILLING_STATUS, typed_attributes
from workflows.customer import CustomerWorkflow
from workflows.invoice import InvoiceWorkflow
from workflows.subscription import SubscriptionWorkflow

log = logging.getLogger(__name__)


async def start_customer(
    client: Client, task_queue: str, customer: CustomerSnapshot
) -> WorkflowHandle[CustomerWorkflow, str]:
    """Create a customer: id ``customer-<id>``, never reused: ``customer.created`` is sent once.

    Raises:
        WorkflowAlreadyStartedError: a workflow of that customer exists (or existed).
    """
    return await client.start_workflow(
        CustomerWorkflow.run,
        CustomerWorkflowInput(customer=customer),
        id=customer_workflow_id(customer.customer_id),
        task_queue=task_queue,
        id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
        search_attributes=typed_attributes(SearchKeys(customer_id=customer.customer_id)),
    )


def subscription_start(
    task_queue: str, input: SubscriptionWorkflowInput
) -> WithStartWorkflowOperation[SubscriptionWorkflow, SubscriptionState]:
    """A subscription's start (id ``subscription-<sub id>``), for update-with-start."""
    return WithStartWorkflowOperation(
        SubscriptionWorkflow.run,
        input,
        id=subscription_workflow_id(input.subscription_id),
        task_queue=task_queue,
        id_conflict_policy=WorkflowIDConflictPolicy.FAIL,
        id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
        search_attributes=typed_attributes(
            SearchKeys(
                customer_id=input.customer.customer_id, subscription_id=input.subscription_id
            )
        ),
    )


async def start_subscription(
    client: Client, task_queue: str, input: SubscriptionWorkflowInput
) -> WorkflowHandle[SubscriptionWorkflow, SubscriptionState]:
    """Start a subscription's workflow, id ``subscription-<sub id>``, without waiting for it."""
    return await client.start_workflow(
        SubscriptionWorkflow.run,
        input,
        id=subscription_workflow_id(input.subscription_id),
        task_queue=task_queue,
        id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
        search_attributes=typed_attributes(
            SearchKeys(
                customer_id=input.customer.customer_id, subscription_id=input.subscription_id
            )
        ),
    )


async def start_invoice(client: Client, task_queue: str, input: InvoiceWorkflowInput) -> None:
    """Start an invoice's workflow, id ``invoice-<invoice id>``; a second start does nothing.

    An invoice issued already (``input.issued``) starts with its ``BillingStatus`` too, so its
    workflow has nothing to set before it sleeps until the due date.
    """
    status = (
        [SearchAttributePair(BILLING_STATUS, input.issued.payment_status.value)]
        if input.issued
        else []
    )
    try:
        await client.start_workflow(
            InvoiceWorkflow.run,
            input,
            id=invoice_workflow_id(input.invoice_id),
            task_queue=task_queue,
            id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
            search_attributes=typed_attributes(
                SearchKeys(
                    customer_id=input.customer.customer_id,
                    subscription_id=input.subscription_id,
                    invoice_id=input.invoice_id,
                ),
                *status,
            ),
        )
    except WorkflowAlreadyStartedError:
        log.info("invoice %s already started", input.invoice_id)
