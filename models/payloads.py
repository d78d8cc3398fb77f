"""The payloads receivers get (events.md, Payloads) and the builders that workflows call.

Field names and their order are those of events.md, which follows Lotus's serialized shapes, so
a receiver written for Lotus keeps working. Every field is present: what billhook does not
support is ``null``, ``[]`` or ``{}``, never invented. Money stays ``Decimal`` in the models and
is rounded to the currency's minor unit only when serialized, as a JSON number; quantities are
JSON numbers too. Date-times are ISO 8601 with the offset of the customer's timezone.

The builders return JSON-ready dicts (``model_dump(mode="json")``) for ``envelope_body``.
Pure and deterministic: safe inside Temporal's workflow sandbox.
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

from models.billing import (
    AlertSnapshot,
    CustomerSnapshot,
    InvoiceState,
    InvoiceWorkflowInput,
    LineItemData,
    MetricSnapshot,
    PlanVersionSnapshot,
)
from models.money import currency_object, decimal_number, round_money, to_number
from models.periods import in_timezone


def _iso(moment: datetime) -> str:
    # datetime.isoformat(), not pydantic's format, which writes UTC as "Z" (events.md: +00:00).
    return moment.isoformat()


#: An aware date-time, written as ``datetime.isoformat()``: ``2024-02-29T00:00:00-05:00``.
DateTime = Annotated[AwareDatetime, PlainSerializer(_iso, return_type=str, when_used="json")]
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


class Address(_Payload):
    """A postal address; billhook stores none, so addresses are ``null``."""

    city: str | None = None
    country: str | None = None
    line1: str | None = None
    line2: str | None = None
    postal_code: str | None = None
    state: str | None = None


class CustomerRef(_Payload):
    """The customer as a Subscription names it."""

    customer_name: str | None
    email: str | None
    customer_id: str


class InvoiceCustomer(CustomerRef):
    """The customer as an Invoice names it, with its address."""

    address: Address | None = None


class Seller(_Payload):
    """Who issues invoices; not configurable in billhook, so every field is ``null``."""

    name: str | None = None
    address: Address | None = None
    phone: str | None = None
    email: str | None = None


class Integrations(_Payload):
    """Payment integrations of a customer; billhook has none."""

    stripe: None = None
    braintree: None = None


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
    invoice_pdf: None = None


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
    time_triggered: DateTime  # when the crossing was detected


def _plan_detail(plan: PlanVersionSnapshot) -> PlanDetail:
    return PlanDetail(
        plan_name=plan.plan_name,
        plan_id=plan.plan_id,
        version_id=plan.version_id,
        version=plan.version,
    )


def _customer_ref(customer: CustomerSnapshot) -> CustomerRef:
    return CustomerRef(
        customer_name=customer.name, email=customer.email, customer_id=customer.customer_id
    )


def customer_payload(customer: CustomerSnapshot) -> dict[str, Any]:
    """The Customer payload of ``customer`` as it is created: no invoices or subscriptions yet."""
    return Customer(
        customer_id=customer.customer_id,
        email=customer.email,
        customer_name=customer.name,
        total_amount_due=Money(amount=Decimal(0), currency=customer.currency),
        default_currency=Currency(**currency_object(customer.currency)),
        timezone=customer.timezone,
    ).model_dump(mode="json")


def subscription_model(
    *,
    subscription_id: str,
    customer: CustomerSnapshot,
    plan: PlanVersionSnapshot,
    start: datetime,
    end: datetime,
    auto_renew: bool,
    is_new: bool,
    fully_billed: bool = False,
) -> Subscription:
    """The Subscription of one period of a subscription.

    Args:
        subscription_id: ``sub_<hex>``.
        customer: the subscriber; its timezone is the one date-times are written in.
        plan: the plan version of this period.
        start: the period's start (aware).
        end: the period's end, its last microsecond (aware).
        auto_renew: False once cancelled.
        is_new: True for the first period only (``subscription.created``).
        fully_billed: True once every charge of the subscription is invoiced.
    """
    return Subscription(
        subscription_id=subscription_id,
        start_date=in_timezone(start, customer.timezone),
        end_date=in_timezone(end, customer.timezone),
        auto_renew=auto_renew,
        is_new=is_new,
        customer=_customer_ref(customer),
        billing_plan=_plan_detail(plan),
        fully_billed=fully_billed,
    )


def subscription_payload(
    *,
    subscription_id: str,
    customer: CustomerSnapshot,
    plan: PlanVersionSnapshot,
    start: datetime,
    end: datetime,
    auto_renew: bool,
    is_new: bool,
    fully_billed: bool = False,
) -> dict[str, Any]:
    """The Subscription payload of one period; arguments are those of ``subscription_model``."""
    return subscription_model(
        subscription_id=subscription_id,
        customer=customer,
        plan=plan,
        start=start,
        end=end,
        auto_renew=auto_renew,
        is_new=is_new,
        fully_billed=fully_billed,
    ).model_dump(mode="json")


def _line_item(line: LineItemData, plan: PlanDetail, currency: str, timezone: str) -> LineItem:
    base = Money(amount=line.base, currency=currency)
    return LineItem(
        name=line.name,
        start_date=in_timezone(line.start, timezone),
        end_date=in_timezone(line.end, timezone),
        quantity=line.quantity,
        billing_type=line.billing_type,
        plan=plan,
        base=base,
        amount=base,  # no adjustments: the amount is the base
        subtotal=base,
    )


def _covered_days(invoice: InvoiceWorkflowInput, issue_date: datetime) -> tuple[date, date]:
    """The first and last day the invoice's lines cover, in the customer's timezone."""
    timezone = invoice.customer.timezone
    if not invoice.line_items:
        # events.md requires both dates; an invoice with no lines covers its issue day.
        day = in_timezone(issue_date, timezone).date()
        return day, day
    # Compared in UTC: equal tzinfos compare wall clocks, which is wrong in a DST fold.
    first = min((line.start for line in invoice.line_items), key=lambda m: m.astimezone(UTC))
    last = max((line.end for line in invoice.line_items), key=lambda m: m.astimezone(UTC))
    return in_timezone(first, timezone).date(), in_timezone(last, timezone).date()


def invoice_model(invoice: InvoiceWorkflowInput, state: InvoiceState) -> Invoice:
    """The Invoice of ``invoice`` in ``state`` (its number, dates, payment status).

    Raises:
        ValueError: ``state`` is the state of another invoice.
    """
    if state.invoice_id != invoice.invoice_id:
        raise ValueError(f"state of {state.invoice_id} given for invoice {invoice.invoice_id}")
    timezone, currency = invoice.customer.timezone, state.currency
    plan = _plan_detail(invoice.plan)
    amount = Money(amount=state.amount, currency=currency)
    start_date, end_date = _covered_days(invoice, state.issue_date)
    return Invoice(
        invoice_id=invoice.invoice_id,
        invoice_number=state.invoice_number,
        cost_due=amount,
        amount=amount,
        currency=Currency(**currency_object(currency)),
        issue_date=in_timezone(state.issue_date, timezone),
        payment_status=state.payment_status.value,
        external_payment_obj_id=state.external_payment_obj_id,
        external_payment_obj_type=state.external_payment_obj_type,
        external_payment_obj_status=state.external_payment_obj_status,
        line_items=[_line_item(line, plan, currency, timezone) for line in invoice.line_items],
        customer=InvoiceCustomer(**_customer_ref(invoice.customer).model_dump()),
        due_date=in_timezone(state.due_date, timezone),
        start_date=start_date,
        end_date=end_date,
    )


def invoice_payload(invoice: InvoiceWorkflowInput, state: InvoiceState) -> dict[str, Any]:
    """The Invoice payload of ``invoice`` in ``state``; errors are those of ``invoice_model``."""
    return invoice_model(invoice, state).model_dump(mode="json")


def _metric(metric: MetricSnapshot) -> Metric:
    return Metric(
        metric_id=metric.metric_id,
        event_name=metric.event_name,
        property_name=metric.property_name,
        aggregation_type=metric.aggregation.value,
        metric_name=metric.name,
    )


def usage_alert_payload(
    *,
    subscription: dict[str, Any],
    plan: PlanVersionSnapshot,
    alert: AlertSnapshot,
    metric: MetricSnapshot,
    usage: Decimal,
    time_triggered: datetime,
    customer: CustomerSnapshot,
) -> dict[str, Any]:
    """The UsageAlertPayload of ``alert`` crossing its threshold.

    Args:
        subscription: the subscription's payload for the current period (``subscription_payload``).
        plan: the plan version the alert is defined on.
        alert: the alert that fired.
        metric: the alert's metric.
        usage: the measured usage that crossed the threshold.
        time_triggered: when the crossing was detected (aware).
        customer: the subscriber; its timezone is the one ``time_triggered`` is written in.

    Raises:
        ValueError: ``metric`` is not the alert's metric, or ``subscription`` is not a
            Subscription payload.
    """
    if alert.metric_id != metric.metric_id:
        raise ValueError(f"alert {alert.alert_id} is on {alert.metric_id}, not {metric.metric_id}")
    plan_detail = _plan_detail(plan)
    # Validated again, so a payload of another shape fails here rather than at a receiver.
    with_plan = SubscriptionWithPlan.model_validate({**subscription, "plan_detail": plan_detail})
    return UsageAlertPayload(
        subscription=with_plan,
        usage_alert=UsageAlert(
            usage_alert_id=alert.alert_id,
            metric=_metric(metric),
            plan_version=plan_detail,
            threshold=alert.threshold,
        ),
        usage=usage,
        time_triggered=in_timezone(time_triggered, customer.timezone),
    ).model_dump(mode="json")
