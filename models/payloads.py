"""The builders of the payloads receivers get (events.md, Payloads), which workflows call.

Each builds the payload's model (``models.shapes``) from workflow state: catalog snapshots, an
invoice's state, a period's bounds. Date-times are written in the customer's timezone, but for
invoice lines' (the organization's timezone, as Lotus); an invoice's ``start_date`` and
``end_date`` are UTC calendar days (docs/payloads.md, Dates). The
builders return JSON-ready dicts (``model_dump(mode="json")``) for ``envelope_body``; the
``*_model`` ones return the model, for a caller that adds to it (``models.samples``).
Pure and deterministic: safe inside Temporal's workflow sandbox.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from models.billing import (
    AlertSnapshot,
    CustomerSnapshot,
    InvoiceState,
    InvoiceWorkflowInput,
    LineItemData,
    MetricSnapshot,
    PlanVersionSnapshot,
)
from models.delivery import Event, SearchKeys
from models.events import EventType
from models.money import currency_object, split_total
from models.organization import Organization
from models.periods import in_timezone
from models.shapes import (
    Currency,
    Customer,
    CustomerRef,
    Invoice,
    InvoiceCustomer,
    LineItem,
    Metric,
    Money,
    PlanDetail,
    Seller,
    Subscription,
    SubscriptionWithPlan,
    UsageAlert,
    UsageAlertPayload,
)


def _plan_detail(plan: PlanVersionSnapshot) -> PlanDetail:
    return PlanDetail.model_validate(plan, from_attributes=True)


def _customer_ref(customer: CustomerSnapshot) -> CustomerRef:
    return CustomerRef(
        customer_name=customer.name, email=customer.email, customer_id=customer.customer_id
    )


def customer_model(customer: CustomerSnapshot) -> Customer:
    """The Customer of ``customer`` as it is created: no invoices or subscriptions yet."""
    return Customer(
        customer_id=customer.customer_id,
        email=customer.email,
        customer_name=customer.name,
        total_amount_due=Money(amount=Decimal(0), currency=customer.currency),
        default_currency=Currency(**currency_object(customer.currency)),
        address=customer.address,
        billing_address=customer.billing_address,
        shipping_address=customer.shipping_address,
        timezone=customer.timezone,
    )


def customer_payload(customer: CustomerSnapshot) -> dict[str, Any]:
    """The Customer payload of ``customer`` as it is created (``customer_model``)."""
    return customer_model(customer).model_dump(mode="json")


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
    """The Subscription payload of one period of a subscription.

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
    ).model_dump(mode="json")


def _line_item(
    line: LineItemData, share: Decimal, plan: PlanDetail, currency: str, timezone: str
) -> LineItem:
    base = Money(amount=share, currency=currency)  # the line's share of the rounded total
    quantity = line.quantity
    if line.metric_id is None and quantity is not None and quantity <= 1:
        quantity = None  # a flat fee billed once: Lotus sent a quantity only above 1
    return LineItem(
        name=line.name,
        start_date=in_timezone(line.start, timezone),
        end_date=in_timezone(line.end, timezone),
        quantity=quantity,
        billing_type=line.billing_type,
        plan=plan,
        base=base,
        amount=base,  # no adjustments: the amount is the base
        subtotal=base,
    )


def _seller(organization: Organization) -> Seller:
    return Seller.model_validate(organization, from_attributes=True)


def _covered_days(invoice: InvoiceWorkflowInput, issue_date: datetime) -> tuple[date, date]:
    """The UTC calendar days of the earliest line start and the latest line end, as Lotus."""
    if not invoice.line_items:
        # events.md requires both dates; an invoice with no lines covers its issue day.
        day = issue_date.astimezone(UTC).date()
        return day, day
    first = min(line.start.astimezone(UTC) for line in invoice.line_items)
    last = max(line.end.astimezone(UTC) for line in invoice.line_items)
    return first.date(), last.date()


def invoice_model(invoice: InvoiceWorkflowInput, state: InvoiceState) -> Invoice:
    """The Invoice of ``invoice`` in ``state`` (its number, dates, payment status).

    Raises:
        ValueError: ``state`` is the state of another invoice.
    """
    if state.invoice_id != invoice.invoice_id:
        raise ValueError(f"state of {state.invoice_id} given for invoice {invoice.invoice_id}")
    timezone, currency = invoice.customer.timezone, state.currency
    plan = _plan_detail(invoice.plan)
    # Rounded once: the lines' exact amounts add up to a total rounded to the minor unit, which
    # the lines share so that they add up to it exactly (models.money.split_total).
    lines = invoice.line_items
    total, shares = split_total([line.base for line in lines], currency)
    amount = Money(amount=total if lines else state.amount, currency=currency)
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
        line_items=[
            _line_item(line, share, plan, currency, invoice.organization.timezone)
            for line, share in zip(lines, shares, strict=True)
        ],
        customer=InvoiceCustomer(
            **_customer_ref(invoice.customer).model_dump(),
            # As Lotus: the billing address, else the customer's address.
            address=invoice.customer.billing_address or invoice.customer.address,
        ),
        due_date=None if state.due_date is None else in_timezone(state.due_date, timezone),
        seller=_seller(invoice.organization),
        invoice_pdf=invoice.organization.pdf_url(invoice.invoice_id),
        start_date=start_date,
        end_date=end_date,
    )


def invoice_payload(invoice: InvoiceWorkflowInput, state: InvoiceState) -> dict[str, Any]:
    """The Invoice payload of ``invoice`` in ``state``; errors are those of ``invoice_model``."""
    return invoice_model(invoice, state).model_dump(mode="json")


def invoice_event(
    event_type: EventType, invoice: InvoiceWorkflowInput, state: InvoiceState, at: datetime
) -> Event:
    """An invoice's event (created, past due, paid) in ``state``, keyed by the invoice id."""
    search = SearchKeys(
        customer_id=invoice.customer.customer_id,
        subscription_id=invoice.subscription_id,
        invoice_id=invoice.invoice_id,
    )
    payload = invoice_payload(invoice, state)
    return Event.for_event(event_type, invoice.invoice_id, payload, at, search)


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
) -> dict[str, Any]:
    """The UsageAlertPayload of ``alert`` crossing its threshold.

    Args:
        subscription: the subscription's payload for the current period (``subscription_payload``).
        plan: the plan version the alert is defined on.
        alert: the alert that fired.
        metric: the alert's metric.
        usage: the measured usage that crossed the threshold.
        time_triggered: when the crossing was detected (aware; written in UTC).

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
        time_triggered=time_triggered,
    ).model_dump(mode="json")
