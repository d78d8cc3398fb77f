"""The catalog and billing records: customers, metrics, plans, alerts, subscriptions, invoices.

Revision ID: 0002
Revises: 0001
Create Date: 2025-01-02

Written by hand, mirroring ``store/tables.py``. Money columns are ``NUMERIC(20, 6)``, except on
SQLite, where they are text: SQLite's NUMERIC keeps floats (see ``store.tables.Money``).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ENUM = sa.String(32)
MONEY = sa.Numeric(20, 6).with_variant(sa.String(), "sqlite")


def _time(name: str, nullable: bool = False) -> sa.Column[datetime]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _id() -> sa.Column[str]:
    return sa.Column("id", sa.String(), nullable=False)


def _text(name: str, nullable: bool = False) -> sa.Column[str]:
    return sa.Column(name, sa.String(), nullable=nullable)


def upgrade() -> None:
    """Create the tables, their indexes and foreign keys."""
    op.create_table(
        "customer",
        _id(),
        _text("name", nullable=True),
        _text("email", nullable=True),
        _text("timezone"),
        _text("currency"),
        sa.Column("net_terms_days", sa.Integer(), nullable=True),
        _time("created_at"),
        sa.PrimaryKeyConstraint("id", name="pk_customer"),
    )
    op.create_table(
        "metric",
        _id(),
        _text("name"),
        _text("event_name"),
        sa.Column("aggregation", ENUM, nullable=False),
        _text("property_name", nullable=True),
        _time("created_at"),
        sa.PrimaryKeyConstraint("id", name="pk_metric"),
    )
    op.create_table(
        "plan",
        _id(),
        _text("name"),
        _time("created_at"),
        sa.PrimaryKeyConstraint("id", name="pk_plan"),
    )
    _create_plan_version()
    _create_plan_component()
    _create_usage_alert()
    _create_subscription()
    _create_invoice()


def _create_plan_version() -> None:
    op.create_table(
        "planversion",
        _id(),
        _text("plan_id"),
        sa.Column("version", sa.Integer(), nullable=False),
        _text("currency"),
        _text("period"),
        sa.Column("flat_amount", MONEY, nullable=True),
        sa.Column("flat_timing", ENUM, nullable=True),
        sa.Column("net_terms_days", sa.Integer(), nullable=False),
        _time("created_at"),
        sa.PrimaryKeyConstraint("id", name="pk_planversion"),
        sa.UniqueConstraint("plan_id", "version", name="uq_planversion_plan_id"),
        sa.ForeignKeyConstraint(
            ["plan_id"], ["plan.id"], name="fk_planversion_plan_id_plan", ondelete="CASCADE"
        ),
    )


def _create_plan_component() -> None:
    op.create_table(
        "plancomponent",
        _text("plan_version_id"),
        _text("metric_id"),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("unit_price", MONEY, nullable=False),
        sa.Column("free_units", MONEY, nullable=False),
        sa.PrimaryKeyConstraint("plan_version_id", "metric_id", name="pk_plancomponent"),
        sa.ForeignKeyConstraint(
            ["plan_version_id"],
            ["planversion.id"],
            name="fk_plancomponent_plan_version_id_planversion",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["metric_id"], ["metric.id"], name="fk_plancomponent_metric_id_metric"
        ),
    )
    op.create_index("ix_plancomponent_metric_id", "plancomponent", ["metric_id"])


def _create_usage_alert() -> None:
    op.create_table(
        "usagealert",
        _id(),
        _text("plan_version_id"),
        _text("metric_id"),
        sa.Column("threshold", MONEY, nullable=False),
        _time("created_at"),
        sa.PrimaryKeyConstraint("id", name="pk_usagealert"),
        sa.ForeignKeyConstraint(
            ["plan_version_id", "metric_id"],
            ["plancomponent.plan_version_id", "plancomponent.metric_id"],
            name="fk_usagealert_plan_version_id_plancomponent",
            ondelete="CASCADE",
        ),
    )
    op.create_index("ix_usagealert_plan_version_id", "usagealert", ["plan_version_id"])


def _create_subscription() -> None:
    op.create_table(
        "subscription",
        _id(),
        _text("customer_id"),
        _text("plan_id"),
        _text("plan_version_id"),
        sa.Column("status", ENUM, nullable=False),
        sa.Column("auto_renew", sa.Boolean(), nullable=False),
        sa.Column("sequence", sa.Integer(), nullable=False),
        _time("period_start"),
        _time("period_end"),
        _time("created_at"),
        _time("updated_at"),
        sa.PrimaryKeyConstraint("id", name="pk_subscription"),
    )
    op.create_index("ix_subscription_customer_id", "subscription", ["customer_id"])
    op.create_index("ix_subscription_status", "subscription", ["status"])


def _create_invoice() -> None:
    op.create_table(
        "invoice",
        _id(),
        _text("invoice_number"),
        _text("subscription_id"),
        _text("customer_id"),
        sa.Column("amount", MONEY, nullable=False),
        _text("currency"),
        _time("issue_date"),
        _time("due_date"),
        sa.Column("payment_status", ENUM, nullable=False),
        sa.Column("past_due", sa.Boolean(), nullable=False),
        _text("external_payment_obj_id", nullable=True),
        _text("external_payment_obj_type", nullable=True),
        _text("external_payment_obj_status", nullable=True),
        sa.Column("line_items", sa.JSON(), nullable=False),
        _time("updated_at"),
        sa.PrimaryKeyConstraint("id", name="pk_invoice"),
        sa.UniqueConstraint("invoice_number", name="uq_invoice_invoice_number"),
    )
    for column in ("subscription_id", "customer_id", "issue_date", "payment_status"):
        op.create_index(f"ix_invoice_{column}", "invoice", [column])
    op.create_table(
        "invoicesequence",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("last_number", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("day", name="pk_invoicesequence"),
    )


def downgrade() -> None:
    """Drop the tables (and with them their indexes), dependents first."""
    for table in (
        "invoicesequence",
        "invoice",
        "subscription",
        "usagealert",
        "plancomponent",
        "planversion",
        "plan",
        "metric",
        "customer",
    ):
        op.drop_table(table)
