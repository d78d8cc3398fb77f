"""Starting billhook's workflows: each under its id (``client.ids``) with its search attributes.

Used by ``BillhookClient``, by the worker (an invoice started from a subscription's local
activity) and by the benchmarks and tests that start workflows directly.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

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

W = TypeVar("W")
A = TypeVar("A")
R = TypeVar("R")


async def _start(
    client: Client,
    run: Callable[[W, A], Awaitable[R]],
    arg: A,
    workflow_id: str,
    task_queue: str,
    keys: SearchKeys,
    *pairs: SearchAttributePair[str],
    eager: bool = False,
) -> WorkflowHandle[W, R]:
    """Start ``run`` once under ``workflow_id`` (never reused), with ``keys`` and ``pairs``.

    ``eager``: ask the server to hand the first workflow task straight back to this client's
    worker in the start's answer (Temporal's eager workflow start), saving its trip through
    the task queue; the server and the SDK fall back to the task queue when they cannot.
    """
    return await client.start_workflow(
        run,
        arg,
        id=workflow_id,
        task_queue=task_queue,
        id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
        search_attributes=typed_attributes(keys, *pairs),
        request_eager_start=eager,
    )


def _subscription_keys(input: SubscriptionWorkflowInput) -> SearchKeys:
    return SearchKeys(customer_id=input.customer.customer_id, subscription_id=input.subscription_id)


async def start_customer(
    client: Client, task_queue: str, customer: CustomerSnapshot
) -> WorkflowHandle[CustomerWorkflow, str]:
    """Create a customer: id ``customer-<id>``, never reused: ``customer.created`` is sent once.

    Raises:
        WorkflowAlreadyStartedError: a workflow of that customer exists (or existed).
    """
    return await _start(
        client,
        CustomerWorkflow.run,
        CustomerWorkflowInput(customer=customer),
        customer_workflow_id(customer.customer_id),
        task_queue,
        SearchKeys(customer_id=customer.customer_id),
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
        search_attributes=typed_attributes(_subscription_keys(input)),
    )


async def start_subscription(
    client: Client, task_queue: str, input: SubscriptionWorkflowInput
) -> WorkflowHandle[SubscriptionWorkflow, SubscriptionState]:
    """Start a subscription's workflow, id ``subscription-<sub id>``, without waiting for it."""
    return await _start(
        client,
        SubscriptionWorkflow.run,
        input,
        subscription_workflow_id(input.subscription_id),
        task_queue,
        _subscription_keys(input),
    )


async def start_invoice(
    client: Client, task_queue: str, input: InvoiceWorkflowInput, *, eager: bool = False
) -> None:
    """Start an invoice's workflow, id ``invoice-<invoice id>``; a second start does nothing.

    An invoice issued already (``input.issued``) starts with its ``BillingStatus`` too, so its
    workflow has nothing to set before it sleeps until the due date. ``eager``: the caller is
    a worker of ``task_queue`` on ``client``, which takes the first task at once (``_start``).
    """
    issued = input.issued
    status = [SearchAttributePair(BILLING_STATUS, issued.payment_status.value)] if issued else []
    keys = SearchKeys(
        customer_id=input.customer.customer_id,
        subscription_id=input.subscription_id,
        invoice_id=input.invoice_id,
    )
    try:
        await _start(
            client,
            InvoiceWorkflow.run,
            input,
            invoice_workflow_id(input.invoice_id),
            task_queue,
            keys,
            *status,
            eager=eager,
        )
    except WorkflowAlreadyStartedError:
        log.info("invoice %s already started", input.invoice_id)
