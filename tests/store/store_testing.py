"""Helpers shared by the store tests (a module, since conftest.py modules cannot be imported)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from models.delivery import AttemptTrigger, ErrorKind
from store import Store
from store.store import NewAttempt

#: A fixed instant the tests count from.
T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


def new_attempt(
    message_id: str,
    endpoint_id: str,
    *,
    attempt: int = 1,
    started_at: datetime = T0,
    response_status: int | None = 500,
    next_retry_at: datetime | None = None,
    trigger: AttemptTrigger = AttemptTrigger.SCHEDULED,
) -> NewAttempt:
    """An attempt as the delivery activity would report it; a failure unless status is 2xx."""
    failed = response_status is None or not 200 <= response_status < 300
    return NewAttempt(
        message_id=message_id,
        endpoint_id=endpoint_id,
        attempt=attempt,
        trigger=trigger,
        started_at=started_at,
        duration_ms=120,
        url="https://receiver.example/hook",
        response_status=response_status,
        response_body="nope" if failed else "ok",
        error_kind=ErrorKind.HTTP_STATUS if failed else None,
        error=f"HTTP {response_status}" if failed else None,
        next_retry_at=next_retry_at,
    )


def plan(
    store: Store,
    message_id: str,
    event_type: str = "invoice.paid",
    created_at: datetime = T0,
) -> list[str]:
    """Plan a message and return the endpoints it will be delivered to."""
    planned = store.plan_deliveries(
        message_id=message_id,
        event_type=event_type,
        business_key=f"{event_type}:{message_id}",
        payload={"invoice_id": message_id.removeprefix("msg_")},
        created_at=created_at,
        now=created_at,
        max_attempts=8,
    )
    return planned.endpoint_ids


def foreign_keys(store: Store, tables: Iterable[str]) -> set[tuple[str, tuple[str, ...], str, Any]]:
    """(table, columns, referred table, ON DELETE) of every foreign key of ``tables``."""
    inspector = sa.inspect(store.engine)
    return {
        (
            table,
            tuple(fk["constrained_columns"]),
            fk["referred_table"],
            fk["options"].get("ondelete"),
        )
        for table in tables
        for fk in inspector.get_foreign_keys(table)
    }


#: The tables added by 0002_catalog.
CATALOG_TABLES = {
    "customer",
    "metric",
    "plan",
    "planversion",
    "plancomponent",
    "usagealert",
    "subscription",
    "invoice",
    "invoicesequence",
}
