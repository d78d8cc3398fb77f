"""Fixed inputs of the payload tests: one customer in New York on a monthly plan from Jan 31, 2024.

Period 0 runs Jan 31 - Feb 28 and period 1 Feb 29 - Mar 30 (2024 is a leap year; daylight saving
time starts on Mar 10), so the payloads show clamped months and both New York offsets.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from models import billing
from models.address import Address
from models.events import EventType, envelope_body
from models.invoicing import period_end_lines
from models.organization import Organization
from models.payloads import (
    customer_payload,
    invoice_payload,
    subscription_payload,
    usage_alert_payload,
)
from models.periods import period_bounds, zone

NEW_YORK = zone("America/New_York")  # not ZoneInfo(): fixtures also run in the sandbox
#: When every golden event happened (the envelope's created_at).
CREATED_AT = datetime(2024, 1, 31, 5, 0, 0, 123456, tzinfo=UTC)
ANCHOR = datetime(2024, 1, 31, tzinfo=NEW_YORK)
SUBSCRIPTION_ID = "sub_5d1f0c7e2b8a4e6f9a3c1b7d0e2f4a6c"
INVOICE_ID = "invoice_8e2a4c6b1d3f4a5b9c7e0f1a2b3c4d5e"

CUSTOMER = billing.CustomerSnapshot(
    customer_id="acme-corp",
    name="Acme Corp",
    email="billing@acme.example",
    timezone="America/New_York",
    currency="USD",
    address=Address(
        line1="350 Fifth Avenue", line2="Suite 300", city="New York", state="NY",
        postal_code="10118", country="US",
    ),
    shipping_address=Address(line1="1 Dock Rd", city="Newark", state="NJ", country="US"),
)  # fmt: skip
API_CALLS = billing.MetricSnapshot(
    metric_id="metric_0a1b2c3d4e5f40718293a4b5c6d7e8f9",
    name="API calls",
    event_name="api_call",
    aggregation=billing.Aggregation.COUNT,
)
ALERT = billing.AlertSnapshot(
    alert_id="usg_alert_f0e1d2c3b4a5460798a9bacbdcedfe0f",
    metric_id=API_CALLS.metric_id,
    threshold=Decimal(1000),
)
PLAN = billing.PlanVersionSnapshot(
    plan_id="plan_3c4d5e6f708192a3b4c5d6e7f8091a2b",
    plan_name="Pro",
    version_id="plan_version_9a8b7c6d5e4f40312a1b0c9d8e7f6a5b",
    version=2,
    currency="USD",
    period="monthly",
    flat_charge=billing.FlatCharge(amount=Decimal("49.99"), timing=billing.ChargeTiming.IN_ADVANCE),
    components=[billing.UsageComponent(metric=API_CALLS, unit_price=Decimal("0.01"))],
    alerts=[ALERT],
)
USAGE = Decimal("1234.5")
PERIOD_0 = period_bounds(ANCHOR, PLAN.period, 0)
PERIOD_1 = period_bounds(ANCHOR, PLAN.period, 1)
#: The organization that bills, as the worker's settings give it (lines in UTC, the default).
ORGANIZATION = Organization(
    name="Example Billing Co.",
    address=Address(
        line1="100 Broadway", city="New York", state="NY", postal_code="10005", country="US"
    ),
    phone="+1 212 555 0100",
    email="invoices@billing.example",
    pdf_base_url="https://billing.example.com",
)
#: The invoice closing period 0, issued as period 1 starts (workflow time is UTC).
ISSUED_AT = datetime(2024, 2, 29, 5, 0, tzinfo=UTC)
DUE_AT = ISSUED_AT + timedelta(days=30)  # net 30, counted in absolute time as workflows do
#: The invoice closing period 0, computed by the code a renewal runs: period 0's API calls in
#: arrears (12.345: rounds half up to 12.35) and period 1's flat fee in advance.
INVOICE = billing.InvoiceWorkflowInput(
    invoice_id=INVOICE_ID,
    subscription_id=SUBSCRIPTION_ID,
    customer=CUSTOMER,
    plan=PLAN,
    line_items=period_end_lines(
        PLAN, {API_CALLS.metric_id: USAGE}, PERIOD_0[:2], (PLAN, PERIOD_1[:2])
    ),
    organization=ORGANIZATION,
)
PAYMENT = {
    "external_payment_obj_id": "ch_3OqZ2a2eZvKYlo2C1",
    "external_payment_obj_type": "stripe",
    "external_payment_obj_status": "succeeded",
}
TRIGGERED_AT = datetime(2024, 2, 10, 14, 2, 11, 532000, tzinfo=UTC)


def invoice_state(status: billing.PaymentStatus, **changes: Any) -> billing.InvoiceState:
    """The state of the fixed invoice with ``status`` and any other ``changes``."""
    fields: dict[str, Any] = {
        "invoice_id": INVOICE_ID,
        "invoice_number": "240229-000001",
        "subscription_id": SUBSCRIPTION_ID,
        "customer_id": CUSTOMER.customer_id,
        "amount": INVOICE.amount,
        "currency": PLAN.currency,
        "issue_date": ISSUED_AT,
        "due_date": DUE_AT,
    }
    return billing.InvoiceState(**(fields | {"payment_status": status} | changes))


def subscription(period: tuple[datetime, datetime, datetime], **flags: bool) -> dict[str, Any]:
    """The fixed subscription's payload for ``period`` with ``is_new`` and ``auto_renew``."""
    start, end, _ = period
    return subscription_payload(
        subscription_id=SUBSCRIPTION_ID,
        customer=CUSTOMER,
        plan=PLAN,
        start=start,
        end=end,
        auto_renew=flags.get("auto_renew", True),
        is_new=flags["is_new"],
        fully_billed=flags.get("fully_billed", False),
    )


def usage_alert() -> dict[str, Any]:
    """The alert on API calls crossing 1,000 in period 0."""
    return usage_alert_payload(
        subscription=subscription(PERIOD_0, is_new=True),
        plan=PLAN,
        alert=ALERT,
        metric=API_CALLS,
        usage=USAGE,
        time_triggered=TRIGGERED_AT,
    )


def payload(event_type: EventType) -> dict[str, Any]:
    """The payload a workflow builds for ``event_type`` from the fixed inputs."""
    match event_type:
        case EventType.CUSTOMER_CREATED:
            return customer_payload(CUSTOMER)
        case EventType.SUBSCRIPTION_CREATED:
            return subscription(PERIOD_0, is_new=True)
        case EventType.SUBSCRIPTION_RENEWED:
            return subscription(PERIOD_1, is_new=False)
        case EventType.SUBSCRIPTION_CANCELLED:  # ended at the end of period 1, fully billed
            return subscription(PERIOD_1, is_new=False, auto_renew=False, fully_billed=True)
        case EventType.INVOICE_CREATED:
            return invoice_payload(INVOICE, invoice_state(billing.PaymentStatus.UNPAID))
        case EventType.INVOICE_PAID:
            return invoice_payload(INVOICE, invoice_state(billing.PaymentStatus.PAID, **PAYMENT))
        case EventType.INVOICE_PAST_DUE:
            return invoice_payload(
                INVOICE, invoice_state(billing.PaymentStatus.UNPAID, past_due=True)
            )
        case EventType.USAGE_ALERT_TRIGGERED:
            return usage_alert()


def body(event_type: EventType) -> bytes:
    """The envelope a receiver gets on the first attempt of ``event_type``."""
    return envelope_body(
        attempt=1, created_at=CREATED_AT, event_type=event_type.value, payload=payload(event_type)
    )
