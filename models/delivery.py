"""Delivery records' vocabularies and the inputs/results of delivery workflows and activities."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, Field

from models.events import EventType, business_key, message_id


class EndpointStatus(StrEnum):
    ENABLED = "enabled"
    DISABLED = "disabled"


class DisabledReason(StrEnum):
    MANUAL = "manual"  # by hand: `billhook endpoint disable`
    FAILING = "failing"  # no success for 5 days since its first failure
    GONE = "gone"  # the receiver answered 410 Gone


class DeliveryStatus(StrEnum):
    PENDING = "pending"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    SKIPPED = "skipped"


class AttemptTrigger(StrEnum):
    SCHEDULED = "scheduled"
    MANUAL = "manual"


class ErrorKind(StrEnum):
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


class DeliveryWorkflowInput(BaseModel):
    """One emitted event. The workflow id is ``message_id``, so an event is started once."""

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
    ) -> DeliveryWorkflowInput:
        """The input of an event's delivery, with its message id derived from ``key``."""
        return cls(
            message_id=message_id(event_type, key),
            event_type=event_type,
            business_key=business_key(event_type, key),
            created_at=created_at,
            payload=payload,
            search=search or SearchKeys(),
        )


class PlanDeliveriesInput(BaseModel):
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
