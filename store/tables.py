"""sqlmodel tables. Times are stored as UTC and read back timezone-aware (``UTCDateTime``).

Enums are stored as their values in plain ``VARCHAR`` columns rather than PostgreSQL enum types,
so adding a value never needs an ``ALTER TYPE`` migration. Constraint names follow
``NAMING_CONVENTION`` so later migrations (SQLite batch mode included) can address them by name.
Keep ``store/migrations/versions`` in step with this file.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from models.billing import Aggregation, ChargeTiming, PaymentStatus, SubscriptionStatus
from models.delivery import (
    AttemptState,
    AttemptTrigger,
    DeliveryStatus,
    DisabledReason,
    EndpointStatus,
    ErrorKind,
)


class UTCDateTime(sa.types.TypeDecorator[datetime]):
    """Aware datetimes in, aware UTC datetimes out, on SQLite (no tz support) and PostgreSQL."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


#: Constraint names the migrations spell out; shared by every table of this module.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_name)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
SQLModel.metadata.naming_convention = NAMING_CONVENTION

#: Width of the enum columns: room for values added later without a migration.
ENUM_LENGTH = 32


def _utc(nullable: bool = False, index: bool = False) -> Any:
    return Field(sa_column=sa.Column(UTCDateTime(), nullable=nullable, index=index))


def _enum(
    enum: type[StrEnum],
    *,
    default: StrEnum | None = None,
    nullable: bool = False,
    index: bool = False,
) -> Any:
    column_type = sa.Enum(
        enum,
        native_enum=False,
        length=ENUM_LENGTH,
        values_callable=lambda members: [member.value for member in members],
    )
    return Field(default=default, sa_column=sa.Column(column_type, nullable=nullable, index=index))


class Endpoint(SQLModel, table=True):
    """A URL that events are delivered to, the event types it takes, and whether it is enabled."""

    id: str = Field(primary_key=True)  # whend_<32 hex>
    name: str
    url: str
    event_types: list[str] = Field(sa_column=sa.Column(sa.JSON, nullable=False))
    status: EndpointStatus = _enum(EndpointStatus, default=EndpointStatus.ENABLED)
    disabled_reason: DisabledReason | None = _enum(DisabledReason, nullable=True)
    created_at: datetime = _utc()
    updated_at: datetime = _utc()
    #: First failed attempt since the last success; cleared by a success (5-day auto-disable).
    failing_since: datetime | None = _utc(nullable=True)

    @property
    def enabled(self) -> bool:
        """Whether the endpoint receives deliveries (a disabled one's are recorded skipped)."""
        return self.status == EndpointStatus.ENABLED


class EndpointSecret(SQLModel, table=True):
    """A signing secret of an endpoint: the current one, and those still valid after a rotation."""

    id: int | None = Field(default=None, primary_key=True)
    endpoint_id: str = Field(foreign_key="endpoint.id", index=True, ondelete="CASCADE")
    secret: str  # whsec_<base64>; never logged, never in Temporal payloads
    created_at: datetime = _utc()
    #: None while current; set to rotation time + grace when a newer secret replaces it.
    expires_at: datetime | None = _utc(nullable=True)


class Message(SQLModel, table=True):
    """An emitted event as stored once: its type, business key (one message per key) and payload."""

    id: str = Field(primary_key=True)  # msg_<32 hex>
    event_type: str = Field(index=True)
    business_key: str = Field(unique=True)
    payload: dict[str, Any] = Field(sa_column=sa.Column(sa.JSON, nullable=False))
    created_at: datetime = _utc(index=True)
    #: The dispatcher batch that accepted it: a retried batch finds its own messages by it.
    accepted_by: str | None = None


class Delivery(SQLModel, table=True):
    """One message's delivery to one endpoint: its status and how many attempts it took."""

    message_id: str = Field(foreign_key="message.id", primary_key=True, ondelete="CASCADE")
    #: Indexed on its own for the per-endpoint queries (recover); the key leads with message_id.
    endpoint_id: str = Field(
        foreign_key="endpoint.id", primary_key=True, ondelete="CASCADE", index=True
    )
    status: DeliveryStatus = _enum(DeliveryStatus, default=DeliveryStatus.PENDING, index=True)
    #: The highest attempt number given: each attempt, scheduled or manual, takes the next one.
    attempts: int = 0
    next_attempt_at: datetime | None = _utc(nullable=True)
    created_at: datetime = _utc()
    updated_at: datetime = _utc()


class Attempt(SQLModel, table=True):
    """One request, recorded ``in_flight`` before it is sent and ``completed`` after."""

    __table_args__ = (
        sa.Index(
            "uq_attempt_message_id_endpoint_id_attempt",
            "message_id",
            "endpoint_id",
            "attempt",
            unique=True,
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    message_id: str = Field(foreign_key="message.id", index=True, ondelete="CASCADE")
    endpoint_id: str = Field(foreign_key="endpoint.id", index=True, ondelete="CASCADE")
    attempt: int
    trigger: AttemptTrigger = _enum(AttemptTrigger)
    state: AttemptState = _enum(AttemptState, default=AttemptState.COMPLETED)
    started_at: datetime = _utc()
    duration_ms: int | None = None  # None while in flight, and for an interrupted attempt
    url: str
    response_status: int | None = None
    response_body: str | None = None  # first 4 KiB, decoded leniently
    error_kind: ErrorKind | None = _enum(ErrorKind, nullable=True)
    error: str | None = None  # one line, never a secret
    next_retry_at: datetime | None = _utc(nullable=True)


# Catalog and billing records (lifecycle.md) ------------------------------------------------
#: Money and quantities: up to 14 digits before the point and 6 after.
MONEY_PRECISION = 20
MONEY_SCALE = 6
MONEY_QUANTUM = Decimal(1).scaleb(-MONEY_SCALE)
MONEY_LIMIT = Decimal(10) ** (MONEY_PRECISION - MONEY_SCALE)


class Money(sa.types.TypeDecorator[Decimal]):
    """Exact decimals: ``NUMERIC(20, 6)`` on PostgreSQL, their decimal text on SQLite.

    SQLite has no decimal type: a NUMERIC column there holds a float, exact to 15 digits only,
    so SQLite gets the text, which round-trips every value PostgreSQL's column can hold. Values
    come back with 6 decimals on both (``Decimal("1.5")`` reads as ``Decimal("1.500000")``).
    """

    impl = sa.Numeric(MONEY_PRECISION, MONEY_SCALE)
    cache_ok = True

    def load_dialect_impl(self, dialect: sa.Dialect) -> sa.types.TypeEngine[Any]:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(sa.String())
        return dialect.type_descriptor(sa.Numeric(MONEY_PRECISION, MONEY_SCALE))

    def process_bind_param(
        self, value: Decimal | None, dialect: sa.Dialect
    ) -> Decimal | str | None:
        if value is None:
            return None
        exact = value.quantize(MONEY_QUANTUM)
        # Refused rather than rounded: the two databases would round differently.
        if exact != value or abs(exact) >= MONEY_LIMIT:
            raise ValueError(f"{value} does not fit NUMERIC(20, 6) exactly")
        return str(exact) if dialect.name == "sqlite" else exact

    def process_result_value(self, value: Any, dialect: sa.Dialect) -> Decimal | None:
        return None if value is None else Decimal(str(value)).quantize(MONEY_QUANTUM)


def _money(nullable: bool = False) -> Any:
    return Field(sa_column=sa.Column(Money(), nullable=nullable))


class Customer(SQLModel, table=True):
    """A customer, under the caller's own id (``CustomerSnapshot``)."""

    id: str = Field(primary_key=True)  # the caller's own customer_id, at most 100 characters
    name: str | None = None
    email: str | None = None
    timezone: str  # IANA name
    currency: str  # ISO 4217 code
    net_terms_days: int | None = None  # overrides the plan version's
    # models.address.Address as JSON, or NULL (given at creation; migration 0005).
    address: dict[str, Any] | None = Field(default=None, sa_column=sa.Column(sa.JSON))
    billing_address: dict[str, Any] | None = Field(default=None, sa_column=sa.Column(sa.JSON))
    shipping_address: dict[str, Any] | None = Field(default=None, sa_column=sa.Column(sa.JSON))
    created_at: datetime = _utc()


class Metric(SQLModel, table=True):
    """A usage metric: which events it counts, or which property of them it sums."""

    id: str = Field(primary_key=True)  # metric_<32 hex>
    name: str
    event_name: str
    aggregation: Aggregation = _enum(Aggregation)
    property_name: str | None = None
    created_at: datetime = _utc()


class Plan(SQLModel, table=True):
    """A plan by name; what it bills is in its versions."""

    id: str = Field(primary_key=True)  # plan_<32 hex>
    name: str
    created_at: datetime = _utc()


class PlanVersion(SQLModel, table=True):
    """One version of a plan: currency, period, flat charge and net terms; never changed."""

    # Also the index of the per-plan queries, which lead with plan_id.
    __table_args__ = (sa.UniqueConstraint("plan_id", "version"),)

    id: str = Field(primary_key=True)  # plan_version_<32 hex>
    plan_id: str = Field(foreign_key="plan.id", ondelete="CASCADE")
    version: int  # 1, 2, ... within the plan
    currency: str
    period: str  # monthly | quarterly | yearly | ISO 8601 duration
    flat_amount: Decimal | None = _money(nullable=True)
    flat_timing: ChargeTiming | None = _enum(ChargeTiming, nullable=True)
    net_terms_days: int | None = None  # None: the organization's, else none (migration 0005)
    created_at: datetime = _utc()


class PlanComponent(SQLModel, table=True):
    """A usage component of a plan version: a metric's unit price and free units."""

    # The key makes a metric appear at most once per version.
    plan_version_id: str = Field(foreign_key="planversion.id", primary_key=True, ondelete="CASCADE")
    metric_id: str = Field(foreign_key="metric.id", primary_key=True, index=True)
    position: int  # the order the components were given in
    unit_price: Decimal = _money()
    free_units: Decimal = _money()


class UsageAlert(SQLModel, table=True):
    """A usage alert: a threshold on a metric that a plan version bills."""

    # Referencing the component, not the metric alone: an alert can only watch a metric its
    # plan version bills.
    __table_args__ = (
        sa.ForeignKeyConstraint(
            ["plan_version_id", "metric_id"],
            ["plancomponent.plan_version_id", "plancomponent.metric_id"],
            ondelete="CASCADE",
        ),
    )

    id: str = Field(primary_key=True)  # usg_alert_<32 hex>
    plan_version_id: str = Field(index=True)
    metric_id: str
    threshold: Decimal = _money()
    created_at: datetime = _utc()


class Subscription(SQLModel, table=True):
    """A listing record of a subscription workflow, which owns the truth.

    No foreign keys: recording must never fail the workflow's activity over a reference.
    """

    id: str = Field(primary_key=True)  # sub_<32 hex>
    customer_id: str = Field(index=True)
    plan_id: str
    plan_version_id: str
    status: SubscriptionStatus = _enum(SubscriptionStatus, index=True)
    auto_renew: bool
    sequence: int  # periods since the start; a record never goes back to an earlier one
    period_start: datetime = _utc()
    period_end: datetime = _utc()
    created_at: datetime = _utc()
    updated_at: datetime = _utc()


class Invoice(SQLModel, table=True):
    """An issued invoice; no foreign keys, for the reason given on ``Subscription``."""

    id: str = Field(primary_key=True)  # invoice_<32 hex>
    invoice_number: str = Field(unique=True)  # YYMMDD-NNNNNN
    subscription_id: str = Field(index=True)
    customer_id: str = Field(index=True)
    amount: Decimal = _money()
    currency: str
    issue_date: datetime = _utc(index=True)
    due_date: datetime | None = _utc(nullable=True)  # None: no net terms, never past due
    payment_status: PaymentStatus = _enum(PaymentStatus, index=True)
    past_due: bool = False
    external_payment_obj_id: str | None = None
    external_payment_obj_type: str | None = None
    external_payment_obj_status: str | None = None
    line_items: list[dict[str, Any]] = Field(sa_column=sa.Column(sa.JSON, nullable=False))
    updated_at: datetime = _utc()


class InvoicePdf(SQLModel, table=True):
    """An invoice rendered to PDF, as one of its events showed it (migration 0005)."""

    message_id: str = Field(primary_key=True)  # the invoice.* message rendered
    invoice_id: str = Field(index=True)
    pdf: bytes = Field(sa_column=sa.Column(sa.LargeBinary, nullable=False))
    created_at: datetime = _utc()


class InvoiceSequence(SQLModel, table=True):
    """The last invoice number given on each UTC day; its row lock serializes issuers."""

    day: date = Field(primary_key=True)
    last_number: int


# The REST API (api/): its keys, Stripe's events, ingested usage --------------------------------
class ApiKey(SQLModel, table=True):
    """A key of the REST API: its SHA-256 only, never the key, which is shown once."""

    id: str = Field(primary_key=True)  # apikey_<32 hex>
    name: str
    #: The key's first characters (``bh_`` and 8 more), to tell keys apart in listings.
    prefix: str
    key_hash: str = Field(unique=True)  # sha256 of the whole key, hex
    created_at: datetime = _utc()
    revoked_at: datetime | None = _utc(nullable=True)


class StripeEvent(SQLModel, table=True):
    """A Stripe event taken in: a redelivery of one already processed changes nothing."""

    id: str = Field(primary_key=True)  # Stripe's evt_...
    type: str
    invoice_id: str | None = None  # the metadata's billhook_invoice_id
    outcome: str  # paid, already_paid, unknown_invoice, not_paid, ignored
    detail: str | None = None  # one line
    received_at: datetime = _utc()


class UsageRecord(SQLModel, table=True):
    """A usage record ingested by the API, remembered by its key for its subscription's life.

    A batch's records reach the subscription's workflow as one update per metric, keyed by the
    batch (``forwarded`` once it answered); see ``client.ingest``.
    """

    subscription_id: str = Field(primary_key=True)
    idempotency_key: str = Field(primary_key=True)
    metric_id: str
    quantity: Decimal = _money()
    batch_id: str = Field(index=True)
    forwarded: bool = False
    created_at: datetime = _utc()
