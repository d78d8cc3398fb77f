"""The shapes of the payloads receivers get (events.md, Payloads), as pydantic models.

Field names and their order are those of events.md, which follows Lotus's serialized shapes, so
a receiver written for Lotus keeps working. Every field is present: what billhook does not
support is ``null``, ``[]`` or ``{}``, never invented. Money stays ``Decimal`` in the models and
is rounded to the currency's minor unit only when serialized, as a JSON number; quantities are
JSON numbers too. Date-times are ISO 8601 with the offset of the customer's timezone (invoice
lines': the organization's); ``time_triggered`` is UTC with a ``Z``, as Lotus wrote it.

``models.payloads`` builds them from workflow state. Pure: safe inside Temporal's workflow
sandbox.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
    SerializationInfo,
    field_serializer,
    model_serializer,
)

from models.address import Address
from models.money import decimal_number, round_money, to_number


def _iso(moment: datetime) -> str:
    # datetime.isoformat(), not pydantic's format, which writes UTC as "Z" (events.md: +00:00).
    return moment.isoformat()


def _utc_z(moment: datetime) -> str:
    # As Django REST framework wrote Lotus's UTC date-times: isoformat with "Z" for +00:00.
    return moment.astimezone(UTC).isoformat().removesuffix("+00:00") + "Z"


#: An aware date-time, written as ``datetime.isoformat()``: ``2024-02-29T00:00:00-05:00``.
DateTime = Annotated[AwareDatetime, PlainSerializer(_iso, return_type=str, when_used="json")]
#: An aware date-time written in UTC with a ``Z``: ``2024-02-10T14:02:11.532000Z``.
UtcDateTime = Annotated[AwareDatetime, PlainSerializer(_utc_z, return_type=str, when_used="json")]
#: A quantity or threshold: a ``Decimal`` written as a JSON number, not rounded.
Number = Annotated[Decimal, PlainSerializer(decimal_number, return_type=float, when_used="json")]


class _Payload(BaseModel):
    # A misspelt or invented field is a bug in a contract with receivers: refuse it.
    model_config = ConfigDict(extra="forbid")


class Money(_Payload):
    """An amount in a currency: exact until serialized, then rounded to the minor unit."""

    model_config = ConfigDict(frozen=True)

    amount: Decimal
    currency: str

    @model_serializer
    def _serialize(self, info: SerializationInfo) -> float | Decimal:
        if info.mode_is_json():
            return to_number(self.amount, self.currency)
        return round_money(self.amount, self.currency)


class Currency(_Payload):
    """A currency as payloads show it (``currency``, ``default_currency``)."""

    code: str
    name: str
    symbol: str


class PlanDetail(_Payload):
    """A plan version as payloads name it (``billing_plan``, ``plan``, ``plan_detail``)."""

    plan_name: str
    plan_id: str
    version_id: str
    version: int


class SubscriptionFilter(_Payload):
    """A filter of a subscription's usage; billhook has none, so lists of them are empty."""

    property_name: str
    value: str


class CustomerRef(_Payload):
    """The customer as a Subscription names it."""

    customer_name: str | None
    email: str | None
    customer_id: str


class LineItem(_Payload):
    """A line of an Invoice (events.md, Invoice: LineItem)."""

    name: str
    start_date: DateTime
    end_date: DateTime
    quantity: Number | None
    billing_type: Literal["in_advance", "in_arrears", "intermediate", "one_time"]
    metadata: dict[str, Any] = Field(default_factory=dict)
    plan: PlanDetail | None
    subscription_filters: list[SubscriptionFilter] = Field(default_factory=list)
    base: Money
    adjustments: list[Any] = Field(default_factory=list)
    amount: Money
    subtotal: Money  # the same value as ``base``


class InvoiceCustomer(CustomerRef):
    """The customer as an Invoice names it, with its address."""

    address: Address | None = None


class Seller(_Payload):
    """Who issues invoices: the organization's settings (``models.organization``)."""

    name: str | None = None
    address: Address | None = None
    phone: str | None = None
    email: str | None = None


class Integrations(_Payload):
    """Payment integrations of a customer; billhook has none."""

    stripe: None = None
    braintree: None = None


class Invoice(_Payload):
    """The payload of ``invoice.created``, ``invoice.paid`` and ``invoice.past_due``."""

    invoice_id: str
    invoice_number: str
    cost_due: Money  # the same value as ``amount``
    amount: Money
    currency: Currency
    issue_date: DateTime
    payment_status: Literal["unpaid", "paid", "voided", "draft"]
    external_payment_obj_id: str | None = None
    external_payment_obj_type: str | None = None
    external_payment_obj_status: str | None = None
    line_items: list[LineItem]
    customer: InvoiceCustomer
    due_date: DateTime | None
    start_date: date
    end_date: date
    seller: Seller = Field(default_factory=Seller)
    invoice_pdf: str | None = None  # the PDF's URL (``billhook pdf-server``), when configured


class Subscription(_Payload):
    """The payload of ``subscription.created``, ``.renewed`` and ``.cancelled``: one period."""

    subscription_id: str
    start_date: DateTime
    end_date: DateTime  # the last microsecond of the period
    auto_renew: bool
    is_new: bool
    subscription_filters: list[SubscriptionFilter] = Field(default_factory=list)
    customer: CustomerRef
    billing_plan: PlanDetail
    fully_billed: bool = False
    addons: list[Any] = Field(default_factory=list)
    metadata: dict[str, Any] = Field(default_factory=dict)


class SubscriptionWithPlan(Subscription):
    """The subscription of a usage alert: a Subscription plus ``plan_detail``."""

    plan_detail: PlanDetail


class Customer(_Payload):
    """The payload of ``customer.created``."""

    customer_id: str
    email: str | None
    customer_name: str | None
    invoices: list[Invoice] = Field(default_factory=list)
    total_amount_due: Money  # the sum of unpaid invoices
    subscriptions: list[Subscription] = Field(default_factory=list)  # the active ones
    integrations: Integrations = Field(default_factory=Integrations)
    default_currency: Currency
    payment_provider: None = None
    payment_provider_id: None = None
    has_payment_method: bool = False
    address: Address | None = None
    billing_address: Address | None = None
    shipping_address: Address | None = None
    tax_rate: Number | None = None
    timezone: str  # IANA name
    tax_providers: list[str] = Field(default_factory=list)

    @field_serializer("invoices")
    def _invoices(self, invoices: list[Invoice], info: SerializationInfo) -> list[dict[str, Any]]:
        # events.md lists a customer's invoices without their line items and customer.
        exclude = {"line_items", "customer"}
        return [invoice.model_dump(mode=info.mode, exclude=exclude) for invoice in invoices]


class Metric(_Payload):
    """The metric of a usage alert, shaped as Lotus's counter metrics."""

    metric_id: str
    event_name: str
    property_name: str | None
    aggregation_type: Literal["count", "sum", "max", "unique", "latest", "average"]
    granularity: str = "total"  # counters are measured over the whole period
    event_type: None = None
    metric_type: Literal["counter"] = "counter"
    metric_name: str
    numeric_filters: list[Any] = Field(default_factory=list)
    categorical_filters: list[Any] = Field(default_factory=list)
    is_cost_metric: bool = False
    custom_sql: None = None
    proration: None = None


class UsageAlert(_Payload):
    """A usage alert: an absolute threshold on a metric of a plan version."""

    usage_alert_id: str
    metric: Metric
    plan_version: PlanDetail
    threshold: Number


class UsageAlertPayload(_Payload):
    """The payload of ``usage_alert.triggered``."""

    subscription: SubscriptionWithPlan
    usage_alert: UsageAlert
    usage: Number  # the measured usage that crossed the threshold
    time_triggered: UtcDateTime  # when the crossing was detected, in UTC as Lotus sent it
