"""Customer addresses: the address, billing and shipping addresses given at creation.

Revision ID: 0005
Revises: 0003 (to be re-chained onto 0004 when that revision is merged)
Create Date: 2026-12-04

- ``customer.address``, ``customer.billing_address``, ``customer.shipping_address``: each a
  JSON object ``{city, country, line1, line2, postal_code, state}`` or NULL (``models.address``).
  Customers created before this revision have none.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COLUMNS = ("address", "billing_address", "shipping_address")


def upgrade() -> None:
    """Add the three nullable address columns."""
    with op.batch_alter_table("customer") as batch:
        for name in COLUMNS:
            batch.add_column(sa.Column(name, sa.JSON(), nullable=True))


def downgrade() -> None:
    """Drop the address columns."""
    with op.batch_alter_table("customer") as batch:
        for name in reversed(COLUMNS):
            batch.drop_column(name)
