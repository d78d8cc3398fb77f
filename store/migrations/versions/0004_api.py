"""The REST API's records: API keys (hashed), Stripe events taken in, ingested usage.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-04

Written by hand, mirroring ``store/tables.py``.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

MONEY = sa.Numeric(20, 6).with_variant(sa.String(), "sqlite")


def _time(name: str, nullable: bool = False) -> sa.Column[datetime]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _text(name: str, nullable: bool = False) -> sa.Column[str]:
    return sa.Column(name, sa.String(), nullable=nullable)


def upgrade() -> None:
    """Create the three tables."""
    op.create_table(
        "apikey",
        _text("id"),
        _text("name"),
        _text("prefix"),
        _text("key_hash"),
        _time("created_at"),
        _time("revoked_at", nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_apikey"),
        sa.UniqueConstraint("key_hash", name="uq_apikey_key_hash"),
    )
    op.create_table(
        "stripeevent",
        _text("id"),
        _text("type"),
        _text("invoice_id", nullable=True),
        _text("outcome"),
        _text("detail", nullable=True),
        _time("received_at"),
        sa.PrimaryKeyConstraint("id", name="pk_stripeevent"),
    )
    op.create_table(
        "usagerecord",
        _text("subscription_id"),
        _text("idempotency_key"),
        _text("metric_id"),
        sa.Column("quantity", MONEY, nullable=False),
        _text("batch_id"),
        sa.Column("forwarded", sa.Boolean(), nullable=False),
        _time("created_at"),
        sa.PrimaryKeyConstraint("subscription_id", "idempotency_key", name="pk_usagerecord"),
    )
    op.create_index("ix_usagerecord_batch_id", "usagerecord", ["batch_id"])


def downgrade() -> None:
    """Drop them."""
    op.drop_index("ix_usagerecord_batch_id", table_name="usagerecord")
    op.drop_table("usagerecord")
    op.drop_table("stripeevent")
    op.drop_table("apikey")
