"""``models.samples``: every key events.md lists, with the formats it prescribes."""

from __future__ import annotations

import json
import re
from datetime import UTC, date, datetime
from typing import Any

import pytest

from models.events import EventType, envelope_body
from models.samples import sample_payload

CURRENCY = {"code", "name", "symbol"}
PLAN = {"plan_name", "plan_id", "version_id", "version"}
ADDRESS = {"city", "country", "line1", "line2", "postal_code", "state"}
CUSTOMER_REF = {"customer_name", "email", "customer_id"}
SUBSCRIPTION = {
    "subscription_id", "start_date", "end_date", "auto_renew", "is_new", "subscription_filters",
    "customer", "billing_plan", "fully_billed", "addons", "metadata",
}  # fmt: skip
LINE_ITEM = {
    "name", "start_date", "end_date", "quantity", "billing_type", "metadata", "plan",
    "subscription_filters", "base", "adjustments", "amount", "subtotal",
}  # fmt: skip
INVOICE = {
    "invoice_id", "invoice_number", "cost_due", "amount", "currency", "issue_date",
    "payment_status", "external_payment_obj_id", "external_payment_obj_type",
    "external_payment_obj_status", "line_items", "customer", "due_date", "start_date",
    "end_date", "seller", "invoice_pdf",
}  # fmt: skip
CUSTOMER = {
    "customer_id", "email", "customer_name", "invoices", "total_amount_due", "subscriptions",
    "integrations", "default_currency", "payment_provider", "payment_provider_id",
    "has_payment_method", "address", "billing_address", "shipping_address", "tax_rate",
    "timezone", "tax_providers",
}  # fmt: skip
METRIC = {
    "metric_id", "event_name", "property_name", "aggregation_type", "granularity",
    "event_type", "metric_type", "metric_name", "numeric_filters", "categorical_filters",
    "is_cost_metric", "custom_sql", "proration",
}  # fmt: skip

HEX32 = r"[0-9a-f]{32}"


def _date_time(value: str) -> datetime:
    moment = datetime.fromisoformat(value)
    assert moment.tzinfo is not None, f"{value} has no offset"
    return moment


def _id(value: str, prefix: str) -> None:
    assert re.fullmatch(prefix + HEX32, value), value


def check_subscription(payload: dict[str, Any]) -> None:
    assert set(payload) == SUBSCRIPTION
    _id(payload["subscription_id"], "sub_")
    start, end = _date_time(payload["start_date"]), _date_time(payload["end_date"])
    assert end.microsecond == 999_999 and start < end  # the last microsecond of the period
    assert set(payload["customer"]) == CUSTOMER_REF
    check_plan(payload["billing_plan"])
    assert isinstance(payload["auto_renew"], bool) and isinstance(payload["is_new"], bool)
    assert payload["subscription_filters"] == [] and payload["addons"] == []


def check_plan(plan: dict[str, Any]) -> None:
    assert set(plan) == PLAN
    _id(plan["plan_id"], "plan_")
    _id(plan["version_id"], "plan_version_")


def check_invoice(payload: dict[str, Any]) -> None:
    assert set(payload) == INVOICE
    _id(payload["invoice_id"], "invoice_")
    issued = _date_time(payload["issue_date"])
    assert payload["invoice_number"] == f"{issued:%y%m%d}-000001"
    assert re.fullmatch(r"\d{6}-\d{6}", payload["invoice_number"])
    assert isinstance(payload["amount"], float) and payload["amount"] >= 0
    assert payload["cost_due"] == payload["amount"]
    assert payload["amount"] == sum(item["amount"] for item in payload["line_items"])
    assert set(payload["currency"]) == CURRENCY
    assert set(payload["customer"]) == CUSTOMER_REF | {"address"}
    assert set(payload["customer"]["address"]) == ADDRESS
    assert set(payload["seller"]) == {"name", "address", "phone", "email"}
    assert set(payload["seller"]["address"]) == ADDRESS
    _date_time(payload["due_date"])
    assert date.fromisoformat(payload["start_date"]) <= date.fromisoformat(payload["end_date"])
    assert payload["invoice_pdf"] is None
    for item in payload["line_items"]:
        check_line_item(item)


def check_line_item(item: dict[str, Any]) -> None:
    assert set(item) == LINE_ITEM
    assert _date_time(item["start_date"]) < _date_time(item["end_date"])
    assert item["billing_type"] in {"in_advance", "in_arrears", "intermediate", "one_time"}
    check_plan(item["plan"])
    assert item["subtotal"] == item["base"] == item["amount"]
    assert all(isinstance(item[key], float) for key in ("base", "amount"))
    assert isinstance(item["quantity"], float) or item["quantity"] is None  # a flat fee: null


def check_customer(payload: dict[str, Any]) -> None:
    assert set(payload) == CUSTOMER
    assert not payload["customer_id"].startswith(("cus_", "customer_"))  # the caller's own
    assert payload["integrations"] == {"stripe": None, "braintree": None}
    assert set(payload["default_currency"]) == CURRENCY
    assert payload["payment_provider"] is None and payload["payment_provider_id"] is None
    assert set(payload["address"]) == set(payload["billing_address"]) == ADDRESS
    assert payload["total_amount_due"] == 0 and payload["invoices"] == []
    assert all(isinstance(name, str) for name in payload["tax_providers"])


def check_usage_alert(payload: dict[str, Any]) -> None:
    assert set(payload) == {"subscription", "usage_alert", "usage", "time_triggered"}
    subscription = dict(payload["subscription"])
    check_plan(subscription.pop("plan_detail"))
    check_subscription(subscription)
    alert = payload["usage_alert"]
    assert set(alert) == {"usage_alert_id", "metric", "plan_version", "threshold"}
    _id(alert["usage_alert_id"], "usg_alert_")
    check_plan(alert["plan_version"])
    assert set(alert["metric"]) == METRIC
    _id(alert["metric"]["metric_id"], "metric_")
    assert alert["metric"]["metric_type"] == "counter"
    assert alert["metric"]["aggregation_type"] in {"count", "sum"}
    assert payload["usage"] >= alert["threshold"]
    _date_time(payload["time_triggered"])


CHECKS = {
    EventType.CUSTOMER_CREATED: check_customer,
    EventType.SUBSCRIPTION_CREATED: check_subscription,
    EventType.SUBSCRIPTION_RENEWED: check_subscription,
    EventType.SUBSCRIPTION_CANCELLED: check_subscription,
    EventType.INVOICE_CREATED: check_invoice,
    EventType.INVOICE_PAID: check_invoice,
    EventType.INVOICE_PAST_DUE: check_invoice,
    EventType.USAGE_ALERT_TRIGGERED: check_usage_alert,
}


@pytest.mark.parametrize("event_type", list(EventType))
def test_every_key_of_events_md(event_type: EventType) -> None:
    payload = sample_payload(event_type)

    CHECKS[event_type](payload)
    body = envelope_body(
        attempt=1, created_at=datetime.now(UTC), event_type=event_type.value, payload=payload
    )
    assert json.loads(body)["properties"]["payload"] == payload


def test_types_specific_values() -> None:
    created = sample_payload(EventType.SUBSCRIPTION_CREATED)
    renewed = sample_payload(EventType.SUBSCRIPTION_RENEWED)
    cancelled = sample_payload(EventType.SUBSCRIPTION_CANCELLED)
    assert created["is_new"] and not renewed["is_new"]
    assert renewed["start_date"] > created["end_date"]
    assert not cancelled["auto_renew"] and cancelled["fully_billed"]
    assert sample_payload(EventType.INVOICE_CREATED)["payment_status"] == "unpaid"
    assert sample_payload(EventType.INVOICE_PAID)["payment_status"] == "paid"
    assert sample_payload(EventType.INVOICE_PAST_DUE)["payment_status"] == "unpaid"


def test_deterministic_and_fresh() -> None:
    first = sample_payload(EventType.INVOICE_PAID)
    first["line_items"][0]["plan"]["plan_name"] = "changed"
    assert sample_payload(EventType.INVOICE_PAID) != first
    assert sample_payload(EventType.INVOICE_PAID) == sample_payload(EventType.INVOICE_PAID)
