"""Delivery records' vocabularies and the inputs/results of delivery workflows and activities."""

from __future__ import annotations

import zlib
from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, Field

from models.events import EventType, business_key, message_id


class EndpointStatus(StrEnum):
    """Whether an endpoint receives deliveries."""

    ENABLED = "enabled"
    DISABLED = "disabled"


class DisabledReason(StrEnum):
    """Why an endpoint was disabled."""

    MANUAL = "manual"  # by hand: `billhook endpoint disable`
    FAILING = "failing"  # no success for 5 days since its first failure
    GONE = "gone"  # the receiver answered 410 Gone


class DeliveryStatus(StrEnum):
    """Where one message's delivery to one endpoint stands."""

    PENDING = "pending"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    SKIPPED = "skipped"


class AttemptTrigger(StrEnum):
    """What made an attempt: the retry schedule, or a person (resend, recover)."""

    SCHEDULED = "scheduled"
    MANUAL = "manual"


class AttemptState(StrEnum):
    """Where an attempt stands: recorded before its request is sent, completed after."""

    IN_FLIGHT = "in_flight"  # recorded, request being sent; outcome not known yet
    COMPLETED = "completed"  # the outcome is recorded
    INTERRUPTED = "interrupted"  # its worker died mid-attempt: the receiver may or may not have it


class ErrorKind(StrEnum):
    """Why an attempt failed, when it did not get a 2xx."""

    TIMEOUT = "timeout"
    CONNECT = "connect"
    DNS = "dns"
    BLOCKED = "blocked"
    REDIRECT = "redirect"
    HTTP_STATUS = "http_status"
    TOO_LARGE = "too_large"


class SearchKeys(BaseModel):
    """Business ids an event concerns, set as search attributes on its delivery workflow."""

    customer_id: str | None = None
    subscription_id: str | None = None
    invoice_id: str | None = None


class Event(BaseModel):
    """One emitted event: what a dispatcher receives and the store keeps as a message."""

    message_id: str
    event_type: EventType
    business_key: str
    created_at: datetime
    payload: dict[str, Any]
    search: SearchKeys = Field(default_factory=SearchKeys)

    @classmethod
    def for_event(
        cls,
        event_type: EventType,
        key: str,
        payload: dict[str, Any],
        created_at: datetime,
        search: SearchKeys | None = None,
    ) -> Event:
        """The event, with its message id derived from its type and ``key``."""
        return cls(
            message_id=message_id(event_type, key),
            event_type=event_type,
            business_key=business_key(event_type, key),
            created_at=created_at,
            payload=payload,
            search=search or SearchKeys(),
        )


#: The input of the per-event ``DeliveryWorkflow`` of billhook 0.1, still run for events
#: emitted before batched delivery (``workflows.emit``); the same shape as ``Event``.
DeliveryWorkflowInput = Event


class PublishInput(BaseModel):
    """Events signalled to a dispatcher (``DispatchWorkflow.publish``)."""

    events: list[Event]


class DispatchInput(BaseModel):
    """A dispatcher's run: its shard, and the events a previous run handed over."""

    task_queue: str
    shard: int
    pending: list[Event] = Field(default_factory=list)
    batches: int = 0  # batches sent by earlier runs, for the batch ids


class DeliverBatchInput(BaseModel):
    """First attempts of a batch of events; ``batch_id`` is stable across activity retries."""

    batch_id: str
    events: list[Event]


class RetryDeliveryInput(BaseModel):
    """A delivery whose first attempt failed: its retries, each one attempt of the activity."""

    message_id: str
    endpoint_id: str
    event_type: EventType
    not_before: datetime  # when the next attempt is due (the schedule's delay, with jitter)
    search: SearchKeys = Field(default_factory=SearchKeys)


class DeliverBatchResult(BaseModel):
    """What a batch's first attempts came to, counted by delivery."""

    succeeded: int = 0
    retrying: int = 0
    failed: int = 0
    skipped: int = 0
    duplicates: int = 0  # events already emitted earlier: nothing was sent for them
    retries: list[RetryDeliveryInput] = Field(default_factory=list)


class PlanDeliveriesInput(BaseModel):
    """A message to plan deliveries for (0.1 histories: one ``DeliveryWorkflow`` per event)."""

    message_id: str
    event_type: EventType
    business_key: str
    created_at: datetime
    payload: dict[str, Any]


class PlannedDeliveries(BaseModel):
    """Endpoints subscribed to a message at emission time."""

    endpoint_ids: list[str]
    skipped_endpoint_ids: list[str]
    max_attempts: int


class DeliverInput(BaseModel):
    """One attempt of one message to one endpoint; the secret is loaded by endpoint id."""

    message_id: str
    endpoint_id: str
    trigger: AttemptTrigger = AttemptTrigger.SCHEDULED


class DeliverResult(BaseModel):
    """What one attempt ended as (a failure that should be retried raises instead)."""

    status: DeliveryStatus
    attempt: int
    response_status: int | None = None


class FailDeliveryInput(BaseModel):
    """A delivery to mark failed once Temporal gave up on it."""

    message_id: str
    endpoint_id: str


class DeliveryWorkflowResult(BaseModel):
    """Final status of the message for each endpoint."""

    statuses: dict[str, DeliveryStatus]


class ManualDeliveryProgress(BaseModel):
    """Outcomes of a manual resend so far."""

    total: int = 0
    succeeded: int = 0
    failed: int = 0
    skipped: int = 0

    @property
    def done(self) -> int:
        return self.succeeded + self.failed + self.skipped

    def count(self, status: DeliveryStatus) -> None:
        """Count one finished manual attempt."""
        if status is DeliveryStatus.SUCCEEDED:
            self.succeeded += 1
        elif status is DeliveryStatus.SKIPPED:
            self.skipped += 1
        else:
            self.failed += 1


class ManualDeliveryInput(BaseModel):
    """Resend of messages to one endpoint as manual attempts (resend and recover)."""

    endpoint_id: str
    message_ids: list[str]
    progress: ManualDeliveryProgress = Field(default_factory=ManualDeliveryProgress)


def shard_of(event: Event, shards: int) -> int:
    """The dispatcher shard an event goes to: its subscription's, else its customer's.

    One subscription's events share a dispatcher: a renewal's ``subscription.renewed`` and
    ``invoice.created`` reach it in one signal and leave in one batch (half the signals and
    batches of spreading them by message id), queued in the order they were emitted.
    An event that names neither (an application's own) is spread by its random-looking
    message id. The hash is stable across processes (not Python's salted ``hash``): every
    emitter of an event picks the same dispatcher, which drops a second emission while the
    first is queued. Under an earlier rule (by message id, before 0.6) the same event may reach
    another dispatcher; the store then sends it once all the same.
    """
    key = event.search.subscription_id or event.search.customer_id
    if key is None:
        return int(event.message_id.removeprefix("msg_"), 16) % shards
    return zlib.crc32(key.encode()) % shards
