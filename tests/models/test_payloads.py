"""``models.payloads``: the keys, order and JSON types of events.md's Payloads, and golden bodies.

The tables below are written from events.md, not from the models: a key the spec lists that a
payload lacks, an extra key, a key out of order or a value of the wrong JSON type fails here.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from models.address import Address
from models.billing import CustomerSnapshot, LineItemData, PaymentStatus
from models.events import EventType
from models.organization import Organization
from models.payloads import invoice_model, invoice_payload, usage_alert_payload
from models.shapes import Currency, Customer, Money, Subscription
from tests.models import fixtures

GOLDEN = Path(__file__).parent / "golden"


class OneOf(frozenset[str]):
    """A string that is one of a fixed set of values."""


STR, BOOL, INT, NULL, LIST, OBJECT = str, bool, int, type(None), list, dict
NUMBER = "number"  # a JSON number: int or float, never a bool or a string
DATE_TIME = "date-time"  # ISO 8601 with an offset
DATE_TIME_Z = "date-time-z"  # ISO 8601 in UTC with a Z
DATE = "date"  # YYYY-MM-DD
DATE_TIME_RE = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{6})?[+-]\d\d:\d\d"

CURRENCY = {"code": STR, "name": STR, "symbol": STR}
PLAN = {"plan_name": STR, "plan_id": STR, "version_id": STR, "version": INT}
FILTERS = [{"property_name": STR, "value": STR}]
ADDRESS = {
    "city": (STR, NULL),
    "country": (STR, NULL),
    "line1": (STR, NULL),
    "line2": (STR, NULL),
    "postal_code": (STR, NULL),
    "state": (STR, NULL),
}
CUSTOMER_REF = {"customer_name": (STR, NULL), "email": (STR, NULL), "customer_id": STR}
SUBSCRIPTION = {
    "subscription_id": STR,
    "start_date": DATE_TIME,
    "end_date": DATE_TIME,
    "auto_renew": BOOL,
    "is_new": BOOL,
    "subscription_filters": FILTERS,
    "customer": CUSTOMER_REF,
    "billing_plan": PLAN,
    "fully_billed": BOOL,
    "addons": LIST,
    "metadata": OBJECT,
}
LINE_ITEM = {
    "name": STR,
    "start_date": DATE_TIME,
    "end_date": DATE_TIME,
    "quantity": (NUMBER, NULL),
    "billing_type": OneOf({"in_advance", "in_arrears", "intermediate", "one_time"}),
    "metadata": OBJECT,
    "plan": (PLAN, NULL),
    "subscription_filters": FILTERS,
    "base": NUMBER,
    "adjustments": LIST,
    "amount": NUMBER,
    "subtotal": NUMBER,
}
INVOICE = {
    "invoice_id": STR,
    "invoice_number": STR,
    "cost_due": NUMBER,
    "amount": NUMBER,
    "currency": CURRENCY,
    "issue_date": DATE_TIME,
    "payment_status": OneOf({"unpaid", "paid", "voided", "draft"}),
    "external_payment_obj_id": (STR, NULL),
    "external_payment_obj_type": (STR, NULL),
    "external_payment_obj_status": (STR, NULL),
    "line_items": [LINE_ITEM],
    "customer": {**CUSTOMER_REF, "address": (ADDRESS, NULL)},
    "due_date": (DATE_TIME, NULL),
    "start_date": DATE,
    "end_date": DATE,
    "seller": {
        "name": (STR, NULL),
        "address": (ADDRESS, NULL),
        "phone": (STR, NULL),
        "email": (STR, NULL),
    },
    "invoice_pdf": (STR, NULL),
}
CUSTOMER = {
    "customer_id": STR,
    "email": (STR, NULL),
    "customer_name": (STR, NULL),
    "invoices": [{k: v for k, v in INVOICE.items() if k not in ("line_items", "customer")}],
    "total_amount_due": NUMBER,
    "subscriptions": [SUBSCRIPTION],
    "integrations": {"stripe": NULL, "braintree": NULL},
    "default_currency": CURRENCY,
    "payment_provider": NULL,
    "payment_provider_id": NULL,
    "has_payment_method": BOOL,
    "address": (ADDRESS, NULL),
    "billing_address": (ADDRESS, NULL),
    "shipping_address": (ADDRESS, NULL),
    "tax_rate": (NUMBER, NULL),
    "timezone": STR,
    "tax_providers": [STR],
}
METRIC = {
    "metric_id": STR,
    "event_name": STR,
    "property_name": (STR, NULL),
    "aggregation_type": OneOf({"count", "sum", "max", "unique", "latest", "average"}),
    "granularity": STR,
    "event_type": NULL,
    "metric_type": OneOf({"counter"}),
    "metric_name": STR,
    "numeric_filters": LIST,
    "categorical_filters": LIST,
    "is_cost_metric": BOOL,
    "custom_sql": NULL,
    "proration": NULL,
}
USAGE_ALERT = {
    "subscription": {**SUBSCRIPTION, "plan_detail": PLAN},
    "usage_alert": {
        "usage_alert_id": STR,
        "metric": METRIC,
        "plan_version": PLAN,
        "threshold": NUMBER,
    },
    "usage": NUMBER,
    "time_triggered": DATE_TIME_Z,
}
SCHEMAS = {
    EventType.CUSTOMER_CREATED: CUSTOMER,
    EventType.SUBSCRIPTION_CREATED: SUBSCRIPTION,
    EventType.SUBSCRIPTION_RENEWED: SUBSCRIPTION,
    EventType.SUBSCRIPTION_CANCELLED: SUBSCRIPTION,
    EventType.INVOICE_CREATED: INVOICE,
    EventType.INVOICE_PAID: INVOICE,
    EventType.INVOICE_PAST_DUE: INVOICE,
    EventType.USAGE_ALERT_TRIGGERED: USAGE_ALERT,
}
#: What events.md's table of event types says about each payload.
EVENT_VALUES: dict[EventType, dict[str, Any]] = {
    EventType.CUSTOMER_CREATED: {"invoices": [], "subscriptions": []},
    EventType.SUBSCRIPTION_CREATED: {"is_new": True, "auto_renew": True},
    EventType.SUBSCRIPTION_RENEWED: {"is_new": False, "auto_renew": True},
    EventType.SUBSCRIPTION_CANCELLED: {"auto_renew": False, "fully_billed": True},
    EventType.INVOICE_CREATED: {"payment_status": "unpaid"},
    EventType.INVOICE_PAID: {"payment_status": "paid"},
    EventType.INVOICE_PAST_DUE: {"payment_status": "unpaid"},
    EventType.USAGE_ALERT_TRIGGERED: {"usage": 1234.5},
}


def _matches(value: Any, schema: Any) -> bool:
    """Whether ``value`` is of the JSON type ``schema`` names (objects are checked by keys)."""
    if isinstance(schema, tuple):
        return any(_matches(value, choice) for choice in schema)
    if isinstance(schema, OneOf):
        return value in schema
    if schema == NUMBER:
        return isinstance(value, int | float) and not isinstance(value, bool)
    if schema == DATE_TIME:
        return isinstance(value, str) and re.fullmatch(DATE_TIME_RE, value) is not None
    if schema == DATE_TIME_Z:
        pattern = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{6})?Z"
        return isinstance(value, str) and re.fullmatch(pattern, value) is not None
    if schema == DATE:
        return isinstance(value, str) and re.fullmatch(r"\d{4}-\d\d-\d\d", value) is not None
    if isinstance(schema, dict):
        return isinstance(value, dict)
    if isinstance(schema, list):
        return isinstance(value, list)
    return type(value) is schema


def check(value: Any, schema: Any, path: str = "payload") -> None:
    """Assert that ``value`` has the keys, order and JSON types of ``schema``, recursively."""
    assert _matches(value, schema), f"{path} = {value!r} does not match {schema!r}"
    if isinstance(value, dict) and isinstance(schema, dict | tuple):
        shape = schema if isinstance(schema, dict) else next(s for s in schema if type(s) is dict)
        assert list(value) == list(shape), f"{path}: keys {list(value)} != {list(shape)}"
        for key, item in value.items():
            check(item, shape[key], f"{path}.{key}")
    elif isinstance(value, list) and isinstance(schema, list):
        for index, item in enumerate(value):
            check(item, schema[0], f"{path}[{index}]")


@pytest.mark.parametrize("event_type", list(EventType), ids=str)
def test_payload_has_the_keys_and_types_of_the_spec(event_type: EventType) -> None:
    # Through JSON, as a receiver reads it.
    payload = json.loads(json.dumps(fixtures.payload(event_type)))

    check(payload, SCHEMAS[event_type])


@pytest.mark.parametrize("event_type", list(EventType), ids=str)
def test_payload_values_follow_the_event_table(event_type: EventType) -> None:
    payload = fixtures.payload(event_type)

    assert {key: payload[key] for key in EVENT_VALUES[event_type]} == EVENT_VALUES[event_type]


@pytest.mark.parametrize("event_type", list(EventType), ids=str)
def test_golden_body_byte_for_byte(event_type: EventType) -> None:
    golden = (GOLDEN / f"{event_type.value}.json").read_bytes()

    assert fixtures.body(event_type) == golden


def test_the_check_rejects_a_missing_an_extra_and_a_misplaced_key() -> None:
    payload = fixtures.payload(EventType.SUBSCRIPTION_CREATED)
    missing = {k: v for k, v in payload.items() if k != "metadata"}
    swapped = {"start_date": payload["start_date"]} | payload

    for wrong in (missing, {**payload, "invented": None}, swapped):
        with pytest.raises(AssertionError):
            check(wrong, SUBSCRIPTION)
    with pytest.raises(AssertionError):
        check({**payload, "is_new": "true"}, SUBSCRIPTION)


def test_customer_lists_invoices_without_lines_and_customer() -> None:
    invoice = invoice_model(fixtures.INVOICE, fixtures.invoice_state(PaymentStatus.UNPAID))
    period = fixtures.subscription(fixtures.PERIOD_0, is_new=True)
    subscription = Subscription.model_validate(period)
    customer = Customer(
        customer_id="acme-corp",
        email=None,
        customer_name=None,
        invoices=[invoice],
        total_amount_due=invoice.amount,
        subscriptions=[subscription],
        default_currency=Currency(code="USD", name="US Dollar", symbol="$"),
        timezone="America/New_York",
    )

    payload = json.loads(json.dumps(customer.model_dump(mode="json")))

    check(payload, CUSTOMER)
    assert payload["invoices"][0]["amount"] == payload["total_amount_due"] == 62.34


def test_invoice_date_times_are_in_the_customer_timezone_lines_in_the_organizations() -> None:
    paris = Organization(timezone="Europe/Paris")
    invoice = fixtures.INVOICE.model_copy(update={"organization": paris})

    payload = invoice_payload(invoice, fixtures.invoice_state(PaymentStatus.UNPAID))

    # The customer is in New York; the organization bills from Paris.
    assert payload["issue_date"] == "2024-02-29T00:00:00-05:00"
    assert payload["due_date"] == "2024-03-30T01:00:00-04:00"
    lines = payload["line_items"]
    assert (lines[0]["start_date"], lines[0]["end_date"]) == (
        "2024-01-31T06:00:00+01:00",
        "2024-02-29T05:59:59.999999+01:00",
    )
    assert lines[1]["end_date"] == "2024-03-31T05:59:59.999999+02:00"  # Paris is on summer time


def test_line_date_times_are_in_utc_by_default() -> None:
    payload = invoice_payload(fixtures.INVOICE, fixtures.invoice_state(PaymentStatus.UNPAID))

    ends = [line["end_date"] for line in payload["line_items"]]
    assert ends == ["2024-02-29T04:59:59.999999+00:00", "2024-03-31T03:59:59.999999+00:00"]


def test_invoice_dates_are_the_utc_days_of_the_first_start_and_the_last_end() -> None:
    # New York's period ends 2024-03-30 23:59:59 local, which is 2024-03-31 in UTC (as Lotus).
    lines = list(reversed(fixtures.INVOICE.line_items))  # not in date order
    invoice = fixtures.INVOICE.model_copy(update={"line_items": lines})

    payload = invoice_payload(invoice, fixtures.invoice_state(PaymentStatus.UNPAID))

    assert (payload["start_date"], payload["end_date"]) == ("2024-01-31", "2024-03-31")


def test_invoice_dates_do_not_follow_any_timezone_setting() -> None:
    # In Honolulu the lines run from Jan 30 to Mar 30: neither timezone moves the dates.
    honolulu = fixtures.CUSTOMER.model_copy(update={"timezone": "Pacific/Honolulu"})
    invoice = fixtures.INVOICE.model_copy(
        update={"customer": honolulu, "organization": Organization(timezone="Pacific/Honolulu")}
    )

    payload = invoice_payload(invoice, fixtures.invoice_state(PaymentStatus.UNPAID))

    assert (payload["start_date"], payload["end_date"]) == ("2024-01-31", "2024-03-31")


def test_invoice_without_lines_covers_its_issue_day_in_utc() -> None:
    invoice = fixtures.INVOICE.model_copy(update={"line_items": []})
    late = datetime(2024, 2, 29, 23, 30, tzinfo=UTC)  # Mar 1 in Paris, still Feb 29 in UTC
    state = fixtures.invoice_state(PaymentStatus.PAID, amount=Decimal(0), issue_date=late)

    payload = invoice_payload(invoice, state)

    assert (payload["start_date"], payload["end_date"]) == ("2024-02-29", "2024-02-29")
    assert (payload["amount"], payload["line_items"]) == (0.0, [])


@pytest.mark.parametrize(
    "event_type",
    [EventType.INVOICE_CREATED, EventType.INVOICE_PAID, EventType.INVOICE_PAST_DUE],
    ids=str,
)
def test_every_invoice_event_names_the_organization_as_seller(event_type: EventType) -> None:
    payload = fixtures.payload(event_type)

    assert payload["seller"] == {
        "name": "Example Billing Co.",
        "address": {
            "city": "New York",
            "country": "US",
            "line1": "100 Broadway",
            "line2": None,
            "postal_code": "10005",
            "state": "NY",
        },
        "phone": "+1 212 555 0100",
        "email": "invoices@billing.example",
    }


def test_an_organization_without_settings_sells_as_null_without_a_pdf() -> None:
    invoice = fixtures.INVOICE.model_copy(update={"organization": Organization()})

    payload = invoice_payload(invoice, fixtures.invoice_state(PaymentStatus.UNPAID))

    assert payload["seller"] == {"name": None, "address": None, "phone": None, "email": None}
    assert payload["invoice_pdf"] is None


def test_invoice_pdf_is_the_url_the_pdf_server_answers() -> None:
    payload = fixtures.payload(EventType.INVOICE_PAID)

    assert payload["invoice_pdf"] == (
        "https://billing.example.com/invoices/invoice_8e2a4c6b1d3f4a5b9c7e0f1a2b3c4d5e.pdf"
    )


def test_customer_created_echoes_the_addresses_given_at_creation() -> None:
    payload = fixtures.payload(EventType.CUSTOMER_CREATED)

    assert payload["address"] == {
        "city": "New York",
        "country": "US",
        "line1": "350 Fifth Avenue",
        "line2": "Suite 300",
        "postal_code": "10118",
        "state": "NY",
    }
    assert payload["billing_address"] is None
    assert payload["shipping_address"]["line1"] == "1 Dock Rd"


def test_an_invoice_shows_the_billing_address_else_the_address() -> None:
    billing = Address(line1="PO Box 7", city="Albany", country="US")
    with_billing = fixtures.CUSTOMER.model_copy(update={"billing_address": billing})
    without_any = fixtures.CUSTOMER.model_copy(update={"address": None})
    state = fixtures.invoice_state(PaymentStatus.UNPAID)

    def shown(customer: CustomerSnapshot) -> Any:
        invoice = fixtures.INVOICE.model_copy(update={"customer": customer})
        return invoice_payload(invoice, state)["customer"]["address"]

    assert shown(fixtures.CUSTOMER)["line1"] == "350 Fifth Avenue"
    assert shown(with_billing)["line1"] == "PO Box 7"
    assert shown(without_any) is None  # a shipping address is never the invoice's


@pytest.mark.parametrize(
    ("customer", "plan", "organization", "days"),
    [
        (3, 14, 60, 3),  # the customer's first
        (None, 14, 60, 14),  # then the plan version's
        (None, None, 60, 60),  # then the organization's
        (None, None, None, None),  # none: no due date
        (0, None, None, 0),  # 0 days is due at issue, not "none"
    ],
)
def test_net_terms_are_the_customers_else_the_plans_else_the_organizations(
    customer: int | None, plan: int | None, organization: int | None, days: int | None
) -> None:
    invoice = fixtures.INVOICE.model_copy(
        update={
            "customer": fixtures.CUSTOMER.model_copy(update={"net_terms_days": customer}),
            "plan": fixtures.PLAN.model_copy(update={"net_terms_days": plan}),
            "organization": Organization(net_terms_days=organization),
        }
    )

    due = invoice.due_date(fixtures.ISSUED_AT)

    assert due == (None if days is None else fixtures.ISSUED_AT + timedelta(days=days))


def test_an_invoice_without_a_due_date_sends_null() -> None:
    state = fixtures.invoice_state(PaymentStatus.UNPAID, due_date=None)

    payload = json.loads(json.dumps(invoice_payload(fixtures.INVOICE, state)))

    assert payload["due_date"] is None
    check(payload, INVOICE)


def test_invoice_state_of_another_invoice_is_refused() -> None:
    state = fixtures.invoice_state(PaymentStatus.UNPAID, invoice_id="invoice_" + "0" * 32)

    with pytest.raises(ValueError, match="given for invoice"):
        invoice_payload(fixtures.INVOICE, state)


def test_usage_alert_refuses_another_metric_and_a_malformed_subscription() -> None:
    subscription = fixtures.subscription(fixtures.PERIOD_0, is_new=True)
    arguments: dict[str, Any] = {
        "plan": fixtures.PLAN,
        "alert": fixtures.ALERT,
        "usage": fixtures.USAGE,
        "time_triggered": fixtures.TRIGGERED_AT,
    }
    other = fixtures.API_CALLS.model_copy(update={"metric_id": "metric_" + "1" * 32})

    with pytest.raises(ValueError, match="is on metric_"):
        usage_alert_payload(subscription=subscription, metric=other, **arguments)
    with pytest.raises(ValueError):
        usage_alert_payload(
            subscription={**subscription, "invented": 1}, metric=fixtures.API_CALLS, **arguments
        )


def test_invoice_is_rounded_once_and_its_lines_add_up() -> None:
    # Three lines of half a cent: the exact total 0.015 shows 0.02, shared 0.01 + 0.01 + 0.00
    # (rounding each line alone would show 0.01 three times: 0.03 against a total of 0.02).
    line = LineItemData(
        name="API calls",
        start=fixtures.PERIOD_0[0],
        end=fixtures.PERIOD_0[1],
        quantity=Decimal("0.5"),
        billing_type="in_arrears",
        base=Decimal("0.005"),
        metric_id=fixtures.API_CALLS.metric_id,
    )
    invoice = fixtures.INVOICE.model_copy(update={"line_items": [line] * 3})
    state = fixtures.invoice_state(PaymentStatus.UNPAID, amount=invoice.amount)

    body = json.dumps(invoice_payload(invoice, state), separators=(",", ":"))
    payload = json.loads(body)

    assert '"cost_due":0.02,"amount":0.02,' in body and '"quantity":0.5,' in body
    lines = payload["line_items"]
    assert [(x["base"], x["amount"], x["subtotal"]) for x in lines] == [
        (0.01, 0.01, 0.01),
        (0.01, 0.01, 0.01),
        (0.0, 0.0, 0.0),
    ]


def test_sub_cent_prices_keep_their_value_until_the_total() -> None:
    # 1,001 calls at 0.0004 each: 0.4004 exact. Rounded per line first (0.0004 -> 0.00) the
    # usage would vanish; rounded once it is 0.40.
    calls = fixtures.INVOICE.line_items[0].model_copy(
        update={"quantity": Decimal(1001), "base": Decimal(1001) * Decimal("0.0004")}
    )
    invoice = fixtures.INVOICE.model_copy(update={"line_items": [calls] * 2})
    state = fixtures.invoice_state(PaymentStatus.UNPAID, amount=invoice.amount)

    payload = invoice_payload(invoice, state)

    assert payload["amount"] == payload["cost_due"] == 0.8  # 0.8008 rounded once
    assert [line["amount"] for line in payload["line_items"]] == [0.4, 0.4]


def test_money_dumps_as_a_rounded_decimal_in_python_mode() -> None:
    money = Money(amount=Decimal("12.345"), currency="USD")

    dumped: object = money.model_dump()  # typed as a dict; a model serializer makes it a Decimal

    assert dumped == Decimal("12.35")
    assert money.model_dump_json() == "12.35"


@pytest.mark.parametrize(
    ("metric_id", "quantity", "shown"),
    [
        (None, Decimal(1), None),  # a flat fee billed once: null, as Lotus sent it
        (None, Decimal(2), 2.0),  # above 1: shown
        (None, None, None),
        (fixtures.API_CALLS.metric_id, Decimal(0), 0.0),  # usage: always its quantity
        (fixtures.API_CALLS.metric_id, Decimal(1), 1.0),
    ],
)
def test_flat_fee_quantity_is_null_unless_above_one(
    metric_id: str | None, quantity: Decimal | None, shown: float | None
) -> None:
    line = fixtures.INVOICE.line_items[1].model_copy(
        update={"metric_id": metric_id, "quantity": quantity}
    )
    invoice = fixtures.INVOICE.model_copy(update={"line_items": [line]})
    state = fixtures.invoice_state(PaymentStatus.UNPAID, amount=invoice.amount)

    [item] = invoice_payload(invoice, state)["line_items"]

    assert item["quantity"] == shown


def test_the_flat_fee_line_is_named_as_lotus_named_it() -> None:
    payload = fixtures.payload(EventType.INVOICE_CREATED)

    names = [(line["name"], line["billing_type"]) for line in payload["line_items"]]
    assert names == [("API calls", "in_arrears"), ("Pro Flat Fee", "in_advance")]


def test_amounts_and_quantities_are_json_numbers_not_strings() -> None:
    body = fixtures.body(EventType.INVOICE_CREATED).decode()

    for key, number in [("amount", "62.34"), ("base", "12.35"), ("quantity", "1234.5")]:
        assert f'"{key}":{number},' in body


def test_time_triggered_is_utc_with_a_z_whatever_the_customers_timezone() -> None:
    payload = fixtures.usage_alert()

    assert payload["time_triggered"] == "2024-02-10T14:02:11.532000Z"  # 09:02 in New York
    assert payload["subscription"]["start_date"] == "2024-01-31T00:00:00-05:00"


def test_time_triggered_on_a_whole_second_has_no_fraction() -> None:
    moment = datetime(2024, 2, 10, 9, 2, 11, tzinfo=fixtures.NEW_YORK)

    payload = usage_alert_payload(
        subscription=fixtures.subscription(fixtures.PERIOD_0, is_new=True),
        plan=fixtures.PLAN,
        alert=fixtures.ALERT,
        metric=fixtures.API_CALLS,
        usage=fixtures.USAGE,
        time_triggered=moment,
    )

    assert payload["time_triggered"] == "2024-02-10T14:02:11Z"


def test_the_fixture_periods_are_what_the_golden_files_show() -> None:
    # The golden bodies depend on these; a change in models.periods shows here first.
    assert fixtures.PERIOD_0[1].isoformat() == "2024-02-28T23:59:59.999999-05:00"
    assert fixtures.PERIOD_1[0].date() == date(2024, 2, 29)
    assert fixtures.PERIOD_1[2] == datetime(2024, 3, 31, 4, tzinfo=UTC)
