"""Sample payloads for every event type, built by the builders workflows use (``models.payloads``).

``billhook trigger`` sends them through the real pipeline, so a receiver written for Lotus's
webhooks can be tried against billhook before any billing runs. The content is fixed: one
customer on a monthly "Pro" plan, its March 2023 period, the invoice issued as it ends, and a
usage alert on its API calls. The samples fill the customer's addresses and the seller, as a
configured billhook does, and a tax provider, so that a receiver sees the shape of those too;
what billhook never knows stays ``null``, ``[]`` or ``{}``. Every call builds fresh objects, so a
caller may change what it gets.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from models.address import Address
from models.billing import (
    Aggregation,
    AlertSnapshot,
    ChargeTiming,
    CustomerSnapshot,
    FlatCharge,
    InvoiceState,
    InvoiceWorkflowInput,
    MetricSnapshot,
    PaymentStatus,
    PlanVersionSnapshot,
    UsageComponent,
)
from models.events import EventType
from models.invoicing import period_end_lines
from models.organization import Organization
from models.payloads import (
    customer_model,
    invoice_payload,
    subscription_payload,
    usage_alert_payload,
)

Payload = dict[str, Any]
Period = tuple[datetime, datetime]

#: Namespace of the samples' ids: fixed, so every sample of a type names the same objects.
_SAMPLES = uuid.UUID("0b6f0f8e-2d4e-4a5b-9a51-8f3f2b7c1d90")


def _id(prefix: str, name: str) -> str:
    """A prefixed 32-hex id, the same for the same name (events.md, Identity)."""
    return f"{prefix}_{uuid.uuid5(_SAMPLES, name).hex}"


def _month(year: int, month: int) -> Period:
    """A monthly period: its start, and the last microsecond before the next one starts."""
    start = datetime(year, month, 1, tzinfo=UTC)
    following = datetime(year + month // 12, month % 12 + 1, 1, tzinfo=UTC)
    return start, following - timedelta(microseconds=1)


MARCH = _month(2023, 3)
APRIL = _month(2023, 4)
ISSUED_AT = APRIL[0]  # the invoice that closes March is issued as April starts
TRIGGERED_AT = datetime(2023, 3, 20, 14, 2, 11, 532_000, tzinfo=UTC)


def _address(line1: str, city: str, state: str, postal_code: str) -> Address:
    return Address(city=city, country="US", line1=line1, postal_code=postal_code, state=state)


CUSTOMER = CustomerSnapshot(
    customer_id="acme-corp",  # the caller's own id, unprefixed
    name="Acme Corp",
    email="billing@acme.example",
    timezone="UTC",
    currency="USD",
    address=_address("548 Market St", "San Francisco", "CA", "94104"),
    billing_address=_address("548 Market St", "San Francisco", "CA", "94104"),
)
#: The seller, as BILLHOOK_ORGANIZATION_* would give it.
ORGANIZATION = Organization(
    name="Example Billing Co.",
    address=_address("100 Broadway", "New York", "NY", "10005"),
    phone="+1 212 555 0100",
    email="invoices@billing.example",
)
API_CALLS = MetricSnapshot(
    metric_id=_id("metric", "api-calls"),
    name="API calls",
    event_name="api_call",
    aggregation=Aggregation.COUNT,
)
ALERT = AlertSnapshot(
    alert_id=_id("usg_alert", "api-calls-10k"),
    metric_id=API_CALLS.metric_id,
    threshold=Decimal(10_000),
)
PLAN = PlanVersionSnapshot(
    plan_id=_id("plan", "pro"),
    plan_name="Pro",
    version_id=_id("plan_version", "pro-v2"),
    version=2,
    flat_charge=FlatCharge(amount=Decimal("99.00"), timing=ChargeTiming.IN_ADVANCE),
    components=[UsageComponent(metric=API_CALLS, unit_price=Decimal("0.004"))],
    alerts=[ALERT],
)
SUBSCRIPTION_ID = _id("sub", "subscription")
#: The sample invoice, computed as a renewal computes it: March's 12,500 API calls in arrears,
#: April's flat fee in advance.
INVOICE = InvoiceWorkflowInput(
    invoice_id=_id("invoice", "invoice-2023-03"),
    subscription_id=SUBSCRIPTION_ID,
    customer=CUSTOMER,
    plan=PLAN,
    line_items=period_end_lines(PLAN, {API_CALLS.metric_id: Decimal(12_500)}, MARCH, (PLAN, APRIL)),
    organization=ORGANIZATION,
)


def subscription(
    period: Period, *, is_new: bool, auto_renew: bool = True, fully_billed: bool = False
) -> Payload:
    """The Subscription payload of the sample subscription for one of its periods."""
    return subscription_payload(
        subscription_id=SUBSCRIPTION_ID,
        customer=CUSTOMER,
        plan=PLAN,
        start=period[0],
        end=period[1],
        auto_renew=auto_renew,
        is_new=is_new,
        fully_billed=fully_billed,
    )


def invoice(payment_status: PaymentStatus) -> Payload:
    """The Invoice payload of the sample invoice with the given ``payment_status``."""
    state = InvoiceState(
        invoice_id=INVOICE.invoice_id,
        invoice_number=f"{ISSUED_AT:%y%m%d}-000001",  # issue day, then its sequence that day
        subscription_id=SUBSCRIPTION_ID,
        customer_id=CUSTOMER.customer_id,
        amount=INVOICE.amount,
        currency=PLAN.currency,
        issue_date=ISSUED_AT,
        due_date=ISSUED_AT + timedelta(days=30),
        payment_status=payment_status,
    )
    return invoice_payload(INVOICE, state)


def customer() -> Payload:
    """The Customer payload of a customer just created: no invoices or subscriptions yet."""
    filled = customer_model(CUSTOMER).model_copy(update={"tax_providers": ["lotus"]})
    return filled.model_dump(mode="json")


def usage_alert() -> Payload:
    """The UsageAlertPayload of the subscription's API calls crossing 10,000 in March."""
    return usage_alert_payload(
        subscription=subscription(MARCH, is_new=True),
        plan=PLAN,
        alert=ALERT,
        metric=API_CALLS,
        usage=Decimal(10_012),
        time_triggered=TRIGGERED_AT,
    )


_BUILDERS: dict[EventType, Callable[[], Payload]] = {
    EventType.CUSTOMER_CREATED: customer,
    EventType.SUBSCRIPTION_CREATED: lambda: subscription(MARCH, is_new=True),
    EventType.SUBSCRIPTION_RENEWED: lambda: subscription(APRIL, is_new=False),
    # Cancelled at period end: sent as it ends with the March period, its first, fully billed.
    EventType.SUBSCRIPTION_CANCELLED: lambda: subscription(
        MARCH, is_new=True, auto_renew=False, fully_billed=True
    ),
    EventType.INVOICE_CREATED: lambda: invoice(PaymentStatus.UNPAID),
    EventType.INVOICE_PAID: lambda: invoice(PaymentStatus.PAID),
    EventType.INVOICE_PAST_DUE: lambda: invoice(PaymentStatus.UNPAID),
    EventType.USAGE_ALERT_TRIGGERED: usage_alert,
}


def sample_payload(event_type: EventType) -> Payload:
    """A realistic payload of ``event_type``, shaped as events.md describes.

    Args:
        event_type: any type of the catalog (its string value is accepted too).
    """
    return _BUILDERS[EventType(event_type)]()
