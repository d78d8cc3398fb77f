"""Billing objects as workflows see them: catalog snapshots, workflow inputs, state, requests.

A running subscription keeps the plan version it started with (a snapshot in its input) until it
renews onto the plan's newest version. Money is ``Decimal`` here; payloads round it to the
currency's minor unit only when serializing (``models.payloads``).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Literal, Self

from pydantic import BaseModel, Field

from models.address import Address
from models.delivery import Event
from models.organization import Organization
from models.periods import period_bounds


class Aggregation(StrEnum):
    """How a metric's events add up to usage."""

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
    address: Address | None = None
    billing_address: Address | None = None  # the address invoices show, when given
    shipping_address: Address | None = None


class MetricSnapshot(BaseModel):
    """A metric as stored: which events it counts, and how."""

    metric_id: str  # metric_<hex>
    name: str
    event_name: str
    aggregation: Aggregation
    property_name: str | None = None  # summed property for `sum` metrics


class UsageComponent(BaseModel):
    """A metric a plan version bills: its unit price and the units free each period."""

    metric: MetricSnapshot
    unit_price: Decimal
    free_units: Decimal = Decimal(0)


class ChargeTiming(StrEnum):
    """When a flat charge is billed: at the start of its period or at its end."""

    IN_ADVANCE = "in_advance"
    IN_ARREARS = "in_arrears"


class FlatCharge(BaseModel):
    """A plan version's flat fee per period, in advance or in arrears."""

    amount: Decimal
    timing: ChargeTiming


class AlertSnapshot(BaseModel):
    """A usage alert: fires when a metric's usage in a period reaches ``threshold``."""

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
    net_terms_days: int | None = None  # None: the organization's, else none (no due date)
    alerts: list[AlertSnapshot] = Field(default_factory=list)

    def component(self, metric_id: str) -> UsageComponent | None:
        """The usage component billing ``metric_id``, if the version has one."""
        return next((c for c in self.components if c.metric.metric_id == metric_id), None)


class SubscriptionStatus(StrEnum):
    """A subscription's status, as the store records it."""

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
    #: The ended period's invoice, issued by the next run: only runs that continued as new
    #: before ``workflows.versions.CLOSE_ISSUES_INVOICE`` carry one (``SubscriptionWorkflow``).
    closing_lines: list[LineItemData] = Field(default_factory=list)
    closing_plan: PlanVersionSnapshot | None = None
    #: The run that closed the previous period already recorded this one and announced it
    #: (``subscription.renewed``), in the step that billed the previous period (billhook 0.4):
    #: this run only sleeps until its period ends.
    opened: bool = False


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
    """An invoice to issue: its lines are fixed, its number is assigned by the store.

    The input of ``workflows.invoice.InvoiceWorkflow``, which follows the invoice until it is paid
    or voided.
    """

    invoice_id: str  # invoice_<hex>
    subscription_id: str
    customer: CustomerSnapshot
    plan: PlanVersionSnapshot
    line_items: list[LineItemData]
    #: The invoice as stored, when it was issued and announced before its workflow started
    #: (billhook 0.4: by the subscription step that billed it, ``LifecycleStep``); None when the
    #: workflow issues it itself (invoices started before 0.4, or directly).
    issued: InvoiceState | None = None
    #: Who issued it, as of its issue (set by the step that issues it; the default before).
    organization: Organization = Field(default_factory=Organization)

    @property
    def amount(self) -> Decimal:
        return sum((line.base for line in self.line_items), Decimal(0))

    @property
    def net_terms_days(self) -> int | None:
        """The customer's net terms, else the plan's, else the organization's, else none."""
        for days in (self.customer, self.plan, self.organization):
            if days.net_terms_days is not None:
                return days.net_terms_days
        return None

    def due_date(self, issued: datetime) -> datetime | None:
        """When the invoice is due if issued at ``issued``: None without net terms (as Lotus)."""
        days = self.net_terms_days
        return None if days is None else issued + timedelta(days=days)


class PaymentStatus(StrEnum):
    """An invoice's payment status."""

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
    due_date: datetime | None  # None: no net terms, never past due
    payment_status: PaymentStatus
    past_due: bool = False
    external_payment_obj_id: str | None = None
    external_payment_obj_type: str | None = None
    external_payment_obj_status: str | None = None


class PayInput(BaseModel):
    """A payment of an invoice, with the payment provider's references."""

    external_payment_obj_id: str | None = None
    external_payment_obj_type: str | None = None
    external_payment_obj_status: str | None = None


class CancelInput(BaseModel):
    """A cancellation: with immediate effect, or at the end of the current period."""

    at_period_end: bool = False


class UsageInput(BaseModel):
    """A batch of usage of one metric; a repeated idempotency key is ignored."""

    metric_id: str
    quantity: Decimal
    idempotency_key: str


class UsageResult(BaseModel):
    """The answer to a batch of usage: counted or not, the usage since, alerts fired."""

    accepted: bool  # False when the idempotency key was seen before
    usage: Decimal  # the metric's usage in the current period after this batch
    alerts_triggered: list[str] = Field(default_factory=list)


class SubscriptionState(BaseModel):
    """A subscription's record: what the store keeps, callers read and its workflow returns.

    The workflow's ``state`` query answers the whole ``SubscriptionWorkflowState``, of which
    these are the first fields.
    """

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


class SubscriptionWorkflowState(SubscriptionState):
    """A subscription workflow's whole state, as its ``state`` query returns it.

    The ``SubscriptionState`` fields are the record that the store keeps and callers read
    (``record``); the rest is what the run bills its period and renews with. Built from the
    run's input (``opening``) and turned into the next period's input (``renewal``) here
    only, so no field is copied by hand anywhere else.
    """

    customer: CustomerSnapshot
    plan: PlanVersionSnapshot
    #: The calendar: periods are counted from ``anchor`` (see ``SubscriptionWorkflowInput``).
    anchor: datetime
    period_index: int = 0
    next_start: datetime  # the first microsecond of the next period
    #: Idempotency keys of this period's usage, and of the previous period's.
    keys: set[str] = Field(default_factory=set)
    previous_keys: set[str] = Field(default_factory=set)
    cancelled_now: bool = False  # cancelled with immediate effect: the run ends as it wakes
    closing: bool = False  # the period ended: its invoice is being computed
    recorded: bool = False  # the store has this run's record

    @classmethod
    def opening(cls, input: SubscriptionWorkflowInput) -> Self:
        """The state of the period ``input`` starts, in the customer's timezone."""
        # The anchor came through JSON with a fixed offset: periods follow the customer's zone.
        start, end, next_start = period_bounds(
            input.anchor, input.plan.period, input.period_index, timezone=input.customer.timezone
        )
        return cls(
            subscription_id=input.subscription_id,
            customer_id=input.customer.customer_id,
            plan_id=input.plan.plan_id,
            plan_version_id=input.plan.version_id,
            status=SubscriptionStatus.ACTIVE,
            auto_renew=input.auto_renew,
            sequence=input.sequence,
            period_start=start,
            period_end=end,
            customer=input.customer,
            plan=input.plan,
            anchor=input.anchor,
            period_index=input.period_index,
            next_start=next_start,
            previous_keys=set(input.previous_keys),
        )

    def record(self) -> SubscriptionState:
        """The fields the store records and the workflow's result carries."""
        return SubscriptionState.model_validate(
            {name: getattr(self, name) for name in SubscriptionState.model_fields}
        )

    def seen(self, idempotency_key: str) -> bool:
        """Whether usage under this key was counted, in this period or the previous one."""
        return idempotency_key in self.keys or idempotency_key in self.previous_keys

    def calendar_of(self, plan: PlanVersionSnapshot) -> tuple[datetime, int]:
        """The anchor and period index of the next period, when it runs on ``plan``."""
        # A new billing period length restarts the calendar from the next period's start.
        if plan.period == self.plan.period:
            return self.anchor, self.period_index + 1
        return self.next_start, 0

    def renewal(
        self,
        plan: PlanVersionSnapshot,
        closing_lines: list[LineItemData] | None = None,
        *,
        opened: bool = False,
    ) -> SubscriptionWorkflowInput:
        """The input of the next period's run, on ``plan``.

        Args:
            plan: the plan version the next period runs on.
            closing_lines: the ended period's invoice for the next run to issue; only the
                legacy path (before ``CLOSE_ISSUES_INVOICE``) passes them.
            opened: this run recorded and announced the next period itself (billhook 0.4).
        """
        anchor, index = self.calendar_of(plan)
        return SubscriptionWorkflowInput(
            subscription_id=self.subscription_id,
            customer=self.customer,
            plan=plan,
            anchor=anchor,
            period_index=index,
            sequence=self.sequence + 1,
            auto_renew=self.auto_renew,
            previous_keys=sorted(self.keys),
            closing_lines=closing_lines or [],
            closing_plan=self.plan if closing_lines is not None else None,
            opened=opened,
        )


class CustomerWorkflowInput(BaseModel):
    """The customer a ``CustomerWorkflow`` stores and announces."""

    customer: CustomerSnapshot


class IssueInvoiceInput(BaseModel):
    """An invoice to store, with its issue and due dates."""

    invoice: InvoiceWorkflowInput
    issue_date: datetime
    due_date: datetime | None


class LifecycleStep(BaseModel):
    """One step of a subscription's lifecycle, made by one local activity (billhook 0.4).

    What the step's record, invoice and events are is decided by the workflow; the activity
    (``activities.lifecycle``) stores the record and the invoice in one transaction, starts the
    invoice's workflow and emits the events and the invoice's ``invoice.created`` together.
    Retried, it changes nothing twice: the invoice id is fixed, the record's period guards it,
    and events are identified by their message ids.
    """

    #: The workflow's time of the step: the invoice's issue date and the events' ``created_at``.
    at: datetime
    #: The subscription's record after the step (None: unchanged).
    record: SubscriptionState | None = None
    #: The invoice the step issues, if any.
    invoice: InvoiceWorkflowInput | None = None
    #: Events of the step other than the invoice's (created, renewed, cancelled).
    events: list[Event] = Field(default_factory=list)

    def issue(self) -> IssueInvoiceInput | None:
        """The invoice to store: issued at the step, due after its net terms."""
        if self.invoice is None:
            return None
        due = self.invoice.due_date(self.at)
        return IssueInvoiceInput(invoice=self.invoice, issue_date=self.at, due_date=due)


class PlanRef(BaseModel):
    """A plan, by id."""

    plan_id: str


SubscriptionWorkflowInput.model_rebuild()
SubscriptionWorkflowState.model_rebuild()
InvoiceWorkflowInput.model_rebuild()
LifecycleStep.model_rebuild()
