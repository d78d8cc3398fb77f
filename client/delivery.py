"""``BillhookClient``'s delivery groups: messages, attempts, and emitting events.

Messages and attempts are store records. Emission goes to Temporal (the dispatchers,
``client.publisher``); resends run ``ManualDeliveryWorkflow`` (``resend-<msg>-<endpoint>``) and
answer from its result. Endpoints, and recovering one, are ``client.endpoints``.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from client.core import Group, M, on_store, operation
from client.ids import resend_workflow_id
from client.results import DeliveryOutcome, DeliveryProgress, MessageDetails, TriggerResult
from errors import Conflict, NotFound
from models.delivery import DeliveryStatus, Event, ManualDeliveryInput, ManualDeliveryProgress
from models.events import EventType
from models.samples import sample_payload
from store import Store
from store.store import MessageSummary
from store.tables import Message

if TYPE_CHECKING:
    from client.temporal import OnProgress

#: How often the store is read while a triggered event's deliveries run: their outcomes are
#: recorded there by whichever worker made each attempt, first attempts and retries alike.
POLL_SECONDS = 0.2
#: How long ``trigger`` waits for the deliveries by default.
TRIGGER_WAIT_SECONDS = 20.0

#: Called with a triggered event's progress: once it is emitted, then as its deliveries settle.
OnDelivery = Callable[[DeliveryProgress], None]


def message_details(store: Store, message_id: str) -> MessageDetails:
    """A message with its deliveries.

    Raises:
        NotFound: no such message.
    """
    message = store.get_message(message_id)
    return MessageDetails(message=message, deliveries=store.deliveries_for_message(message.id))


class Messages(Group[M]):
    """Emitted messages, their deliveries, and resending one by hand."""

    get = on_store(Store.get_message)
    show = on_store(message_details)

    @operation
    async def resend(
        self,
        message_id: str,
        endpoint_id: str | None = None,
        on_progress: OnProgress | None = None,
    ) -> list[DeliveryOutcome]:
        """Resend a message now, as a manual attempt, to one endpoint or to each it went to.

        One ``resend-<msg>-<endpoint>`` workflow per endpoint, concurrently; ``on_progress``
        counts endpoints.

        Raises:
            NotFound: no such message or endpoint.
            Conflict: the message was delivered to no endpoint and none was given.
        """
        message, endpoint_ids = await self._in_store(resend_targets, message_id, endpoint_id)
        temporal = await self._core.temporal()
        progress = ManualDeliveryProgress(total=len(endpoint_ids))
        if on_progress is not None:
            on_progress(progress.model_copy())

        async def one(target: str) -> DeliveryStatus:
            result = await temporal.manual(
                resend_workflow_id(message.id, target),
                ManualDeliveryInput(endpoint_id=target, message_ids=[message.id]),
            )
            status = _status(result)
            progress.count(status)
            if on_progress is not None:
                on_progress(progress.model_copy())
            return status

        statuses = await asyncio.gather(*(one(target) for target in endpoint_ids))
        return await self._in_store(
            _outcomes, message.id, dict(zip(endpoint_ids, statuses, strict=True))
        )

    @operation
    async def list(
        self,
        status: DeliveryStatus | None = None,
        event_type: EventType | str | None = None,
        limit: int = 50,
    ) -> list[MessageSummary]:
        """Recent messages newest first, each with its deliveries counted by status."""
        kind = None if event_type is None else str(event_type)
        return await self._in_store(
            Store.list_messages, status=status, event_type=kind, limit=limit
        )


class Attempts(Group[M]):
    """The attempt log: every request, recorded before it is sent."""

    list = on_store(Store.list_attempts)


class Events(Group[M]):
    """Emitting events through the pipeline: what an application publishes, and samples."""

    @operation
    async def publish(self, events: Sequence[Event]) -> None:
        """Emit events to their dispatchers; once this returns they are durable in Temporal.

        An event emitted twice (the same type and business key) is delivered once.
        """
        await (await self._core.temporal()).publish(events)

    @operation
    async def trigger(
        self,
        event_type: EventType,
        wait: float = TRIGGER_WAIT_SECONDS,
        on_progress: OnDelivery | None = None,
    ) -> TriggerResult:
        """Emit a sample event of ``event_type`` and wait up to ``wait`` s for its deliveries.

        ``on_progress`` is called once the event is emitted, then as its deliveries settle.
        """
        await self._core.store()  # checked before the event is emitted
        event = Event.for_event(
            event_type, f"sample:{uuid.uuid4().hex}", sample_payload(event_type), self._core.now()
        )
        await (await self._core.temporal()).publish([event])
        progress = DeliveryProgress(message_id=event.message_id)
        if on_progress is not None:
            on_progress(progress.model_copy())
        outcomes = None
        try:
            async with asyncio.timeout(wait):
                outcomes = await self._settled(progress, on_progress)
        except TimeoutError:
            pass
        return TriggerResult(
            message_id=event.message_id,
            event_type=event_type,
            stored=progress.stored,
            outcomes=outcomes,
        )

    async def _settled(
        self, progress: DeliveryProgress, on_progress: OnDelivery | None
    ) -> list[DeliveryOutcome]:
        while True:
            statuses = await self._in_store(_statuses, progress.message_id)
            if statuses is not None:
                progress.stored = True
                progress.endpoints = len(statuses)
                progress.settled = sum(s is not DeliveryStatus.PENDING for s in statuses.values())
            if on_progress is not None:
                on_progress(progress.model_copy())
            if statuses is not None and progress.settled == progress.endpoints:
                return await self._in_store(_outcomes, progress.message_id, statuses)
            await asyncio.sleep(POLL_SECONDS)


def resend_targets(
    store: Store, message_id: str, endpoint_id: str | None
) -> tuple[Message, list[str]]:
    """The message and the endpoints a resend goes to: ``endpoint_id``, or each it went to.

    Raises:
        NotFound: no such message or endpoint.
        Conflict: the message was delivered to no endpoint and none was given.
    """
    message = store.get_message(message_id)
    if endpoint_id is not None:
        return message, [store.get_endpoint(endpoint_id).id]
    targets = [d.endpoint_id for d in store.deliveries_for_message(message.id)]
    if not targets:
        raise Conflict(
            f"message {message.id} was delivered to no endpoint (none subscribed to "
            f"{message.event_type} when it was emitted); resend it with --endpoint ID"
        )
    return message, targets


def _status(result: ManualDeliveryProgress) -> DeliveryStatus:
    if result.succeeded:
        return DeliveryStatus.SUCCEEDED
    if result.skipped:
        return DeliveryStatus.SKIPPED
    return DeliveryStatus.FAILED


def _statuses(store: Store, message_id: str) -> dict[str, DeliveryStatus] | None:
    """Each endpoint's delivery status; None until a worker has stored the message."""
    try:
        deliveries = store.deliveries_for_message(message_id)
    except NotFound:
        return None
    return {d.endpoint_id: DeliveryStatus(d.status) for d in deliveries}


def _outcomes(
    store: Store, message_id: str, statuses: dict[str, DeliveryStatus]
) -> list[DeliveryOutcome]:
    """Each endpoint's outcome with its latest attempt (none for a skipped one)."""
    outcomes = []
    for endpoint_id, status in statuses.items():
        latest = store.list_attempts(message_id=message_id, endpoint_id=endpoint_id, limit=1)
        attempt = latest[0] if latest and status is not DeliveryStatus.SKIPPED else None
        outcomes.append(DeliveryOutcome(endpoint_id=endpoint_id, status=status, attempt=attempt))
    return outcomes
