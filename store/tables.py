"""sqlmodel tables. Times are stored as UTC and read back timezone-aware (``UTCDateTime``).

Enums are stored as their values in plain ``VARCHAR`` columns rather than PostgreSQL enum types,
so adding a value never needs an ``ALTER TYPE`` migration. Constraint names follow
``NAMING_CONVENTION`` so later migrations (SQLite batch mode included) can address them by name.
Keep ``store/migrations/versions`` in step with this file.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from models.delivery import (
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


class EndpointSecret(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    endpoint_id: str = Field(foreign_key="endpoint.id", index=True, ondelete="CASCADE")
    secret: str  # whsec_<base64>; never logged, never in Temporal payloads
    created_at: datetime = _utc()
    #: None while current; set to rotation time + grace when a newer secret replaces it.
    expires_at: datetime | None = _utc(nullable=True)


class Message(SQLModel, table=True):
    id: str = Field(primary_key=True)  # msg_<32 hex>
    event_type: str = Field(index=True)
    business_key: str = Field(unique=True)
    payload: dict[str, Any] = Field(sa_column=sa.Column(sa.JSON, nullable=False))
    created_at: datetime = _utc(index=True)


class Delivery(SQLModel, table=True):
    message_id: str = Field(foreign_key="message.id", primary_key=True, ondelete="CASCADE")
    #: Indexed on its own for the per-endpoint queries (recover); the key leads with message_id.
    endpoint_id: str = Field(
        foreign_key="endpoint.id", primary_key=True, ondelete="CASCADE", index=True
    )
    status: DeliveryStatus = _enum(DeliveryStatus, default=DeliveryStatus.PENDING, index=True)
    attempts: int = 0
    next_attempt_at: datetime | None = _utc(nullable=True)
    created_at: datetime = _utc()
    updated_at: datetime = _utc()


class Attempt(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    message_id: str = Field(foreign_key="message.id", index=True, ondelete="CASCADE")
    endpoint_id: str = Field(foreign_key="endpoint.id", index=True, ondelete="CASCADE")
    attempt: int
    trigger: AttemptTrigger = _enum(AttemptTrigger)
    started_at: datetime = _utc()
    duration_ms: int
    url: str
    response_status: int | None = None
    response_body: str | None = None  # first 4 KiB, decoded leniently
    error_kind: ErrorKind | None = _enum(ErrorKind, nullable=True)
    error: str | None = None  # one line, never a secret
    next_retry_at: datetime | None = _utc(nullable=True)
