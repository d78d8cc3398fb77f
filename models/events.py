"""The event catalog, message identity and the envelope receivers get (events.md)."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

#: Namespace of the deterministic message ids; changing it would re-send every event.
MESSAGE_ID_NAMESPACE = uuid.UUID("6f1c1a52-5a43-4f43-9d8e-5b0f3b1e7a10")


class EventType(StrEnum):
    """The eight billing lifecycle events (events.md)."""

    CUSTOMER_CREATED = "customer.created"
    SUBSCRIPTION_CREATED = "subscription.created"
    SUBSCRIPTION_RENEWED = "subscription.renewed"
    SUBSCRIPTION_CANCELLED = "subscription.cancelled"
    INVOICE_CREATED = "invoice.created"
    INVOICE_PAID = "invoice.paid"
    INVOICE_PAST_DUE = "invoice.past_due"
    USAGE_ALERT_TRIGGERED = "usage_alert.triggered"


EVENT_DESCRIPTIONS: dict[EventType, str] = {
    EventType.CUSTOMER_CREATED: "a customer is created",
    EventType.SUBSCRIPTION_CREATED: "a subscription starts (first period only)",
    EventType.SUBSCRIPTION_RENEWED: "an auto-renewing subscription starts its next period",
    EventType.SUBSCRIPTION_CANCELLED: "a subscription is cancelled (now or at period end)",
    EventType.INVOICE_CREATED: "an invoice is issued",
    EventType.INVOICE_PAID: "an unpaid invoice is marked paid",
    EventType.INVOICE_PAST_DUE: "the due date passes and the invoice is still unpaid",
    EventType.USAGE_ALERT_TRIGGERED: "usage crosses an alert's threshold",
}


def business_key(event_type: EventType, key: str) -> str:
    """The full business key of an event: its type is always part of it (events.md, Identity)."""
    return f"{event_type.value}:{key}"


def message_id(event_type: EventType, key: str) -> str:
    """The message id of an event, the same for every emission of the same event.

    Args:
        event_type: the event's type; two types never share an id for the same object.
        key: what identifies the occurrence, e.g. ``invoice_...`` or ``sub_...:period:3``.
    """
    return "msg_" + uuid.uuid5(MESSAGE_ID_NAMESPACE, business_key(event_type, key)).hex


def format_created_at(moment: datetime) -> str:
    """``created_at`` as Python's ``str()`` of an aware UTC datetime, always with microseconds."""
    if moment.tzinfo is None:
        raise ValueError("created_at must be timezone-aware")
    return moment.astimezone(UTC).isoformat(sep=" ", timespec="microseconds")


def envelope_body(
    *, attempt: int, created_at: datetime, event_type: str, payload: dict[str, Any]
) -> bytes:
    """The exact bytes POSTed (and signed) for one attempt: compact JSON, spec key order."""
    envelope = {
        "attempt": attempt,
        "created_at": format_created_at(created_at),
        "properties": {"event_type": event_type, "payload": payload},
    }
    return json.dumps(envelope, separators=(",", ":"), ensure_ascii=False).encode()
