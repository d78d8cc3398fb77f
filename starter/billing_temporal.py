"""The Temporal side of the billing commands: start the workflows, run their updates, query them.

Imported only by the handlers that use it, since Temporal and the workflows are slow to load.
Updates are validated by the workflows; their refusals become one-line errors here. An update
to a workflow that has closed (a subscription that ended, an invoice paid or voided) is refused
by Temporal as not found; the catalog, which the workflows keep current, then answers.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, TypeVar

from temporalio.client import (
    Client,
    RPCTimeoutOrCancelledError,
    WorkflowExecutionStatus,
    WorkflowHandle,
    WorkflowQueryFailedError,
    WorkflowUpdateFailedError,
)
from temporalio.exceptions import ApplicationError, WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from config import Settings
from errors import BillhookError, Conflict, InvalidInput, NotFound
from models.billing import (
    CancelInput,
    CustomerSnapshot,
    InvoiceState,
    PayInput,
    PaymentStatus,
    SubscriptionState,
    SubscriptionStatus,
    SubscriptionWorkflowInput,
    UsageInput,
    UsageResult,
)
from starter.billing import WORKER_WAIT_SECONDS
from starter.temporal import temporal
from store.catalog import Catalog
from temporal_client import start_customer, start_subscription
from workflows.invoice import InvoiceWorkflow
from workflows.subscription import PERIOD_CLOSING, SubscriptionWorkflow

T = TypeVar("T")

#: A subscription refuses requests for a moment while it closes a period; retry that often.
CLOSING_RETRIES = 6
CLOSING_RETRY_SECONDS = 0.5
#: A query is answered by a worker; without one it would wait for the RPC's own long timeout.
QUERY_TIMEOUT = timedelta(seconds=5)
#: How a query's ``rpc_timeout`` expiring is reported (the SDK says CANCELLED).
_TIMED_OUT = (RPCStatusCode.CANCELLED, RPCStatusCode.DEADLINE_EXCEEDED)
#: How often the catalog is read while waiting for a worker to record something.
POLL_SECONDS = 0.2


class WorkflowClosed(Exception):
    """The workflow an update was sent to has closed (or never existed)."""


class QueryUnanswered(BillhookError):
    """A running workflow's query got no answer: no worker seems to be running."""


def customer_exists(customer_id: str) -> Conflict:
    """The refusal of a second customer with the same id."""
    return Conflict(
        f"customer {customer_id} exists already; choose another id, or see it with: "
        f"billhook customer show {customer_id}"
    )


@dataclass(frozen=True)
class Lifecycle:
    """The billing workflows as the command line drives them, on one client."""

    client: Client
    catalog: Catalog
    task_queue: str

    # Customers ---------------------------------------------------------------------------
    async def create_customer(self, customer: CustomerSnapshot) -> str:
        """Start ``customer-<id>``, which stores the customer; the ``customer.created`` id.

        Raises:
            Conflict: the customer exists already.
            BillhookError: no worker ran the workflow in time.
        """
        try:
            handle = await start_customer(self.client, self.task_queue, customer)
        except WorkflowAlreadyStartedError as exc:
            raise customer_exists(customer.customer_id) from exc
        try:
            async with asyncio.timeout(WORKER_WAIT_SECONDS):
                return await handle.result()
        except TimeoutError:
            raise BillhookError(
                f"customer {customer.customer_id} is not created yet: {self._no_worker()}; "
                "it is created once a worker runs"
            ) from None

    # Subscriptions -----------------------------------------------------------------------
    async def subscribe(self, input: SubscriptionWorkflowInput) -> SubscriptionState:
        """Start a subscription and wait for its first period's record in the catalog.

        Raises:
            BillhookError: no worker picked the subscription up in time.
        """
        await start_subscription(self.client, self.task_queue, input)
        sub_id = input.subscription_id
        try:
            async with asyncio.timeout(WORKER_WAIT_SECONDS):
                while True:
                    try:
                        return await asyncio.to_thread(self.catalog.get_subscription, sub_id)
                    except NotFound:
                        await asyncio.sleep(POLL_SECONDS)
        except TimeoutError:
            raise BillhookError(
                f"subscription {sub_id} is started, but {self._no_worker()}; "
                "it starts billing once a worker runs"
            ) from None

    async def subscription_state(self, sub_id: str) -> SubscriptionState | None:
        """The live state of a subscription; None when its workflow has closed.

        Raises:
            QueryUnanswered: the workflow runs but no worker answered.
        """
        handle = self._subscription(sub_id)
        try:
            if (await handle.describe()).status != WorkflowExecutionStatus.RUNNING:
                return None
            return await handle.query(SubscriptionWorkflow.state, rpc_timeout=QUERY_TIMEOUT)
        except WorkflowQueryFailedError as exc:
            raise QueryUnanswered(f"its workflow failed the query: {exc}") from exc
        except RPCTimeoutOrCancelledError as exc:
            raise QueryUnanswered(self._no_worker(QUERY_TIMEOUT.total_seconds())) from exc
        except RPCError as exc:
            if exc.status == RPCStatusCode.NOT_FOUND:
                return None
            if exc.status in _TIMED_OUT:
                raise QueryUnanswered(self._no_worker(QUERY_TIMEOUT.total_seconds())) from exc
            raise

    async def cancel(self, sub_id: str, at_period_end: bool) -> SubscriptionState:
        """Cancel a subscription now or at the end of its period; its state after that.

        Raises:
            InvalidInput: the workflow refused (already cancelled).
            Conflict: the subscription has ended.
        """
        handle = self._subscription(sub_id)
        request = CancelInput(at_period_end=at_period_end)
        try:
            return await self._update(
                lambda: handle.execute_update(SubscriptionWorkflow.cancel, request)
            )
        except WorkflowClosed:
            raise await self._closed_subscription(sub_id) from None

    async def record_usage(self, sub_id: str, usage: UsageInput) -> UsageResult:
        """Add a batch of usage to the subscription's current period.

        Raises:
            InvalidInput: the workflow refused (unknown metric, negative quantity).
            Conflict: the subscription has ended.
        """
        handle = self._subscription(sub_id)
        try:
            return await self._update(
                lambda: handle.execute_update(SubscriptionWorkflow.record_usage, usage)
            )
        except WorkflowClosed:
            raise await self._closed_subscription(sub_id) from None

    async def _closed_subscription(self, sub_id: str) -> Conflict:
        record = await asyncio.to_thread(self.catalog.get_subscription, sub_id)
        if record.status is SubscriptionStatus.ENDED:
            return Conflict(f"subscription {sub_id} has ended")
        return Conflict(
            f"subscription {sub_id} is {record.status.value} but its workflow "
            f"subscription-{sub_id} is not running; look it up in the Temporal Web UI"
        )

    # Invoices ----------------------------------------------------------------------------
    async def pay(self, invoice_id: str, payment: PayInput) -> InvoiceState:
        """Mark an invoice paid; an invoice paid already is returned as it is.

        Raises:
            InvalidInput: the workflow refused (the invoice is voided).
            Conflict: the invoice is voided, or unpaid with no workflow to pay it.
        """
        handle = self._invoice(invoice_id)
        try:
            return await self._update(lambda: handle.execute_update(InvoiceWorkflow.pay, payment))
        except WorkflowClosed:
            stored = await asyncio.to_thread(self.catalog.get_invoice, invoice_id)
        if stored.payment_status is PaymentStatus.PAID:
            return stored  # paying a paid invoice is an idempotent no-op (lifecycle.md)
        if stored.payment_status is PaymentStatus.VOIDED:
            raise Conflict(f"invoice {invoice_id} is voided; a voided invoice cannot be paid")
        raise _invoice_not_running(invoice_id)

    async def void(self, invoice_id: str) -> InvoiceState:
        """Void an unpaid invoice.

        Raises:
            InvalidInput: the workflow refused (the invoice is not unpaid).
            Conflict: the invoice is paid or voided, or has no workflow to void it.
        """
        handle = self._invoice(invoice_id)
        try:
            return await self._update(lambda: handle.execute_update(InvoiceWorkflow.void))
        except WorkflowClosed:
            stored = await asyncio.to_thread(self.catalog.get_invoice, invoice_id)
        if stored.payment_status is PaymentStatus.UNPAID:
            raise _invoice_not_running(invoice_id)
        raise Conflict(
            f"invoice {invoice_id} is {stored.payment_status.value}; "
            "only an unpaid invoice can be voided"
        )

    # Updates -----------------------------------------------------------------------------
    async def _update(self, call: Callable[[], Awaitable[T]]) -> T:
        """Run an update, retrying while a subscription closes its period.

        Raises:
            InvalidInput: the workflow's validator refused the request (its message).
            WorkflowClosed: the workflow has closed.
            BillhookError: no worker answered in time.
        """
        retries = CLOSING_RETRIES
        while True:
            try:
                async with asyncio.timeout(WORKER_WAIT_SECONDS):
                    return await call()
            except WorkflowUpdateFailedError as exc:
                # The one refusal that passes by itself: the next run takes requests again.
                cause = exc.cause
                closing = isinstance(cause, ApplicationError) and cause.type == PERIOD_CLOSING
                if not closing or retries == 0:
                    raise InvalidInput(refusal(exc)) from exc
            except RPCError as exc:
                if exc.status == RPCStatusCode.NOT_FOUND:
                    raise WorkflowClosed from exc
                raise
            except (TimeoutError, RPCTimeoutOrCancelledError):
                # The SDK turns our timeout's cancellation into its own error.
                raise BillhookError(
                    f"{self._no_worker()}; the request may still be applied once one runs"
                ) from None
            retries -= 1
            await asyncio.sleep(CLOSING_RETRY_SECONDS)

    def _no_worker(self, seconds: float = WORKER_WAIT_SECONDS) -> str:
        return (
            f"no worker answered on task queue {self.task_queue} within {seconds:g} s "
            "(is `make run` up?)"
        )

    def _subscription(self, sub_id: str) -> WorkflowHandle[SubscriptionWorkflow, Any]:
        return self.client.get_workflow_handle_for(
            SubscriptionWorkflow.run, f"subscription-{sub_id}"
        )

    def _invoice(self, invoice_id: str) -> WorkflowHandle[InvoiceWorkflow, Any]:
        return self.client.get_workflow_handle_for(InvoiceWorkflow.run, f"invoice-{invoice_id}")


def refusal(error: WorkflowUpdateFailedError) -> str:
    """The message a workflow's validator refused an update with."""
    cause = error.cause
    if isinstance(cause, ApplicationError) and cause.message:
        return cause.message
    return str(cause) or "the workflow refused the request"


def _invoice_not_running(invoice_id: str) -> Conflict:
    return Conflict(
        f"invoice {invoice_id} is unpaid but its workflow invoice-{invoice_id} is not running; "
        "look it up in the Temporal Web UI"
    )


@asynccontextmanager
async def lifecycle(settings: Settings, catalog: Catalog) -> AsyncIterator[Lifecycle]:
    """A ``Lifecycle`` on a fresh client; Temporal's failures become one-line errors."""
    async with temporal(settings) as client:
        yield Lifecycle(client, catalog, settings.task_queue)


def run(settings: Settings, catalog: Catalog, action: Callable[[Lifecycle], Awaitable[T]]) -> T:
    """Run ``action`` on a ``Lifecycle`` in a fresh event loop: the handlers' entry point."""

    async def main() -> T:
        async with lifecycle(settings, catalog) as billing:
            return await action(billing)

    return asyncio.run(main())
