"""What ``BillhookClient`` answers with, where the workflows' and the store's models do not suffice.

Records come as the store and the workflows give them (``CustomerSnapshot``,
``SubscriptionState``, ``InvoiceState``, ``Endpoint``, ``Message``, ``Attempt``...); these
models put together what one answer holds.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from pydantic import BaseModel

from models.billing import (
    AlertSnapshot,
    CustomerSnapshot,
    InvoiceState,
    LineItemData,
    PlanVersionSnapshot,
    SubscriptionState,
)
from models.delivery import DeliveryStatus, ManualDeliveryProgress
from models.events import EventType
from store.tables import Attempt, Delivery, Endpoint, Message


class CustomerCreated(BaseModel):
    """A customer stored by its workflow, and the id of its ``customer.created`` message."""

    customer: CustomerSnapshot
    message_id: str


class SubscriptionSummary(SubscriptionState):
    """A subscription's record with its plan's name, for listings."""

    plan_name: str


class CustomerDetails(BaseModel):
    """A customer with its subscriptions (newest first) and its invoices (newest first)."""

    customer: CustomerSnapshot
    subscriptions: list[SubscriptionSummary]
    invoices: list[InvoiceState]


class AlertDetails(BaseModel):
    """An alert and the plan version it watches (None only if that version is gone)."""

    alert: AlertSnapshot
    version: PlanVersionSnapshot | None


class SubscriptionView(BaseModel):
    """A subscription's state with the plan version it runs on and its customer's timezone."""

    state: SubscriptionState
    plan: PlanVersionSnapshot
    #: The customer's: periods start and end on its clock.
    timezone: str


class SubscriptionDetails(SubscriptionView):
    """A subscription as its running workflow answers, or as the catalog last recorded it."""

    #: ``state`` is the workflow's (usage and alerts included); else the catalog's record.
    live: bool
    #: Why a running workflow did not answer (no worker), when it did not.
    unanswered: str | None = None
    invoices: list[InvoiceState]


class InvoiceDetails(BaseModel):
    """An invoice and its lines, as issued."""

    invoice: InvoiceState
    lines: list[LineItemData]


class PayResult(BaseModel):
    """A paid invoice; ``already_paid`` when it was paid before and nothing changed."""

    invoice: InvoiceState
    already_paid: bool


class EndpointCreated(BaseModel):
    """A new endpoint and its whole signing secret, which only ``reveal_secret`` shows again."""

    endpoint: Endpoint
    secret: str


class SecretRotated(BaseModel):
    """An endpoint's new signing secret; the previous one stays valid for ``grace``."""

    endpoint_id: str
    secret: str
    grace: timedelta
    previous_valid_until: datetime


class RecoverResult(BaseModel):
    """An endpoint enabled again, and its failed or skipped messages since ``since`` resent."""

    endpoint: Endpoint
    since: datetime
    #: The resends' outcomes; None when there was nothing to resend.
    resent: ManualDeliveryProgress | None


class MessageDetails(BaseModel):
    """A message with its deliveries, by endpoint id."""

    message: Message
    deliveries: list[Delivery]


class DeliveryOutcome(BaseModel):
    """How a message's delivery (or a resend of it) to one endpoint ended."""

    endpoint_id: str
    status: DeliveryStatus
    #: The latest attempt to that endpoint; None when none was made (a disabled endpoint).
    attempt: Attempt | None


class DeliveryProgress(BaseModel):
    """How far a triggered event's deliveries got."""

    message_id: str
    #: Whether a worker has stored the message and planned a delivery per endpoint.
    stored: bool = False
    endpoints: int = 0
    #: Deliveries no longer pending (succeeded, failed or skipped).
    settled: int = 0


class TriggerResult(BaseModel):
    """A sample event emitted, and each endpoint's outcome once none is pending."""

    message_id: str
    event_type: EventType
    #: Whether a worker stored the message and planned its deliveries within the wait.
    stored: bool
    #: Each subscribed endpoint's outcome; None when some were still pending after the wait.
    outcomes: list[DeliveryOutcome] | None
