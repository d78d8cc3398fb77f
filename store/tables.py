"""sqlmodel tables. Times are stored as UTC and read back timezone-aware (``UTCDateTime``)."""

from __future__ import annotations

from datetime import UTC, datetime
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


def _utc(nullable: bool = False, index: bool = False) -> Any:
    return Field(sa_column=sa.Column(UTCDateTime(), nullable=nullable, index=index))


class Endpoint(SQLModel, table=True):
    id: str = Field(primary_key=True)  # whend_<32 hex>
    name: str
    url: str
    event_types: list[str] = Field(sa_column=sa.Column(sa.JSON, nullable=False))
    status: EndpointStatus = Field(default=EndpointStatus.ENABLED)
    disabled_reason: DisabledReason | None = None
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
    endpoint_id: str = Field(foreign_key="endpoint.id", primary_key=True, ondelete="CASCADE")
    status: DeliveryStatus = Field(default=DeliveryStatus.PENDING, index=True)
    attempts: int = 0
    next_attempt_at: datetime | None = _utc(nullable=True)
    created_at: datetime = _utc()
    updated_at: datetime = _utc()


class Attempt(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    message_id: str = Field(foreign_key="message.id", index=True, ondelete="CASCADE")
    endpoint_id: str = Field(foreign_key="endpoint.id", index=True, ondelete="CASCADE")
    attempt: int
    trigger: AttemptTrigger
    started_at: datetime = _utc()
    duration_ms: int
    url: str
    response_status: int | None = None
    response_body: str | None = None  # first 4 KiB, decoded leniently
    error_kind: ErrorKind | None = None
    error: str | None = None  # one line, never a secret
    next_retry_at: datetime | None = _utc(nullable=True)
