"""Helpers shared by the store tests (a module, since conftest.py modules cannot be imported).

Attempts go through the store as the delivery activity makes them: ``claim`` records one in
flight, ``finish`` completes it; ``record_attempt`` does both, for tests that only need an
attempt's outcome on record.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import sqlalchemy as sa

from models.delivery import AttemptTrigger, DeliveryStatus, DisabledReason, ErrorKind, Event
from store import Store
from store.attempts import Claim, Deferred, DueAfterInterrupt, Settled
from store.outcomes import Finished

#: A fixed instant the tests count from.
T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
#: The store's defaults in production: 5 days of failures disable, 8 scheduled attempts.
DISABLE_AFTER = timedelta(days=5)
MAX_SCHEDULED = 8
#: An attempt in flight for longer than this is dead (Temporal timed it out).
STALE_AFTER = timedelta(minutes=1)
#: How long every attempt of these tests takes, unless told otherwise.
DURATION_MS = 120


def redact(url: str) -> str:
    """The URL without its userinfo, as ``models.urls.redact_url`` does."""
    parts = urlsplit(url)
    return parts._replace(netloc=parts.netloc.rpartition("@")[2]).geturl()


def due_at_once(started_at: datetime, index: int) -> datetime:
    """A schedule whose next attempt is due as soon as an interrupted one started."""
    return started_at


def claim(
    store: Store,
    message_id: str,
    endpoint_id: str,
    at: datetime = T0,
    *,
    trigger: AttemptTrigger = AttemptTrigger.SCHEDULED,
    due_after_interrupt: DueAfterInterrupt = due_at_once,
    max_scheduled: int = MAX_SCHEDULED,
    stale_after: timedelta = STALE_AFTER,
) -> Claim | Settled | Deferred:
    """Ask the store for the next attempt of a delivery at ``at``, as the activity does."""
    return store.claim_attempt(
        message_id,
        endpoint_id,
        trigger,
        at,
        redact=redact,
        due_after_interrupt=due_after_interrupt,
        max_scheduled=max_scheduled,
        stale_after=stale_after,
    )


def claimed(
    store: Store,
    message_id: str,
    endpoint_id: str,
    at: datetime = T0,
    *,
    trigger: AttemptTrigger = AttemptTrigger.SCHEDULED,
    stale_after: timedelta = STALE_AFTER,
) -> Claim:
    """``claim``, which must record an attempt in flight."""
    result = claim(store, message_id, endpoint_id, at, trigger=trigger, stale_after=stale_after)
    assert isinstance(result, Claim), f"expected a claim, got {result!r}"
    return result


def outcome(
    made: Claim,
    status: DeliveryStatus = DeliveryStatus.PENDING,
    *,
    response_status: int | None = None,
    duration_ms: int = DURATION_MS,
    next_retry_at: datetime | None = None,
    disable_reason: DisabledReason | None = None,
) -> Finished:
    """The outcome of a claimed attempt: a 500 unless ``status`` is succeeded (then a 200)."""
    if response_status is None:
        response_status = 200 if status == DeliveryStatus.SUCCEEDED else 500
    failed = not 200 <= response_status < 300
    return Finished(
        message_id=made.message_id,
        endpoint_id=made.endpoint_id,
        attempt=made.attempt,
        status=status,
        duration_ms=duration_ms,
        response_status=response_status,
        response_body="nope" if failed else "ok",
        error_kind=ErrorKind.HTTP_STATUS if failed else None,
        error=f"HTTP {response_status}" if failed else None,
        next_retry_at=next_retry_at,
        disable_reason=disable_reason,
    )


def finish(store: Store, *results: Finished) -> set[str]:
    """Complete attempts in one transaction; the endpoints it disabled."""
    return store.finish_attempts(results, disable_after=DISABLE_AFTER)


def record_attempt(
    store: Store,
    message_id: str,
    endpoint_id: str,
    status: DeliveryStatus = DeliveryStatus.PENDING,
    at: datetime = T0,
    *,
    trigger: AttemptTrigger = AttemptTrigger.SCHEDULED,
    response_status: int | None = None,
    next_retry_at: datetime | None = None,
    disable_reason: DisabledReason | None = None,
) -> tuple[Claim, set[str]]:
    """Claim an attempt at ``at`` and finish it with ``status``: the claim, and who it disabled.

    A failure with retries left by default (``pending``, HTTP 500).
    """
    made = claimed(store, message_id, endpoint_id, at, trigger=trigger)
    disabled = finish(
        store,
        outcome(
            made,
            status,
            response_status=response_status,
            next_retry_at=next_retry_at,
            disable_reason=disable_reason,
        ),
    )
    return made, disabled


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
        max_attempts=MAX_SCHEDULED,
    )
    return planned.endpoint_ids


def plan_event(store: Store, event: Event, now: datetime) -> str:
    """Store ``event``'s message with its deliveries planned, as a dispatcher's batch would."""
    store.plan_deliveries(
        message_id=event.message_id,
        event_type=event.event_type.value,
        business_key=event.business_key,
        payload=event.payload,
        created_at=event.created_at,
        now=now,
        max_attempts=MAX_SCHEDULED,
    )
    return event.message_id


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
