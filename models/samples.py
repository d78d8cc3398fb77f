"""Sample payloads for every event type, shaped as events.md's Payloads section describes.

``billhook trigger`` sends them through the real pipeline, so a receiver written for Lotus's
webhooks can be tried against billhook before any billing runs. The content is fixed: one
customer on a monthly "Pro" plan, its March 2023 period, the invoice issued as it ends, and a
usage alert on its API calls. Fields billhook does not support are present as ``null``, ``[]``
or ``{}``. Every call builds fresh objects, so a caller may change what it gets.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from models.events import EventType

Payload = dict[str, Any]
Period = tuple[datetime, datetime]

#: Namespace of the samples' ids: fixed, so every sample of a type names the same objects.
_SAMPLES = uuid.UUID("0b6f0f8e-2d4e-4a5b-9a51-8f3f2b7c1d90")
_CENT = Decimal("0.01")


def _id(prefix: str, name: str) -> str:
    """A prefixed 32-hex id, the same for the same name (events.md, Identity)."""
    return f"{prefix}_{uuid.uuid5(_SAMPLES, name).hex}"


def _money(amount: Decimal) -> float:
    """Money as a JSON number: computed as ``Decimal``, rounded to cents only here."""
    return float(amount.quantize(_CENT))


def _at(moment: datetime) -> str:
    """A date-time in the customer's timezone (UTC here), ISO 8601 with its offset."""
    return moment.isoformat()


def _month(year: int, month: int) -> Period:
    """A monthly period: its start, and the last microsecond before the next one starts."""
    start = datetime(year, month, 1, tzinfo=UTC)
    following = datetime(year + month // 12, month % 12 + 1, 1, tzinfo=UTC)
    return start, following - timedelta(microseconds=1)


CUSTOMER_ID = "acme-corp"  # the caller's own id, unprefixed
SUBSCRIPTION_ID = _id("sub", "subscription")
INVOICE_ID = _id("invoice", "invoice-2023-03")
MARCH = _month(2023, 3)
APRIL = _month(2023, 4)
ISSUED_AT = APRIL[0]  # the invoice that closes March is issued as April starts
#: The sample invoice's lines: usage billed in arrears for March, the flat fee in advance for April.
LINES = (
    ("API calls", MARCH, "in_arrears", Decimal(12_500), Decimal("0.004")),
    ("Pro plan flat fee", APRIL, "in_advance", Decimal(1), Decimal("99.00")),
)


def _currency() -> Payload:
    return {"code": "USD", "name": "US Dollar", "symbol": "$"}


def _plan() -> Payload:
    return {
        "plan_name": "Pro",
        "plan_id": _id("plan", "pro"),
        "version_id": _id("plan_version", "pro-v2"),
        "version": 2,
    }


def _customer_ref() -> Payload:
    return {
        "customer_name": "Acme Corp",
        "email": "billing@acme.example",
        "customer_id": CUSTOMER_ID,
    }


def _address(line1: str, city: str, state: str, postal_code: str) -> Payload:
    return {
        "city": city,
        "country": "US",
        "line1": line1,
        "line2": None,
        "postal_code": postal_code,
        "state": state,
    }


def _customer_address() -> Payload:
    return _address("548 Market St", "San Francisco", "CA", "94104")


def _seller() -> Payload:
    return {
        "name": "Example Billing Co.",
        "address": _address("100 Broadway", "New York", "NY", "10005"),
        "phone": "+1 212 555 0100",
        "email": "invoices@billing.example",
    }


def _metric() -> Payload:
    return {
        "metric_id": _id("metric", "api-calls"),
        "event_name": "api_call",
        "property_name": None,
        "aggregation_type": "count",
        "granularity": "total",
        "event_type": None,
        "metric_type": "counter",
        "metric_name": "API calls",
        "numeric_filters": [],
        "categorical_filters": [],
        "is_cost_metric": False,
        "custom_sql": None,
        "proration": None,
    }


def subscription(period: Period, *, is_new: bool, auto_renew: bool = True) -> Payload:
    """The Subscription payload of the sample subscription for one of its periods."""
    return {
        "subscription_id": SUBSCRIPTION_ID,
        "start_date": _at(period[0]),
        "end_date": _at(period[1]),
        "auto_renew": auto_renew,
        "is_new": is_new,
        "subscription_filters": [],
        "customer": _customer_ref(),
        "billing_plan": _plan(),
        "fully_billed": False,
        "addons": [],
        "metadata": {},
    }


def line_item(
    name: str, period: Period, billing_type: str, quantity: Decimal, unit_price: Decimal
) -> Payload:
    """One LineItem: ``quantity`` at ``unit_price`` over ``period``, without adjustments."""
    base = _money(quantity * unit_price)
    return {
        "name": name,
        "start_date": _at(period[0]),
        "end_date": _at(period[1]),
        "quantity": float(quantity),
        "billing_type": billing_type,
        "metadata": {},
        "plan": _plan(),
        "subscription_filters": [],
        "base": base,
        "adjustments": [],
        "amount": base,
        "subtotal": base,
    }


def invoice(payment_status: str) -> Payload:
    """The Invoice payload of the sample invoice with the given ``payment_status``."""
    amount = _money(sum((quantity * price for *_, quantity, price in LINES), Decimal(0)))
    return {
        "invoice_id": INVOICE_ID,
        "invoice_number": f"{ISSUED_AT:%y%m%d}-000001",  # issue day, then its sequence that day
        "cost_due": amount,
        "amount": amount,
        "currency": _currency(),
        "issue_date": _at(ISSUED_AT),
        "payment_status": payment_status,
        "external_payment_obj_id": None,
        "external_payment_obj_type": None,
        "external_payment_obj_status": None,
        "line_items": [line_item(*line) for line in LINES],
        "customer": {**_customer_ref(), "address": _customer_address()},
        "due_date": _at(ISSUED_AT + timedelta(days=30)),
        "start_date": MARCH[0].date().isoformat(),
        "end_date": APRIL[1].date().isoformat(),
        "seller": _seller(),
        "invoice_pdf": None,
    }


def customer() -> Payload:
    """The Customer payload of a customer just created: no invoices or subscriptions yet."""
    return {
        "customer_id": CUSTOMER_ID,
        "email": "billing@acme.example",
        "customer_name": "Acme Corp",
        "invoices": [],
        "total_amount_due": 0.0,
        "subscriptions": [],
        "integrations": {"stripe": None, "braintree": None},
        "default_currency": _currency(),
        "payment_provider": None,
        "payment_provider_id": None,
        "has_payment_method": False,
        "address": _customer_address(),
        "billing_address": _customer_address(),
        "shipping_address": None,
        "tax_rate": None,
        "timezone": "UTC",
        "tax_providers": ["lotus"],
    }


def usage_alert() -> Payload:
    """The UsageAlertPayload of the subscription's API calls crossing 10,000 in March."""
    return {
        "subscription": {**subscription(MARCH, is_new=True), "plan_detail": _plan()},
        "usage_alert": {
            "usage_alert_id": _id("usg_alert", "api-calls-10k"),
            "metric": _metric(),
            "plan_version": _plan(),
            "threshold": 10_000.0,
        },
        "usage": 10_012.0,
        "time_triggered": _at(datetime(2023, 3, 20, 14, 2, 11, 532_000, tzinfo=UTC)),
    }


_BUILDERS: dict[EventType, Callable[[], Payload]] = {
    EventType.CUSTOMER_CREATED: customer,
    EventType.SUBSCRIPTION_CREATED: lambda: subscription(MARCH, is_new=True),
    EventType.SUBSCRIPTION_RENEWED: lambda: subscription(APRIL, is_new=False),
    # Cancelled at period end: it stops renewing and ends with the March period.
    EventType.SUBSCRIPTION_CANCELLED: lambda: subscription(MARCH, is_new=False, auto_renew=False),
    EventType.INVOICE_CREATED: lambda: invoice("unpaid"),
    EventType.INVOICE_PAID: lambda: invoice("paid"),
    EventType.INVOICE_PAST_DUE: lambda: invoice("unpaid"),
    EventType.USAGE_ALERT_TRIGGERED: usage_alert,
}


def sample_payload(event_type: EventType) -> Payload:
    """A realistic payload of ``event_type``, shaped as events.md describes.

    Args:
        event_type: any type of the catalog (its string value is accepted too).
    """
    return _BUILDERS[EventType(event_type)]()
