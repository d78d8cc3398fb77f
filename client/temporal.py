"""The Temporal side of ``BillhookClient``: starts, updates and queries, with billhook's errors.

Imported by ``BillhookClient`` on the first operation that needs Temporal: the SDK and the
workflows take about a second to load, which store-only operations (``endpoints.list``) never
pay. Updates are validated by the workflows; a refusal is an ``InvalidInput`` with the
workflow's message. An update to a workflow that has closed (a subscription that ended, an
invoice paid or voided) is refused by Temporal as not found: the methods answer None, and the
client answers from the catalog, which the workflows keep current.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from datetime import timedelta
from typing import Any, Concatenate, ParamSpec, TypeVar

from temporalio.client import (
    Client,
    RPCTimeoutOrCancelledError,
    WorkflowExecutionStatus,
    WorkflowFailureError,
    WorkflowHandle,
    WorkflowQueryFailedError,
    WorkflowUpdateFailedError,
)
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import ApplicationError, WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode
from temporalio.workflow import UpdateMethodMultiParam

from client.catalog import customer_exists
from client.ids import invoice_workflow_id, subscription_workflow_id
from client.publisher import Publisher
from client.starts import start_customer, subscription_start
from config import Settings
from errors import InvalidInput, NoWorker, TemporalError
from models.billing import (
    CancelInput,
    CustomerSnapshot,
    InvoiceState,
    PayInput,
    SubscriptionState,
    SubscriptionWorkflowInput,
    UsageInput,
    UsageResult,
)
from models.delivery import Event, ManualDeliveryInput, ManualDeliveryProgress
from temporal_client import connect, resolve_connection
from workflows.invoice import InvoiceWorkflow
from workflows.manual import ManualDeliveryWorkflow
from workflows.subscription import PERIOD_CLOSING, SubscriptionWorkflow

T = TypeVar("T")
R = TypeVar("R")
P = ParamSpec("P")

#: A subscription refuses requests for a moment while it closes a period; retry that often.
CLOSING_RETRIES = 6
CLOSING_RETRY_SECONDS = 0.5
#: A query is answered by a worker; without one it would wait for the RPC's own long timeout.
QUERY_TIMEOUT = timedelta(seconds=5)
#: How a query's ``rpc_timeout`` expiring is reported (the SDK says CANCELLED).
_TIMED_OUT = (RPCStatusCode.CANCELLED, RPCStatusCode.DEADLINE_EXCEEDED)
#: How often a manual delivery's progress is asked for while it runs.
PROGRESS_SECONDS = 0.5
#: A progress query must not stall the progress loop for long.
PROGRESS_TIMEOUT = timedelta(seconds=2)

OnProgress = Callable[[ManualDeliveryProgress], None]


def _translated(
    method: Callable[Concatenate[TemporalSide, P], Coroutine[Any, Any, T]],
) -> Callable[Concatenate[TemporalSide, P], Coroutine[Any, Any, T]]:
    """Turn what Temporal raises into billhook's one-line ``TemporalError``."""

    @functools.wraps(method)
    async def translated(self: TemporalSide, /, *args: P.args, **kwargs: P.kwargs) -> T:
        try:
            return await method(self, *args, **kwargs)
        except RPCError as exc:
            raise TemporalError(
                f"Temporal at {self.address} refused the request: {exc.message}"
            ) from exc
        except WorkflowFailureError as exc:
            raise TemporalError(f"workflow failed: {exc.cause or exc}") from exc

    return translated


class TemporalSide:
    """billhook's workflows as ``BillhookClient`` drives them, on one Temporal client.

    Args:
        client: a client with billhook's data converter (``client.connection.connect``).
        settings: the task queue and the dispatcher shards.
        worker_wait: how long a request waits for a worker before ``NoWorker``.
        address: where Temporal is, for messages.
    """

    def __init__(
        self, client: Client, settings: Settings, worker_wait: float, address: str
    ) -> None:
        self.client = client
        self.task_queue = settings.task_queue
        self.worker_wait = worker_wait
        self.address = address
        self.publisher = Publisher(client, settings.task_queue, settings.delivery_shards)

    @classmethod
    async def connect(cls, settings: Settings, worker_wait: float) -> TemporalSide:
        """Connect as ``settings`` say.

        Raises:
            InvalidSettings: the Temporal client configuration cannot be used.
            TemporalError: Temporal does not answer.
        """
        address = resolve_connection(settings).address
        try:
            client = await connect(settings)
        except RuntimeError as exc:
            # The SDK's message is a multi-line transport dump; the fix is nearly always the same.
            raise TemporalError(f"cannot reach Temporal at {address}: is `make run` up?") from exc
        return cls(client, settings, worker_wait, address)

    # Customers ---------------------------------------------------------------------------
    @_translated
    async def create_customer(self, customer: CustomerSnapshot) -> str:
        """Start ``customer-<id>``, which stores the customer; the ``customer.created`` id.

        Raises:
            Conflict: Temporal has a workflow of that customer already.
            NoWorker: no worker ran the workflow in time.
        """
        try:
            handle = await start_customer(self.client, self.task_queue, customer)
        except WorkflowAlreadyStartedError as exc:
            raise customer_exists(customer.customer_id) from exc
        try:
            async with asyncio.timeout(self.worker_wait):
                return await handle.result()
        except TimeoutError:
            raise NoWorker(
                f"customer {customer.customer_id} is not created yet: {self.no_worker()}; "
                "it is created once a worker runs"
            ) from None

    # Subscriptions -----------------------------------------------------------------------
    @_translated
    async def subscribe(self, input: SubscriptionWorkflowInput) -> SubscriptionState:
        """Start a subscription with its ``started`` update: its state once the store has it.

        Raises:
            NoWorker: no worker picked the subscription up in time (it is started).
        """
        try:
            async with asyncio.timeout(self.worker_wait):
                return await self.client.execute_update_with_start_workflow(
                    SubscriptionWorkflow.started,
                    start_workflow_operation=subscription_start(self.task_queue, input),
                )
        except (TimeoutError, RPCTimeoutOrCancelledError):
            raise NoWorker(
                f"subscription {input.subscription_id} is started, but {self.no_worker()}; "
                "it starts billing once a worker runs"
            ) from None

    @_translated
    async def subscription_state(self, sub_id: str) -> SubscriptionState | None:
        """The live state of a subscription; None when its workflow has closed.

        Raises:
            NoWorker: the workflow runs but no worker answered.
        """
        handle = self._subscription(sub_id)
        try:
            if (await handle.describe()).status != WorkflowExecutionStatus.RUNNING:
                return None
            return await handle.query(SubscriptionWorkflow.state, rpc_timeout=QUERY_TIMEOUT)
        except WorkflowQueryFailedError as exc:
            raise NoWorker(f"its workflow failed the query: {exc}") from exc
        except RPCTimeoutOrCancelledError as exc:
            raise NoWorker(self.no_worker(QUERY_TIMEOUT.total_seconds())) from exc
        except RPCError as exc:
            if exc.status == RPCStatusCode.NOT_FOUND:
                return None
            if exc.status in _TIMED_OUT:
                raise NoWorker(self.no_worker(QUERY_TIMEOUT.total_seconds())) from exc
            raise

    @_translated
    async def wait_ended(self, sub_id: str) -> SubscriptionState:
        """Wait for the subscription's last run to end; its final state."""
        return await self._subscription(sub_id).result()

    @_translated
    async def cancel(self, sub_id: str, request: CancelInput) -> SubscriptionState | None:
        """Cancel a subscription; its state after that, or None when its workflow has closed.

        Raises:
            InvalidInput: the workflow refused (already cancelled).
        """
        return await self._update_subscription(sub_id, SubscriptionWorkflow.cancel, request)

    @_translated
    async def record_usage(self, sub_id: str, usage: UsageInput) -> UsageResult | None:
        """Add a batch of usage; None when the subscription's workflow has closed.

        Raises:
            InvalidInput: the workflow refused (unknown metric, negative quantity).
        """
        return await self._update_subscription(sub_id, SubscriptionWorkflow.record_usage, usage)

    # Invoices ----------------------------------------------------------------------------
    @_translated
    async def pay(self, invoice_id: str, payment: PayInput) -> InvoiceState | None:
        """Mark an invoice paid; None when its workflow has closed (paid or voided before).

        Raises:
            InvalidInput: the workflow refused (the invoice is voided).
        """
        handle = self._invoice(invoice_id)
        return await self.update(lambda: handle.execute_update(InvoiceWorkflow.pay, payment))

    @_translated
    async def void(self, invoice_id: str) -> InvoiceState | None:
        """Void an unpaid invoice; None when its workflow has closed.

        Raises:
            InvalidInput: the workflow refused (the invoice is not unpaid).
        """
        handle = self._invoice(invoice_id)
        return await self.update(lambda: handle.execute_update(InvoiceWorkflow.void))

    # Delivery ----------------------------------------------------------------------------
    @_translated
    async def publish(self, events: Sequence[Event]) -> None:
        """Emit events to their dispatchers; durable once this returns."""
        await self.publisher.publish(events)

    @_translated
    async def manual(
        self, workflow_id: str, input: ManualDeliveryInput, on_progress: OnProgress | None = None
    ) -> ManualDeliveryProgress:
        """Run the manual delivery ``workflow_id`` (``run_manual``) and wait for its outcome."""
        return await run_manual(self.client, self.task_queue, workflow_id, input, on_progress)

    # Updates -----------------------------------------------------------------------------
    async def update(self, call: Callable[[], Awaitable[T]]) -> T | None:
        """Run an update, retrying while a subscription closes its period; None when closed.

        Raises:
            InvalidInput: the workflow's validator refused the request (its message).
            NoWorker: no worker answered in time.
        """
        retries = CLOSING_RETRIES
        while True:
            try:
                async with asyncio.timeout(self.worker_wait):
                    return await call()
            except WorkflowUpdateFailedError as exc:
                # The one refusal that passes by itself: the next run takes requests again.
                cause = exc.cause
                closing = isinstance(cause, ApplicationError) and cause.type == PERIOD_CLOSING
                if not closing or retries == 0:
                    raise InvalidInput(refusal(exc)) from exc
            except RPCError as exc:
                if exc.status == RPCStatusCode.NOT_FOUND:
                    return None
                raise
            except (TimeoutError, RPCTimeoutOrCancelledError):
                # The SDK turns our timeout's cancellation into its own error.
                raise NoWorker(
                    f"{self.no_worker()}; the request may still be applied once one runs"
                ) from None
            retries -= 1
            await asyncio.sleep(CLOSING_RETRY_SECONDS)

    async def _update_subscription(
        self,
        sub_id: str,
        update: UpdateMethodMultiParam[[SubscriptionWorkflow, R], T],
        request: R,
    ) -> T | None:
        """Run a subscription's ``update`` with ``request`` (``update``: None once it closed)."""
        handle = self._subscription(sub_id)
        return await self.update(lambda: handle.execute_update(update, request))

    def no_worker(self, seconds: float | None = None) -> str:
        """``no worker answered on task queue ... within N s (is `make run` up?)``."""
        wait = self.worker_wait if seconds is None else seconds
        return (
            f"no worker answered on task queue {self.task_queue} within {wait:g} s "
            "(is `make run` up?)"
        )

    def _subscription(self, sub_id: str) -> WorkflowHandle[SubscriptionWorkflow, SubscriptionState]:
        return self.client.get_workflow_handle_for(
            SubscriptionWorkflow.run, subscription_workflow_id(sub_id)
        )

    def _invoice(self, invoice_id: str) -> WorkflowHandle[InvoiceWorkflow, Any]:
        return self.client.get_workflow_handle_for(
            InvoiceWorkflow.run, invoice_workflow_id(invoice_id)
        )


def refusal(error: WorkflowUpdateFailedError) -> str:
    """The message a workflow's validator refused an update with."""
    cause = error.cause
    if isinstance(cause, ApplicationError) and cause.message:
        return cause.message
    return str(cause) or "the workflow refused the request"


async def run_manual(
    client: Client,
    task_queue: str,
    workflow_id: str,
    input: ManualDeliveryInput,
    on_progress: OnProgress | None = None,
) -> ManualDeliveryProgress:
    """Start (or join) the manual delivery ``workflow_id`` and wait for its outcome.

    A workflow with that id still running is joined rather than duplicated (the same resend
    asked twice); a finished one may be run again. Its outcome comes from its result, its
    progress meanwhile from its ``progress`` query, about every half second.

    Args:
        client: the Temporal client.
        task_queue: where the workflow runs.
        workflow_id: ``resend-<msg>-<endpoint>`` or ``recover-<endpoint>`` (``client.ids``).
        input: the endpoint and the messages to resend.
        on_progress: called with the progress while it runs.
    """
    handle = await client.start_workflow(
        ManualDeliveryWorkflow.run,
        input,
        id=workflow_id,
        task_queue=task_queue,
        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
        id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE,
    )
    result = asyncio.ensure_future(handle.result())
    try:
        while True:
            done, _ = await asyncio.wait({result}, timeout=PROGRESS_SECONDS)
            if done:
                return result.result()
            if on_progress is not None and (progress := await _progress(handle)) is not None:
                on_progress(progress)
    finally:
        result.cancel()  # no-op when done; otherwise stop waiting on Temporal's long poll


async def _progress(
    handle: WorkflowHandle[ManualDeliveryWorkflow, ManualDeliveryProgress],
) -> ManualDeliveryProgress | None:
    try:
        return await handle.query(ManualDeliveryWorkflow.progress, rpc_timeout=PROGRESS_TIMEOUT)
    except (WorkflowQueryFailedError, RPCTimeoutOrCancelledError, RPCError):
        # Before a worker has run the first task there is nothing to answer: keep waiting.
        return None
