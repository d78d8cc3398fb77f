"""The one way billhook connects to Temporal: worker, command line and tests use it."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

from temporalio.client import Client, WorkflowHandle
from temporalio.common import WorkflowIDReusePolicy
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.runtime import Runtime

from config import Settings
from models.billing import (
    CustomerSnapshot,
    CustomerWorkflowInput,
    InvoiceWorkflowInput,
    SubscriptionState,
    SubscriptionWorkflowInput,
)
from models.delivery import (
    DispatchInput,
    Event,
    PublishInput,
    SearchKeys,
    dispatcher_id,
    shard_of,
)
from models.search import typed_attributes
from workflows.customer import CustomerWorkflow
from workflows.dispatch import DispatchWorkflow
from workflows.invoice import InvoiceWorkflow
from workflows.subscription import SubscriptionWorkflow

log = logging.getLogger(__name__)

#: Events one signal carries at most: well under Temporal's payload size limit.
EVENTS_PER_SIGNAL = 100


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


class Publisher:
    """Emits events: signal-with-start of their dispatchers, concurrent emissions coalesced.

    ``publish`` returns once Temporal accepted a signal carrying the events, so they are
    durable. While one signal to a dispatcher is on its way, the events emitted meanwhile wait
    and go together in the next one: no delay when idle, few signals under load. The worker
    shares one publisher among its workflows (``activities.emission``); the command line and
    applications use one of their own.
    """

    def __init__(self, client: Client, task_queue: str, shards: int) -> None:
        self.client = client
        self.task_queue = task_queue
        self.shards = shards
        self._lanes: dict[int, _Lane] = {}

    async def publish(self, events: Sequence[Event]) -> None:
        """Emit ``events``; an event already emitted is delivered once all the same."""
        by_shard: dict[int, list[Event]] = {}
        for event in events:
            by_shard.setdefault(shard_of(event.message_id, self.shards), []).append(event)
        await asyncio.gather(*(self._lane(s).send(evs) for s, evs in by_shard.items()))

    def _lane(self, shard: int) -> _Lane:
        if shard not in self._lanes:
            self._lanes[shard] = _Lane(self, shard)
        return self._lanes[shard]

    async def signal(self, shard: int, events: list[Event]) -> None:
        """One signal-with-start of dispatcher ``shard`` carrying ``events``."""
        await self.client.start_workflow(
            DispatchWorkflow.run,
            DispatchInput(task_queue=self.task_queue, shard=shard),
            id=dispatcher_id(self.task_queue, shard),
            task_queue=self.task_queue,
            start_signal="publish",
            start_signal_args=[PublishInput(events=events)],
        )


@dataclass
class _Lane:
    """The signals to one dispatcher: one on its way at a time, the next one filling up."""

    publisher: Publisher
    shard: int
    waiting: list[tuple[list[Event], asyncio.Future[None]]] = field(default_factory=list)
    sending: asyncio.Task[None] | None = None

    async def send(self, events: list[Event]) -> None:
        done = asyncio.get_running_loop().create_future()
        self.waiting.append((events, done))
        if self.sending is None:
            self.sending = asyncio.create_task(self._drain())
        await done

    async def _drain(self) -> None:
        try:
            while self.waiting:
                taken: list[tuple[list[Event], asyncio.Future[None]]] = []
                count = 0
                while self.waiting and count < EVENTS_PER_SIGNAL:
                    taken.append(self.waiting.pop(0))
                    count += len(taken[-1][0])
                await self._signal(taken)
        except BaseException as exc:
            for _, done in self.waiting:  # not sent: their emitters must not wait for good
                if not done.done():
                    done.set_exception(exc)
            self.waiting.clear()
            raise
        finally:
            self.sending = None

    async def _signal(self, taken: list[tuple[list[Event], asyncio.Future[None]]]) -> None:
        try:
            await self.publisher.signal(self.shard, [e for events, _ in taken for e in events])
        except BaseException as exc:  # handed to every emitter of this signal, which raises it
            for _, done in taken:
                if not done.done():
                    done.set_exception(exc)
            if not isinstance(exc, Exception):
                raise  # cancelled (the process is stopping): the emitters were told
            return
        for _, done in taken:
            if not done.done():
                done.set_result(None)


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
        search_attributes=typed_attributes(SearchKeys(customer_id=customer.customer_id)),
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
        search_attributes=typed_attributes(
            SearchKeys(
                customer_id=input.customer.customer_id, subscription_id=input.subscription_id
            )
        ),
    )


async def start_invoice(client: Client, task_queue: str, input: InvoiceWorkflowInput) -> None:
    """Start an invoice's workflow, id ``invoice-<invoice id>``; a second start does nothing."""
    try:
        await client.start_workflow(
            InvoiceWorkflow.run,
            input,
            id=f"invoice-{input.invoice_id}",
            task_queue=task_queue,
            id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
            search_attributes=typed_attributes(
                SearchKeys(
                    customer_id=input.customer.customer_id,
                    subscription_id=input.subscription_id,
                    invoice_id=input.invoice_id,
                )
            ),
        )
    except WorkflowAlreadyStartedError:
        log.info("invoice %s already started", input.invoice_id)
