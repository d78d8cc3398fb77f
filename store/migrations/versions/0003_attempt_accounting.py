"""Write-ahead attempts: attempt state, unique attempt numbers, the batch that accepted a message.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02

- ``attempt.state``: ``in_flight`` (recorded before the request), ``completed``, ``interrupted``
  (its worker died; outcome unknown). Rows written before this revision are ``completed``.
- ``attempt.duration_ms`` becomes nullable: an attempt in flight has none yet.
- ``(message_id, endpoint_id, attempt)`` becomes unique. Releases before it counted recorded
  rows, so a crash could reuse a number; such rows are renumbered here in the order they
  started, and ``delivery.attempts`` becomes the highest number given.
- ``message.accepted_by``: the dispatcher batch that accepted the message, telling a retried
  batch's own messages from a second emission of the same event.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_RENUMBER = """
UPDATE attempt SET attempt = (
    SELECT numbered.n FROM (
        SELECT id, ROW_NUMBER() OVER (
            PARTITION BY message_id, endpoint_id ORDER BY started_at, id
        ) AS n FROM attempt
    ) AS numbered WHERE numbered.id = attempt.id
)
WHERE EXISTS (
    SELECT 1 FROM attempt AS a1 JOIN attempt AS a2
      ON a1.message_id = a2.message_id AND a1.endpoint_id = a2.endpoint_id
     AND a1.attempt = a2.attempt AND a1.id <> a2.id
    WHERE a1.message_id = attempt.message_id AND a1.endpoint_id = attempt.endpoint_id
)
"""

_COUNT = """
UPDATE delivery SET attempts = COALESCE((
    SELECT MAX(attempt.attempt) FROM attempt
    WHERE attempt.message_id = delivery.message_id AND attempt.endpoint_id = delivery.endpoint_id
), 0)
"""


def upgrade() -> None:
    """Add the columns, renumber reused attempt numbers, then make the numbers unique."""
    with op.batch_alter_table("attempt") as batch:
        batch.add_column(
            sa.Column("state", sa.String(32), nullable=False, server_default="completed")
        )
        batch.alter_column("duration_ms", existing_type=sa.Integer(), nullable=True)
    with op.batch_alter_table("message") as batch:
        batch.add_column(sa.Column("accepted_by", sa.String(), nullable=True))
    # A delivery with a reused number is renumbered whole, so no new collision can appear.
    op.execute(_RENUMBER)
    op.execute(_COUNT)
    op.create_index(
        "uq_attempt_message_id_endpoint_id_attempt",
        "attempt",
        ["message_id", "endpoint_id", "attempt"],
        unique=True,
    )


def downgrade() -> None:
    """Drop the unique index and the new columns."""
    op.drop_index("uq_attempt_message_id_endpoint_id_attempt", table_name="attempt")
    with op.batch_alter_table("message") as batch:
        batch.drop_column("accepted_by")
    with op.batch_alter_table("attempt") as batch:
        batch.alter_column("duration_ms", existing_type=sa.Integer(), nullable=False)
        batch.drop_column("state")
