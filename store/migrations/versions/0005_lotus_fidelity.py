"""Lotus's conventions: customer addresses, and net terms that may be absent.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-04

- ``customer.address``, ``customer.billing_address``, ``customer.shipping_address``: each a
  JSON object ``{city, country, line1, line2, postal_code, state}`` or NULL (``models.address``).
  Customers created before this revision have none.
- ``planversion.net_terms_days`` and ``invoice.due_date`` become nullable: a plan version may
  have no net terms, and an invoice with no terms anywhere has no due date (and never goes past
  due). Rows written before keep their values.
- ``invoicepdf``: invoices rendered to PDF, one per ``invoice.*`` message rendered (its
  ``invoice_pdf`` URL serves the newest).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COLUMNS = ("address", "billing_address", "shipping_address")
_DATE_TIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    """Add the three nullable address columns; let net terms and due dates be absent."""
    with op.batch_alter_table("customer") as batch:
        for name in COLUMNS:
            batch.add_column(sa.Column(name, sa.JSON(), nullable=True))
    with op.batch_alter_table("planversion") as batch:
        batch.alter_column("net_terms_days", existing_type=sa.Integer(), nullable=True)
    with op.batch_alter_table("invoice") as batch:
        batch.alter_column("due_date", existing_type=_DATE_TIME, nullable=True)
    op.create_table(
        "invoicepdf",
        sa.Column("message_id", sa.String(), nullable=False),
        sa.Column("invoice_id", sa.String(), nullable=False),
        sa.Column("pdf", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", _DATE_TIME, nullable=False),
        sa.PrimaryKeyConstraint("message_id"),
    )
    op.create_index("ix_invoicepdf_invoice_id", "invoicepdf", ["invoice_id"])


def downgrade() -> None:
    """Drop the PDFs and the address columns; absent terms become 30 days, absent due dates
    the issue date."""
    op.drop_index("ix_invoicepdf_invoice_id", table_name="invoicepdf")
    op.drop_table("invoicepdf")
    op.execute("UPDATE invoice SET due_date = issue_date WHERE due_date IS NULL")
    with op.batch_alter_table("invoice") as batch:
        batch.alter_column("due_date", existing_type=_DATE_TIME, nullable=False)
    op.execute("UPDATE planversion SET net_terms_days = 30 WHERE net_terms_days IS NULL")
    with op.batch_alter_table("planversion") as batch:
        batch.alter_column("net_terms_days", existing_type=sa.Integer(), nullable=False)
    with op.batch_alter_table("customer") as batch:
        for name in reversed(COLUMNS):
            batch.drop_column(name)
