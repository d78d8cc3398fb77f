"""``Catalog``: customers, metrics, plans, usage alerts, and records of subscriptions and invoices.

The catalog objects of lifecycle.md, stored and versioned, plus the records of subscriptions and
invoices that listings read (their workflows own the truth). Same conventions as
``store.store.Store``: blocking methods, one short transaction each, ``now`` passed in, detached
results (the snapshots of ``models.billing``), and refused input writes nothing. It shares the
store's database and migrations: ``Catalog(store.engine)`` after ``store.upgrade()``.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Sequence
from contextlib import AbstractContextManager
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import sqlalchemy as sa
from pydantic import BaseModel, Field, model_validator
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine
from sqlmodel import Session, SQLModel, col, select

from errors import Conflict, InvalidInput, NotFound, StoreNotReady
from models.billing import (
    Aggregation,
    AlertSnapshot,
    ChargeTiming,
    CustomerSnapshot,
    FlatCharge,
    InvoiceState,
    InvoiceWorkflowInput,
    LineItemData,
    MetricSnapshot,
    PaymentStatus,
    PlanVersionSnapshot,
    SubscriptionState,
    SubscriptionStatus,
    UsageComponent,
)
from store.engine import transaction
from store.tables import (
    MONEY_LIMIT,
    MONEY_QUANTUM,
    Customer,
    Invoice,
    InvoiceSequence,
    Metric,
    Plan,
    PlanComponent,
    PlanVersion,
    Subscription,
    UsageAlert,
)
from store.validation import check_name, check_text

METRIC_ID_PREFIX = "metric_"
PLAN_ID_PREFIX = "plan_"
PLAN_VERSION_ID_PREFIX = "plan_version_"
ALERT_ID_PREFIX = "usg_alert_"
CUSTOMER_ID_MAX_LENGTH = 100
#: RFC 5321's limit on a forward path, hence on an address anyone can mail.
EMAIL_MAX_LENGTH = 254
#: Ten years: longer terms are a typo, and due dates must stay within the calendar.
NET_TERMS_MAX_DAYS = 3650
#: The longest IANA names are about 30 characters; a longer one is no timezone.
MAX_TIMEZONE_LENGTH = 64
_CURRENCY = re.compile(r"[A-Z]{3}")

#: Columns of a subscription record that ``record_subscription`` sets on every call.
_SUBSCRIPTION_FIELDS = (
    "customer_id",
    "plan_id",
    "plan_version_id",
    "status",
    "auto_renew",
    "sequence",
    "period_start",
    "period_end",
)


class ComponentSpec(BaseModel):
    """A usage component to bill: a metric, its unit price, and the units included for free.

    Also accepted as a tuple ``(metric_id, unit_price)`` or ``(metric_id, unit_price,
    free_units)``.
    """

    metric_id: str
    unit_price: Decimal
    free_units: Decimal = Decimal(0)

    @model_validator(mode="before")
    @classmethod
    def _from_tuple(cls, value: Any) -> Any:
        if isinstance(value, tuple | list) and len(value) in (2, 3):
            return dict(zip(("metric_id", "unit_price", "free_units"), value, strict=False))
        return value


class PlanVersionSpec(BaseModel):
    """What a new plan version holds (lifecycle.md, Catalog objects); the catalog checks it."""

    currency: str = "USD"
    period: str = "monthly"  # monthly | quarterly | yearly | ISO 8601 duration (PT1M)
    flat_amount: Decimal | None = None  # no flat charge when None
    flat_timing: ChargeTiming = ChargeTiming.IN_ADVANCE
    components: list[ComponentSpec] = Field(default_factory=list)
    net_terms_days: int = 30


class _AlreadyIssued(Exception):
    """A concurrent call issued the invoice first: roll back, then return the stored one."""


class Catalog:
    """Catalog objects and billing records; see the module docstring."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    # Customers ---------------------------------------------------------------------------
    def create_customer(self, customer: CustomerSnapshot, now: datetime) -> CustomerSnapshot:
        """Store a new customer.

        Raises:
            InvalidInput: a bad id, timezone, currency, email or net terms; nothing was written.
            Conflict: a customer with this id exists already; nothing was written.
        """
        check_customer(customer)
        row = customer.model_dump(exclude={"customer_id"})
        row.update(id=customer.customer_id, created_at=now)
        with self._session() as session:
            if not _insert_ignore(session, Customer, row):
                raise Conflict(
                    f"customer {customer.customer_id} exists already; "
                    "choose another customer_id, or use the existing customer"
                )
        return customer.model_copy(deep=True)

    def get_customer(self, customer_id: str) -> CustomerSnapshot:
        """The customer ``customer_id``.

        Raises:
            NotFound: no such customer.
        """
        with self._session() as session:
            return _customer_snapshot(_customer(session, customer_id))

    def list_customers(self) -> list[CustomerSnapshot]:
        """Every customer, oldest first."""
        query = select(Customer).order_by(col(Customer.created_at), col(Customer.id))
        with self._session() as session:
            return [_customer_snapshot(row) for row in session.exec(query).all()]

    def customer_exists(self, customer_id: str) -> bool:
        """Whether a customer ``customer_id`` is stored."""
        with self._session() as session:
            return session.get(Customer, customer_id) is not None

    # Metrics -----------------------------------------------------------------------------
    def create_metric(
        self,
        name: str,
        event_name: str,
        aggregation: Aggregation,
        now: datetime,
        property_name: str | None = None,
    ) -> MetricSnapshot:
        """Create a metric: what usage of ``event_name`` events counts (or sums).

        Args:
            name: a label for people.
            event_name: the usage events it measures.
            aggregation: ``count`` or ``sum`` (the plain strings are accepted too).
            now: its creation time.
            property_name: the event property a ``sum`` adds up.

        Raises:
            InvalidInput: an empty name, event name or property name, or another aggregation;
                nothing was written.
        """
        metric = MetricSnapshot(
            metric_id=METRIC_ID_PREFIX + uuid.uuid4().hex,
            name=_required("metric name", name),
            event_name=_required("event name", event_name),
            aggregation=_aggregation(aggregation),
            property_name=None if property_name is None else _required("property", property_name),
        )
        row = metric.model_dump(exclude={"metric_id"})
        with self._session() as session:
            session.add(Metric(id=metric.metric_id, created_at=now, **row))
        return metric

    def get_metric(self, metric_id: str) -> MetricSnapshot:
        """The metric ``metric_id``.

        Raises:
            NotFound: no such metric.
        """
        with self._session() as session:
            metric = session.get(Metric, metric_id)
            if metric is None:
                raise NotFound(f"no metric {metric_id}; list them with: billhook metric list")
            return _metric_snapshot(metric)

    def list_metrics(self) -> list[MetricSnapshot]:
        """Every metric, oldest first."""
        query = select(Metric).order_by(col(Metric.created_at), col(Metric.id))
        with self._session() as session:
            return [_metric_snapshot(row) for row in session.exec(query).all()]

    # Plans and versions ------------------------------------------------------------------
    def create_plan(self, name: str, spec: PlanVersionSpec, now: datetime) -> PlanVersionSnapshot:
        """Create a plan and its version 1.

        Raises:
            InvalidInput: an empty name, or a bad spec (see ``new_plan_version``); nothing was
                written.
        """
        plan_id = PLAN_ID_PREFIX + uuid.uuid4().hex
        plan = Plan(id=plan_id, name=_required("plan name", name), created_at=now)
        _check_spec(spec)
        with self._session() as session:
            _check_metrics_exist(session, spec)
            session.add(plan)
            session.flush()  # before its version, which references it (see _add_version)
            version = _add_version(session, plan.id, 1, spec, now)
            return _snapshots(session, [version])[0]

    def new_plan_version(
        self, plan_id: str, spec: PlanVersionSpec, now: datetime
    ) -> PlanVersionSnapshot:
        """Add the next version to a plan; running subscriptions move to it when they renew.

        Raises:
            InvalidInput: a bad currency or period, a negative or over-precise amount, an unknown
                metric, a metric given twice, or negative net terms; nothing was written.
            NotFound: no such plan.
        """
        _check_spec(spec)
        with self._session() as session:
            # The plan's row lock serializes new versions of it, so numbers never collide.
            _plan(session, plan_id, lock=True)
            _check_metrics_exist(session, spec)
            number = _latest_number(session, plan_id) + 1
            version = _add_version(session, plan_id, number, spec, now)
            return _snapshots(session, [version])[0]

    def latest_version(self, plan_id: str) -> PlanVersionSnapshot:
        """The newest version of a plan.

        Raises:
            NotFound: no such plan.
        """
        query = (
            select(PlanVersion)
            .where(col(PlanVersion.plan_id) == plan_id)
            .order_by(col(PlanVersion.version).desc())
            .limit(1)
        )
        with self._session() as session:
            newest = session.exec(query).first()
            if newest is None:
                _plan(session, plan_id)  # raises NotFound: a stored plan has a version
            assert newest is not None
            return _snapshots(session, [newest])[0]

    def get_version(self, version_id: str) -> PlanVersionSnapshot:
        """The plan version ``version_id``, with its components and alerts.

        Raises:
            NotFound: no such plan version.
        """
        with self._session() as session:
            return _snapshots(session, [_version(session, version_id)])[0]

    def plan_versions(self, plan_id: str) -> list[PlanVersionSnapshot]:
        """Every version of a plan, oldest (version 1) first.

        Raises:
            NotFound: no such plan.
        """
        query = (
            select(PlanVersion)
            .where(col(PlanVersion.plan_id) == plan_id)
            .order_by(col(PlanVersion.version))
        )
        with self._session() as session:
            _plan(session, plan_id)
            return _snapshots(session, list(session.exec(query).all()))

    def list_plans(self) -> list[PlanVersionSnapshot]:
        """The latest version of every plan, oldest plan first."""
        newest = (
            select(PlanVersion.plan_id, sa.func.max(PlanVersion.version).label("version"))
            .group_by(col(PlanVersion.plan_id))
            .subquery()
        )
        query = (
            select(PlanVersion)
            .join(
                newest,
                sa.and_(
                    col(PlanVersion.plan_id) == newest.c.plan_id,
                    col(PlanVersion.version) == newest.c.version,
                ),
            )
            .join(Plan, col(Plan.id) == col(PlanVersion.plan_id))
            .order_by(col(Plan.created_at), col(Plan.id))
        )
        with self._session() as session:
            return _snapshots(session, list(session.exec(query).all()))

    # Usage alerts ------------------------------------------------------------------------
    def create_alert(
        self, metric_id: str, plan_version_id: str, threshold: Decimal, now: datetime
    ) -> AlertSnapshot:
        """Alert when a subscription's usage of a metric reaches ``threshold`` in a period.

        Raises:
            InvalidInput: ``threshold`` is not above 0, or the metric is not a usage component of
                the plan version; nothing was written.
            NotFound: no such plan version.
        """
        _check_decimal("alert threshold", threshold, positive=True)
        alert = UsageAlert(
            id=ALERT_ID_PREFIX + uuid.uuid4().hex,
            plan_version_id=plan_version_id,
            metric_id=metric_id,
            threshold=threshold,
            created_at=now,
        )
        with self._session() as session:
            _version(session, plan_version_id)
            if session.get(PlanComponent, (plan_version_id, metric_id)) is None:
                raise InvalidInput(_not_a_component(session, metric_id, plan_version_id))
            session.add(alert)
        return AlertSnapshot(alert_id=alert.id, metric_id=metric_id, threshold=threshold)

    def list_alerts(self, plan_version_id: str | None = None) -> list[AlertSnapshot]:
        """Usage alerts oldest first, of one plan version when given.

        Raises:
            NotFound: ``plan_version_id`` names no plan version.
        """
        query = select(UsageAlert).order_by(col(UsageAlert.created_at), col(UsageAlert.id))
        if plan_version_id is not None:
            query = query.where(col(UsageAlert.plan_version_id) == plan_version_id)
        with self._session() as session:
            if plan_version_id is not None:
                _version(session, plan_version_id)
            return [_alert_snapshot(row) for row in session.exec(query).all()]

    # Subscription records ----------------------------------------------------------------
    def record_subscription(self, state: SubscriptionState, now: datetime) -> None:
        """Insert or update the record of a subscription from its workflow's state.

        Records status, period bounds, plan version and auto-renew (usage stays in the workflow).
        A state of an earlier period than the record's (a late retry) is ignored.

        Raises:
            InvalidInput: a period bound without a timezone; nothing was written.
        """
        _check_aware("period start", state.period_start)
        _check_aware("period end", state.period_end)
        row = {name: getattr(state, name) for name in _SUBSCRIPTION_FIELDS}
        row.update(id=state.subscription_id, created_at=now, updated_at=now)
        with self._session() as session:
            insert = _insert(session, Subscription).values(row)
            changes = {
                name: insert.excluded[name] for name in (*_SUBSCRIPTION_FIELDS, "updated_at")
            }
            session.exec(
                insert.on_conflict_do_update(
                    index_elements=["id"],
                    set_=changes,
                    where=col(Subscription.sequence) <= insert.excluded.sequence,
                )
            )

    def get_subscription(self, subscription_id: str) -> SubscriptionState:
        """The record of subscription ``subscription_id``.

        Raises:
            NotFound: no such subscription.
        """
        with self._session() as session:
            row = session.get(Subscription, subscription_id)
            if row is None:
                raise NotFound(
                    f"no subscription {subscription_id}; list them with: billhook subscription list"
                )
            return _subscription_state(row)

    def list_subscriptions(
        self, customer_id: str | None = None, status: SubscriptionStatus | None = None
    ) -> list[SubscriptionState]:
        """Subscription records newest first, of one customer and/or in one status when given."""
        query = select(Subscription).order_by(
            col(Subscription.created_at).desc(), col(Subscription.id).desc()
        )
        if customer_id is not None:
            query = query.where(col(Subscription.customer_id) == customer_id)
        if status is not None:
            query = query.where(col(Subscription.status) == status)
        with self._session() as session:
            return [_subscription_state(row) for row in session.exec(query).all()]

    # Invoices ----------------------------------------------------------------------------
    def issue_invoice(
        self, invoice: InvoiceWorkflowInput, issue_date: datetime, due_date: datetime
    ) -> InvoiceState:
        """Store an invoice and give it the next number of its issue day, once.

        The number is ``YYMMDD-NNNNNN``: the issue date's UTC day and a sequence within it,
        starting at 1. An invoice of amount 0 is paid at once. The amount is stored rounded
        (half up) to 6 decimal places; the lines are stored whole. Calling again with the same
        ``invoice_id`` (an activity retry) writes nothing and returns the stored invoice.

        Raises:
            InvalidInput: a negative or too large amount, a date without a timezone, or a due
                date before the issue date; nothing was written.
        """
        row = _invoice_row(invoice, issue_date, due_date)
        if (stored := self._stored_invoice(invoice.invoice_id)) is not None:
            return stored
        try:
            with self._session() as session:
                row["invoice_number"] = _next_invoice_number(session, issue_date)
                if not _insert_ignore(session, Invoice, row):
                    # Rolling back returns the number just taken, so the day's sequence has no gap.
                    raise _AlreadyIssued
        except _AlreadyIssued:
            pass
        return self.get_invoice(invoice.invoice_id)

    def update_invoice(self, state: InvoiceState, now: datetime) -> None:
        """Record an invoice's payment status, past-due flag and external payment fields.

        Raises:
            NotFound: no such invoice.
        """
        changes = state.model_dump(
            include={
                "payment_status",
                "past_due",
                "external_payment_obj_id",
                "external_payment_obj_type",
                "external_payment_obj_status",
            }
        )
        with self._session() as session:
            result = session.exec(
                sa.update(Invoice)
                .where(col(Invoice.id) == state.invoice_id)
                .values(updated_at=now, **changes)
            )
            if result.rowcount == 0:
                raise _invoice_not_found(state.invoice_id)

    def get_invoice(self, invoice_id: str) -> InvoiceState:
        """The invoice ``invoice_id``.

        Raises:
            NotFound: no such invoice.
        """
        if (stored := self._stored_invoice(invoice_id)) is None:
            raise _invoice_not_found(invoice_id)
        return stored

    def invoice_lines(self, invoice_id: str) -> list[LineItemData]:
        """The line items of an invoice, as issued.

        Raises:
            NotFound: no such invoice.
        """
        with self._session() as session:
            row = session.get(Invoice, invoice_id)
            if row is None:
                raise _invoice_not_found(invoice_id)
            return [LineItemData.model_validate(line) for line in row.line_items]

    def list_invoices(
        self,
        customer_id: str | None = None,
        subscription_id: str | None = None,
        status: PaymentStatus | None = None,
    ) -> list[InvoiceState]:
        """Invoices newest first, of one customer, subscription and/or payment status when given."""
        query = select(Invoice).order_by(
            col(Invoice.issue_date).desc(), col(Invoice.invoice_number).desc()
        )
        if customer_id is not None:
            query = query.where(col(Invoice.customer_id) == customer_id)
        if subscription_id is not None:
            query = query.where(col(Invoice.subscription_id) == subscription_id)
        if status is not None:
            query = query.where(col(Invoice.payment_status) == status)
        with self._session() as session:
            return [_invoice_state(row) for row in session.exec(query).all()]

    def _stored_invoice(self, invoice_id: str) -> InvoiceState | None:
        with self._session() as session:
            row = session.get(Invoice, invoice_id)
            return None if row is None else _invoice_state(row)

    def _session(self) -> AbstractContextManager[Session]:
        """One transaction, committed on exit; its rows stay readable after it closed."""
        return transaction(self.engine)


# Checks made before anything is written ------------------------------------------------------
def _required(what: str, value: str) -> str:
    if not value.strip():
        raise InvalidInput(f"the {what} is empty; give a {what}")
    return check_text(what, value)


def check_customer(customer: CustomerSnapshot) -> None:
    """Refuse a customer the catalog would not store (id, timezone, currency, email, terms).

    Public so the command line can refuse before it takes the ``customer-<id>`` workflow id,
    which can never be used again.

    Raises:
        InvalidInput: what is wrong, in one line.
    """
    customer_id = customer.customer_id
    if not customer_id.strip() or len(customer_id) > CUSTOMER_ID_MAX_LENGTH:
        raise InvalidInput(
            f"customer_id {customer_id!r} must be 1 to {CUSTOMER_ID_MAX_LENGTH} characters, "
            "not all blank; give another one"
        )
    check_text("customer_id", customer_id, CUSTOMER_ID_MAX_LENGTH)
    if customer.name is not None:
        check_name("customer name", customer.name)
    _check_timezone(customer.timezone)
    _check_currency(customer.currency)
    if customer.email is not None:
        _check_email(customer.email)
    _check_net_terms(customer.net_terms_days)


def _check_timezone(timezone: str) -> None:
    unknown = InvalidInput(
        f"unknown timezone {timezone[:60]!r}; use an IANA name like Europe/Paris or UTC"
    )
    if len(timezone) > MAX_TIMEZONE_LENGTH:
        raise unknown
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError, OSError):  # OSError: a name the OS cannot open
        raise unknown from None


def _check_email(email: str) -> None:
    check_text("email", email, EMAIL_MAX_LENGTH)
    if "@" not in email:
        raise InvalidInput(f"email {email!r} has no @; give an address like billing@example.com")
    if any(char.isspace() for char in email):
        raise InvalidInput(
            f"email {email!r} contains whitespace; give an address like billing@example.com"
        )


def _check_currency(currency: str) -> None:
    if not _CURRENCY.fullmatch(currency):
        raise InvalidInput(f"currency {currency!r} must be 3 upper-case letters, like USD or EUR")


def _check_net_terms(days: int | None) -> None:
    if days is not None and days < 0:
        raise InvalidInput(f"net terms of {days} days are negative; give 0 days or more")
    if days is not None and days > NET_TERMS_MAX_DAYS:
        raise InvalidInput(
            f"net terms of {days} days are too long; give at most {NET_TERMS_MAX_DAYS} days"
        )


def _aggregation(value: str) -> Aggregation:
    try:
        return Aggregation(value)
    except ValueError:
        valid = ", ".join(Aggregation)
        raise InvalidInput(f"unknown aggregation {value!r}; use one of: {valid}") from None


def check_quantity(what: str, value: Decimal) -> None:
    """Refuse a quantity the catalog could not store: negative, 10^14 or more, over 6 decimals.

    Public so the command line can refuse usage before it reaches a subscription's workflow.

    Raises:
        InvalidInput: what is wrong, in one line.
    """
    _check_decimal(what, value)


def _check_decimal(what: str, value: Decimal, *, positive: bool = False) -> None:
    """Refuse negatives (0 too when ``positive``) and what ``NUMERIC(20, 6)`` cannot hold."""
    if not value.is_finite() or value < 0 or (positive and value == 0):
        bound = "greater than 0" if positive else "0 or more"
        raise InvalidInput(f"the {what} is {value}; give a number {bound}")
    if value >= MONEY_LIMIT:
        raise InvalidInput(f"the {what} {value} is too large; give a number below 10^14")
    if value != value.quantize(MONEY_QUANTUM):
        raise InvalidInput(f"the {what} {value} has more than 6 decimal places; round it to 6")


def _check_period(period: str) -> None:
    # Imported on use: store.catalog then imports without models.periods, written alongside it.
    from models.periods import validate_period

    try:
        validate_period(period)
    except ValueError as exc:
        # Its message names the period and what is accepted.
        raise InvalidInput(str(exc)) from None


def _check_spec(spec: PlanVersionSpec) -> None:
    """Check a plan version's spec; its metrics' existence is checked in the transaction."""
    _check_currency(spec.currency)
    _check_period(spec.period)
    if spec.flat_amount is not None:
        _check_decimal("flat amount", spec.flat_amount)
    seen: set[str] = set()
    for component in spec.components:
        if component.metric_id in seen:
            raise InvalidInput(
                f"metric {component.metric_id} is in two components; give each metric one"
            )
        seen.add(component.metric_id)
        _check_decimal(f"unit price of {component.metric_id}", component.unit_price)
        _check_decimal(f"free units of {component.metric_id}", component.free_units)
    _check_net_terms(spec.net_terms_days)


def _check_aware(what: str, value: datetime) -> None:
    if value.tzinfo is None or value.utcoffset() is None:
        raise InvalidInput(f"the {what} {value} has no timezone; give an aware datetime")


def _check_metrics_exist(session: Session, spec: PlanVersionSpec) -> None:
    wanted = [component.metric_id for component in spec.components]
    known = set(session.exec(select(Metric.id).where(col(Metric.id).in_(wanted))).all())
    unknown = [metric_id for metric_id in wanted if metric_id not in known]
    if unknown:
        raise InvalidInput(
            f"unknown metric {', '.join(unknown)}; create it first, or list them with: "
            "billhook metric list"
        )


def _not_a_component(session: Session, metric_id: str, plan_version_id: str) -> str:
    """The message refusing an alert on a metric the plan version does not bill."""
    query = (
        select(PlanComponent.metric_id)
        .where(col(PlanComponent.plan_version_id) == plan_version_id)
        .order_by(col(PlanComponent.position))
    )
    billed = ", ".join(session.exec(query).all()) or "none"
    return (
        f"metric {metric_id} is not a usage component of plan version {plan_version_id}; "
        f"alert on one of its metrics ({billed})"
    )


# Reads and writes inside a session -----------------------------------------------------------
def _insert(session: Session, model: type[SQLModel]) -> postgresql.Insert | sqlite.Insert:
    """A Core ``INSERT`` into the model's table that can say ``ON CONFLICT`` in this database."""
    table = sa.inspect(model).local_table
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        return postgresql.insert(table)
    if dialect == "sqlite":
        return sqlite.insert(table)
    raise StoreNotReady(f"unsupported database {dialect!r}; use SQLite or PostgreSQL")


def _insert_ignore(session: Session, model: type[SQLModel], row: dict[str, Any]) -> bool:
    """Insert ``row`` unless its primary key is taken; whether it was inserted.

    ``ON CONFLICT DO NOTHING`` stays right when a concurrent transaction inserts the same key: it
    waits for that one, then skips. Only the key is named, so another unique violation raises.
    """
    keys = sa.inspect(model).primary_key
    statement = (
        _insert(session, model)
        .values(row)
        .on_conflict_do_nothing(index_elements=keys)
        # RETURNING says whether a row went in: SQLAlchemy counts rows of UPDATE and DELETE only.
        .returning(*keys)
    )
    return session.exec(statement).first() is not None


def _customer(session: Session, customer_id: str) -> Customer:
    customer = session.get(Customer, customer_id)
    if customer is None:
        raise NotFound(f"no customer {customer_id}; list them with: billhook customer list")
    return customer


def _plan(session: Session, plan_id: str, *, lock: bool = False) -> Plan:
    query = select(Plan).where(col(Plan.id) == plan_id)
    if lock:
        # FOR NO KEY UPDATE: versions inserted elsewhere only need KEY SHARE on the plan.
        query = query.with_for_update(key_share=True)
    plan = session.exec(query).first()
    if plan is None:
        raise NotFound(f"no plan {plan_id}; list them with: billhook plan list")
    return plan


def _version(session: Session, version_id: str) -> PlanVersion:
    version = session.get(PlanVersion, version_id)
    if version is None:
        raise NotFound(f"no plan version {version_id}; list them with: billhook plan list")
    return version


def _latest_number(session: Session, plan_id: str) -> int:
    query = select(sa.func.max(PlanVersion.version)).where(col(PlanVersion.plan_id) == plan_id)
    return session.exec(query).one() or 0


def _add_version(
    session: Session, plan_id: str, number: int, spec: PlanVersionSpec, now: datetime
) -> PlanVersion:
    """Add version ``number`` of a plan with its components, as ``spec`` says."""
    version = PlanVersion(
        id=PLAN_VERSION_ID_PREFIX + uuid.uuid4().hex,
        plan_id=plan_id,
        version=number,
        currency=spec.currency,
        period=spec.period,
        flat_amount=spec.flat_amount,
        flat_timing=None if spec.flat_amount is None else spec.flat_timing,
        net_terms_days=spec.net_terms_days,
        created_at=now,
    )
    session.add(version)
    # Without relationship()s the ORM does not know the components reference the version, so
    # it could insert them first: each level is flushed before the next.
    session.flush()
    session.add_all(
        PlanComponent(plan_version_id=version.id, position=position, **component.model_dump())
        for position, component in enumerate(spec.components)
    )
    session.flush()
    return version


def _snapshots(session: Session, versions: Sequence[PlanVersion]) -> list[PlanVersionSnapshot]:
    """Snapshots of plan versions, with their plan's name, components and alerts."""
    ids = [version.id for version in versions]
    plan_ids = {version.plan_id for version in versions}
    names = dict(session.exec(select(Plan.id, Plan.name).where(col(Plan.id).in_(plan_ids))).all())
    components = _components_of(session, ids)
    alerts = _alerts_of(session, ids)
    return [
        _version_snapshot(
            version, names[version.plan_id], components[version.id], alerts[version.id]
        )
        for version in versions
    ]


def _components_of(session: Session, version_ids: list[str]) -> dict[str, list[UsageComponent]]:
    """The usage components of each version, in the order they were given, metrics whole."""
    components: dict[str, list[UsageComponent]] = {version_id: [] for version_id in version_ids}
    query = (
        select(PlanComponent, Metric)
        .join(Metric, col(Metric.id) == col(PlanComponent.metric_id))
        .where(col(PlanComponent.plan_version_id).in_(version_ids))
        .order_by(col(PlanComponent.position))
    )
    for component, metric in session.exec(query).all():
        components[component.plan_version_id].append(
            UsageComponent(
                metric=_metric_snapshot(metric),
                unit_price=component.unit_price,
                free_units=component.free_units,
            )
        )
    return components


def _alerts_of(session: Session, version_ids: list[str]) -> dict[str, list[AlertSnapshot]]:
    """The usage alerts of each version, oldest first."""
    alerts: dict[str, list[AlertSnapshot]] = {version_id: [] for version_id in version_ids}
    query = (
        select(UsageAlert)
        .where(col(UsageAlert.plan_version_id).in_(version_ids))
        .order_by(col(UsageAlert.created_at), col(UsageAlert.id))
    )
    for alert in session.exec(query).all():
        alerts[alert.plan_version_id].append(_alert_snapshot(alert))
    return alerts


def _next_invoice_number(session: Session, issue_date: datetime) -> str:
    """Take the next number of the issue date's UTC day: ``YYMMDD-NNNNNN``.

    The upsert locks the day's counter row until the transaction ends, so concurrent issuers
    queue on it and each gets the next number; a rollback gives its number back.
    """
    day = issue_date.astimezone(UTC).date()
    insert = _insert(session, InvoiceSequence).values(day=day, last_number=1)
    upsert = insert.on_conflict_do_update(
        index_elements=["day"], set_={"last_number": col(InvoiceSequence.last_number) + 1}
    ).returning(col(InvoiceSequence.last_number))
    number: int = session.exec(upsert).scalar_one()
    # Six digits; a day past 999999 invoices gets seven rather than a repeated number.
    return f"{day:%y%m%d}-{number:06d}"


def _invoice_row(
    invoice: InvoiceWorkflowInput, issue_date: datetime, due_date: datetime
) -> dict[str, Any]:
    """The row of a new invoice, without its number.

    Raises:
        InvalidInput: see ``Catalog.issue_invoice``.
    """
    _check_aware("issue date", issue_date)
    _check_aware("due date", due_date)
    if due_date < issue_date:
        raise InvalidInput(
            f"invoice {invoice.invoice_id} is due ({due_date}) before it is issued ({issue_date}); "
            "give a due date on or after the issue date"
        )
    amount = invoice.amount
    if amount.is_finite() and abs(amount) < MONEY_LIMIT:
        # Rounded here, half up like models.money, so both databases store the same value.
        rounded = amount.quantize(MONEY_QUANTUM, rounding=ROUND_HALF_UP)
        amount = amount if rounded == amount else rounded
    _check_decimal(f"amount of invoice {invoice.invoice_id}", amount)
    return {
        "id": invoice.invoice_id,
        "subscription_id": invoice.subscription_id,
        "customer_id": invoice.customer.customer_id,
        "amount": amount,
        "currency": invoice.plan.currency,
        "issue_date": issue_date,
        "due_date": due_date,
        "payment_status": PaymentStatus.PAID if amount == 0 else PaymentStatus.UNPAID,
        "past_due": False,
        "line_items": [line.model_dump(mode="json") for line in invoice.line_items],
        "updated_at": issue_date,
    }


def _invoice_not_found(invoice_id: str) -> NotFound:
    return NotFound(f"no invoice {invoice_id}; list them with: billhook invoice list")


# Rows to snapshots ---------------------------------------------------------------------------
def _customer_snapshot(row: Customer) -> CustomerSnapshot:
    return CustomerSnapshot(
        customer_id=row.id,
        name=row.name,
        email=row.email,
        timezone=row.timezone,
        currency=row.currency,
        net_terms_days=row.net_terms_days,
    )


def _metric_snapshot(row: Metric) -> MetricSnapshot:
    return MetricSnapshot(
        metric_id=row.id,
        name=row.name,
        event_name=row.event_name,
        aggregation=row.aggregation,
        property_name=row.property_name,
    )


def _alert_snapshot(row: UsageAlert) -> AlertSnapshot:
    return AlertSnapshot(alert_id=row.id, metric_id=row.metric_id, threshold=row.threshold)


def _version_snapshot(
    row: PlanVersion,
    plan_name: str,
    components: list[UsageComponent],
    alerts: list[AlertSnapshot],
) -> PlanVersionSnapshot:
    flat_charge = None
    if row.flat_amount is not None and row.flat_timing is not None:
        flat_charge = FlatCharge(amount=row.flat_amount, timing=row.flat_timing)
    return PlanVersionSnapshot(
        plan_id=row.plan_id,
        plan_name=plan_name,
        version_id=row.id,
        version=row.version,
        currency=row.currency,
        period=row.period,
        flat_charge=flat_charge,
        components=components,
        net_terms_days=row.net_terms_days,
        alerts=alerts,
    )


def _subscription_state(row: Subscription) -> SubscriptionState:
    return SubscriptionState(
        subscription_id=row.id, **{name: getattr(row, name) for name in _SUBSCRIPTION_FIELDS}
    )


def _invoice_state(row: Invoice) -> InvoiceState:
    return InvoiceState(
        invoice_id=row.id,
        invoice_number=row.invoice_number,
        subscription_id=row.subscription_id,
        customer_id=row.customer_id,
        amount=row.amount,
        currency=row.currency,
        issue_date=row.issue_date,
        due_date=row.due_date,
        payment_status=row.payment_status,
        past_due=row.past_due,
        external_payment_obj_id=row.external_payment_obj_id,
        external_payment_obj_type=row.external_payment_obj_type,
        external_payment_obj_status=row.external_payment_obj_status,
    )
