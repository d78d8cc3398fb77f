"""Billing objects as workflows see them: catalog snapshots, workflow inputs, state, requests.

A running subscription keeps the plan version it started with (a snapshot in its input) until it
renews onto the plan's newest version. Money is ``Decimal`` here; payloads round it to the
currency's minor unit only when serializing (``models.payloads``).
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, Field


class ChargeTiming(StrEnum):
    IN_ADVANCE = "in_advance"
    IN_ARREARS = "in_arrears"


class Aggregation(StrEnum):
    COUNT = "count"
    SUM = "sum"


class CustomerSnapshot(BaseModel):
    """A customer as stored: the caller's id, contact, timezone, currency, net terms."""

    customer_id: str
    name: str | None = None
    email: str | None = None
    timezone: str = "UTC"
    currency: str = "USD"
    net_terms_days: int | None = None  # overrides the plan version's net terms


class MetricSnapshot(BaseModel):
    metric_id: str  # metric_<hex>
    name: str
    event_name: str
    aggregation: Aggregation
    property_name: str | None = None  # summed property for `sum` metrics


class UsageComponent(BaseModel):
    metric: MetricSnapshot
    unit_price: Decimal
    free_units: Decimal = Decimal(0)


class FlatCharge(BaseModel):
    amount: Decimal
    timing: ChargeTiming


class AlertSnapshot(BaseModel):
    alert_id: str  # usg_alert_<hex>
    metric_id: str
    threshold: Decimal


class PlanVersionSnapshot(BaseModel):
    """One version of a plan, with the alerts defined on it."""

    plan_id: str
    plan_name: str
    version_id: str  # plan_version_<hex>
    version: int
    currency: str = "USD"
    period: str = "monthly"  # monthly | quarterly | yearly | ISO 8601 duration (PT30S)
    flat_charge: FlatCharge | None = None
    components: list[UsageComponent] = Field(default_factory=list)
    net_terms_days: int = 30
    alerts: list[AlertSnapshot] = Field(default_factory=list)

    def component(self, metric_id: str) -> UsageComponent | None:
        """The usage component billing ``metric_id``, if the version has one."""
        return next((c for c in self.components if c.metric.metric_id == metric_id), None)


class SubscriptionStatus(StrEnum):
    ACTIVE = "active"
    CANCELLED = "cancelled"  # cancelled at period end: still active until then
    ENDED = "ended"


class SubscriptionWorkflowInput(BaseModel):
    """One period of a subscription; renewal continues as new with the next period."""

    subscription_id: str  # sub_<hex>
    customer: CustomerSnapshot
    plan: PlanVersionSnapshot
    #: Start of the period that calendar periods are counted from (aware; customer's timezone).
    anchor: datetime
    #: Periods since ``anchor`` (resets when a renewal changes the billing period).
    period_index: int = 0
    #: Periods since the subscription started: 0 for the first, part of business keys.
    sequence: int = 0
    auto_renew: bool = True
    #: Idempotency keys of the previous period's usage, so a retry across a renewal is ignored.
    previous_keys: list[str] = Field(default_factory=list)
    #: The ended period's invoice, issued by the next run (see ``SubscriptionWorkflow.run``).
    closing_lines: list[LineItemData] = Field(default_factory=list)
    closing_plan: PlanVersionSnapshot | None = None


class LineItemData(BaseModel):
    """A line of an invoice, computed by the subscription workflow."""

    name: str
    start: datetime
    end: datetime  # last microsecond of the period covered
    quantity: Decimal | None
    billing_type: Literal["in_advance", "in_arrears", "intermediate", "one_time"]
    base: Decimal
    metric_id: str | None = None


class InvoiceWorkflowInput(BaseModel):
    """An invoice to issue: its lines are fixed, its number is assigned by the store."""

    invoice_id: str  # invoice_<hex>
    subscription_id: str
    customer: CustomerSnapshot
    plan: PlanVersionSnapshot
    line_items: list[LineItemData]

    @property
    def amount(self) -> Decimal:
        return sum((line.base for line in self.line_items), Decimal(0))

    @property
    def net_terms_days(self) -> int:
        if self.customer.net_terms_days is not None:
            return self.customer.net_terms_days
        return self.plan.net_terms_days


class PaymentStatus(StrEnum):
    UNPAID = "unpaid"
    PAID = "paid"
    VOIDED = "voided"


class InvoiceState(BaseModel):
    """What the invoice workflow reports (query) and the store records."""

    invoice_id: str
    invoice_number: str
    subscription_id: str
    customer_id: str
    amount: Decimal
    currency: str
    issue_date: datetime
    due_date: datetime
    payment_status: PaymentStatus
    past_due: bool = False
    external_payment_obj_id: str | None = None
    external_payment_obj_type: str | None = None
    external_payment_obj_status: str | None = None


class UsageInput(BaseModel):
    """A batch of usage of one metric; a repeated idempotency key is ignored."""

    metric_id: str
    quantity: Decimal
    idempotency_key: str


class UsageResult(BaseModel):
    accepted: bool  # False when the idempotency key was seen before
    usage: Decimal  # the metric's usage in the current period after this batch
    alerts_triggered: list[str] = Field(default_factory=list)


class CancelInput(BaseModel):
    at_period_end: bool = False


class PayInput(BaseModel):
    external_payment_obj_id: str | None = None
    external_payment_obj_type: str | None = None
    external_payment_obj_status: str | None = None


class SubscriptionState(BaseModel):
    """The query result of a subscription workflow."""

    subscription_id: str
    customer_id: str
    plan_id: str
    plan_version_id: str
    status: SubscriptionStatus
    auto_renew: bool
    sequence: int
    period_start: datetime
    period_end: datetime  # last microsecond of the period
    usage: dict[str, Decimal] = Field(default_factory=dict)
    alerts_fired: list[str] = Field(default_factory=list)
    invoice_ids: list[str] = Field(default_factory=list)


class CustomerWorkflowInput(BaseModel):
    customer: CustomerSnapshot


class IssueInvoiceInput(BaseModel):
    invoice: InvoiceWorkflowInput
    issue_date: datetime
    due_date: datetime


class PlanRef(BaseModel):
    plan_id: str


SubscriptionWorkflowInput.model_rebuild()
