"""The five tables of the delivery store: endpoints, their secrets, messages, deliveries, attempts.

Revision ID: 0001
Revises:
Create Date: 2025-01-01

Written by hand, mirroring ``store/tables.py``. Enum columns are plain ``VARCHAR(32)`` holding the
enum values; times are ``TIMESTAMP WITH TIME ZONE`` (SQLite keeps them as naive UTC text).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ENUM = sa.String(32)


def _time(name: str, nullable: bool = False) -> sa.Column[datetime]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _fk(table: str, column: str, referred: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        [column], [f"{referred}.id"], name=f"fk_{table}_{column}_{referred}", ondelete="CASCADE"
    )


def upgrade() -> None:
    """Create the tables, their indexes and foreign keys."""
    op.create_table(
        "endpoint",
        sa.Column("id", sa.String(), nullable=False),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("url", sa.String(), nullable=False),
        sa.Column("event_types", sa.JSON(), nullable=False),
        sa.Column("status", ENUM, nullable=False),
        sa.Column("disabled_reason", ENUM, nullable=True),
        _time("created_at"),
        _time("updated_at"),
        _time("failing_since", nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_endpoint"),
    )
    op.create_table(
        "endpointsecret",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("endpoint_id", sa.String(), nullable=False),
        sa.Column("secret", sa.String(), nullable=False),
        _time("created_at"),
        _time("expires_at", nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_endpointsecret"),
        _fk("endpointsecret", "endpoint_id", "endpoint"),
    )
    op.create_index("ix_endpointsecret_endpoint_id", "endpointsecret", ["endpoint_id"])
    op.create_table(
        "message",
        sa.Column("id", sa.String(), nullable=False),
        sa.Column("event_type", sa.String(), nullable=False),
        sa.Column("business_key", sa.String(), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        _time("created_at"),
        sa.PrimaryKeyConstraint("id", name="pk_message"),
        sa.UniqueConstraint("business_key", name="uq_message_business_key"),
    )
    op.create_index("ix_message_event_type", "message", ["event_type"])
    op.create_index("ix_message_created_at", "message", ["created_at"])
    _create_delivery()
    _create_attempt()


def _create_delivery() -> None:
    op.create_table(
        "delivery",
        sa.Column("message_id", sa.String(), nullable=False),
        sa.Column("endpoint_id", sa.String(), nullable=False),
        sa.Column("status", ENUM, nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        _time("next_attempt_at", nullable=True),
        _time("created_at"),
        _time("updated_at"),
        sa.PrimaryKeyConstraint("message_id", "endpoint_id", name="pk_delivery"),
        _fk("delivery", "message_id", "message"),
        _fk("delivery", "endpoint_id", "endpoint"),
    )
    op.create_index("ix_delivery_endpoint_id", "delivery", ["endpoint_id"])
    op.create_index("ix_delivery_status", "delivery", ["status"])


def _create_attempt() -> None:
    # No unique (message, endpoint, attempt): a worker crash after the insert but before the
    # activity completed makes Temporal retry it, and both records of that attempt are true.
    op.create_table(
        "attempt",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("message_id", sa.String(), nullable=False),
        sa.Column("endpoint_id", sa.String(), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("trigger", ENUM, nullable=False),
        _time("started_at"),
        sa.Column("duration_ms", sa.Integer(), nullable=False),
        sa.Column("url", sa.String(), nullable=False),
        sa.Column("response_status", sa.Integer(), nullable=True),
        sa.Column("response_body", sa.String(), nullable=True),
        sa.Column("error_kind", ENUM, nullable=True),
        sa.Column("error", sa.String(), nullable=True),
        _time("next_retry_at", nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_attempt"),
        _fk("attempt", "message_id", "message"),
        _fk("attempt", "endpoint_id", "endpoint"),
    )
    op.create_index("ix_attempt_message_id", "attempt", ["message_id"])
    op.create_index("ix_attempt_endpoint_id", "attempt", ["endpoint_id"])


def downgrade() -> None:
    """Drop every table (and with them their indexes), dependents first."""
    for table in ("attempt", "delivery", "message", "endpointsecret", "endpoint"):
        op.drop_table(table)
