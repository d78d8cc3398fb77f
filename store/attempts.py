"""Attempt accounting: attempts recorded before their request is sent, and completed after.

Every attempt of a message to an endpoint, scheduled or manual, takes the next number from its
delivery's counter (``Delivery.attempts``) in the transaction that records it ``in_flight``, so a
number is never given twice and every request that may have reached a receiver has a row. An
attempt whose worker died before completing it is marked ``interrupted`` (outcome unknown) by
the next attempt of the same delivery. A recorded success is final: a later scheduled attempt
is not sent, and no completion moves a delivery back from ``succeeded``.

These functions work inside the caller's session (``Store`` owns the transactions); the
completion of claimed attempts is ``store.outcomes``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from pydantic import BaseModel
from sqlmodel import Session, col, select

from errors import Conflict
from models.delivery import AttemptState, AttemptTrigger, DeliveryStatus, Event
from store.endpoints import signing_secrets_at
from store.persist import insert_ignore, to_model
from store.tables import Attempt, Delivery, Endpoint, Message

PENDING = DeliveryStatus.PENDING
#: The fields of a claim its attempt's row records as they are (the URL is redacted first).
_RECORDED = {"message_id", "endpoint_id", "attempt", "trigger", "started_at"}


class Claim(BaseModel):
    """An attempt recorded in flight: everything its request needs, secrets included."""

    message_id: str
    endpoint_id: str
    event_type: str
    payload: dict[str, Any]
    created_at: datetime
    url: str
    secrets: list[str]  # current first, then rotated-out ones still inside their grace
    attempt: int  # the number in the signed body
    scheduled_index: int  # its place in the retry schedule (1 = first); 0 for a manual one
    trigger: AttemptTrigger
    started_at: datetime


class Handoff(BaseModel):
    """A delivery of a retried batch that already had an attempt: its retries take over.

    ``started_at`` and ``scheduled_index`` are those of its last attempt; ``next_retry_at`` is
    set when that attempt completed and asked for a retry, None when it was interrupted.
    """

    message_id: str
    endpoint_id: str
    started_at: datetime
    scheduled_index: int
    next_retry_at: datetime | None


@dataclass
class Accepted:
    """A batch of events as the store accepted it (``Store.accept_batch``)."""

    claims: list[Claim] = field(default_factory=list)
    handoffs: list[Handoff] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # event types of deliveries to disabled
    # endpoints, recorded ``skipped``
    settled: int = 0  # deliveries a previous run of the batch already settled
    duplicates: int = 0  # events another emission accepted before


@dataclass(frozen=True)
class Settled:
    """A scheduled attempt that is not made: the delivery is no longer pending."""

    status: DeliveryStatus


@dataclass(frozen=True)
class Deferred:
    """A scheduled attempt that waits: its predecessor was interrupted less than a delay ago."""

    interrupted: int  # the interrupted attempt's number
    wait: timedelta


#: Takes credentials out of a URL before an attempt records it.
Redact = Callable[[str], str]
#: Given an interrupted attempt's start and schedule index, when the next one may start.
DueAfterInterrupt = Callable[[datetime, int], datetime]


def accept(
    session: Session,
    batch_id: str,
    events: Sequence[Event],
    now: datetime,
    redact: Redact,
) -> Accepted:
    """Store a batch's events and record the first attempt of each of their new deliveries.

    Raises:
        Conflict: an event's business key already belongs to a message with another id.
    """
    insert_ignore(session, Message, [_message_row(event, batch_id) for event in events])
    ids = list(dict.fromkeys(event.message_id for event in events))
    messages = {m.id: m for m in session.exec(select(Message).where(col(Message.id).in_(ids)))}
    if missing := [event for event in events if event.message_id not in messages]:
        raise key_taken(missing[0].business_key, missing[0].message_id)
    mine = [messages[i] for i in ids if messages[i].accepted_by == batch_id]
    accepted = Accepted(duplicates=len(ids) - len(mine))
    planned = _by_message(locked_deliveries(session, [m.id for m in mine]))
    endpoints = {e.id: e for e in session.exec(select(Endpoint))}
    unplanned = [m for m in mine if m.id not in planned]
    insert_ignore(session, Delivery, plan_rows(unplanned, endpoints.values(), now))
    deliveries = _by_message(locked_deliveries(session, [m.id for m in mine]))
    # Only a re-run of the batch finds deliveries planned before it: only they have attempts.
    latest = _latest_attempts(session, list(planned))
    pending = {d.endpoint_id for ds in deliveries.values() for d in ds if d.status == PENDING}
    secrets = signing_secrets_at(session, pending, now)
    for message in mine:
        for delivery in deliveries.get(message.id, []):
            last = latest.get((delivery.message_id, delivery.endpoint_id))
            _accept_one(accepted, session, message, delivery, last, endpoints, secrets, now, redact)
    return accepted


def _accept_one(
    accepted: Accepted,
    session: Session,
    message: Message,
    delivery: Delivery,
    last: Attempt | None,
    endpoints: dict[str, Endpoint],
    secrets: dict[str, list[str]],
    now: datetime,
    redact: Redact,
) -> None:
    if delivery.status == DeliveryStatus.SKIPPED and last is None:
        accepted.skipped.append(message.event_type)
    elif delivery.status != DeliveryStatus.PENDING:
        accepted.settled += 1
    elif last is None:
        endpoint = endpoints[delivery.endpoint_id]
        accepted.claims.append(
            _claim(session, message, delivery, endpoint, secrets[endpoint.id], 1, now, redact)
        )
    else:
        if last.state == AttemptState.IN_FLIGHT:
            last.state = AttemptState.INTERRUPTED
        accepted.handoffs.append(
            Handoff(
                message_id=delivery.message_id,
                endpoint_id=delivery.endpoint_id,
                started_at=last.started_at,
                scheduled_index=_scheduled_count(session, delivery),
                next_retry_at=last.next_retry_at,
            )
        )


def claim_one(
    session: Session,
    delivery: Delivery,
    message: Message,
    endpoint: Endpoint,
    trigger: AttemptTrigger,
    now: datetime,
    redact: Redact,
    due_after_interrupt: DueAfterInterrupt,
    max_scheduled: int,
    stale_after: timedelta,
) -> Claim | Settled | Deferred:
    """Record the next attempt of ``delivery`` in flight, or say why none is made now."""
    scheduled = trigger is AttemptTrigger.SCHEDULED
    interrupted = _interrupt_stale(session, delivery, scheduled, now - stale_after)
    if scheduled and delivery.status != DeliveryStatus.PENDING:
        return Settled(DeliveryStatus(delivery.status))
    if not endpoint.enabled:
        _settle(delivery, DeliveryStatus.SKIPPED, now)
        return Settled(DeliveryStatus(delivery.status))
    index = _scheduled_count(session, delivery) + 1 if scheduled else 0
    if scheduled and index > max_scheduled:
        # The last scheduled attempt was interrupted: the schedule is spent all the same.
        _settle(delivery, DeliveryStatus.FAILED, now)
        return Settled(DeliveryStatus(delivery.status))
    if scheduled and interrupted is not None:
        due = due_after_interrupt(interrupted.started_at, index - 1)
        if due > now:
            return Deferred(interrupted=interrupted.attempt, wait=due - now)
    secrets = signing_secrets_at(session, [endpoint.id], now)[endpoint.id]
    return _claim(session, message, delivery, endpoint, secrets, index, now, redact, trigger)


def key_taken(business_key: str, message_id: str) -> Conflict:
    """The error for a business key stored with another message id than ``message_id``."""
    return Conflict(
        f"business key {business_key!r} already belongs to another message than {message_id}; "
        "message ids derive from business keys, so the emitter is wrong"
    )


# Inside the functions above ------------------------------------------------------------------
def _message_row(event: Event, batch_id: str) -> dict[str, Any]:
    return {
        "id": event.message_id,
        "event_type": event.event_type.value,
        "business_key": event.business_key,
        "payload": event.payload,
        "created_at": event.created_at,
        "accepted_by": batch_id,
    }


def plan_rows(
    messages: Sequence[Message], endpoints: Iterable[Endpoint], now: datetime
) -> list[dict[str, Any]]:
    """A delivery row per message and endpoint subscribed to its type; disabled ones skipped."""
    subscribed = list(endpoints)
    return [
        delivery_row(
            message.id,
            endpoint.id,
            DeliveryStatus.PENDING if endpoint.enabled else DeliveryStatus.SKIPPED,
            now,
        )
        for message in messages
        for endpoint in subscribed
        if message.event_type in endpoint.event_types
    ]


def delivery_row(
    message_id: str, endpoint_id: str, status: DeliveryStatus, now: datetime
) -> dict[str, Any]:
    """A new delivery's row, with no attempt yet."""
    return {
        "message_id": message_id,
        "endpoint_id": endpoint_id,
        "status": status,
        "attempts": 0,
        "next_attempt_at": None,
        "created_at": now,
        "updated_at": now,
    }


def _claim(
    session: Session,
    message: Message,
    delivery: Delivery,
    endpoint: Endpoint,
    secrets: list[str],
    index: int,
    now: datetime,
    redact: Redact,
    trigger: AttemptTrigger = AttemptTrigger.SCHEDULED,
) -> Claim:
    delivery.attempts += 1
    delivery.updated_at = now
    # The message gives its event type, payload and creation time.
    claim = to_model(
        Claim,
        message,
        message_id=message.id,
        endpoint_id=endpoint.id,
        url=endpoint.url,
        secrets=secrets,
        attempt=delivery.attempts,
        scheduled_index=index,
        trigger=trigger,
        started_at=now,
    )
    recorded = claim.model_dump(include=_RECORDED)
    session.add(Attempt(**recorded, state=AttemptState.IN_FLIGHT, url=redact(claim.url)))
    return claim


def _interrupt_stale(
    session: Session, delivery: Delivery, scheduled: bool, started_before: datetime
) -> Attempt | None:
    """Mark attempts of the delivery that died in flight ``interrupted``; the latest scheduled one.

    A delivery's scheduled attempts run one at a time, so a scheduled one still in flight when
    the next scheduled one starts belongs to a worker that died. Any attempt in flight since
    before ``started_before`` (past Temporal's timeout for it) is dead too. A manual attempt
    running beside a scheduled one is left alone.
    """
    query = (
        select(Attempt)
        .where(col(Attempt.message_id) == delivery.message_id)
        .where(col(Attempt.endpoint_id) == delivery.endpoint_id)
        .where(col(Attempt.state) == AttemptState.IN_FLIGHT)
        .order_by(col(Attempt.attempt))
    )
    latest: Attempt | None = None
    for attempt in session.exec(query):
        is_scheduled = attempt.trigger == AttemptTrigger.SCHEDULED
        if (scheduled and is_scheduled) or attempt.started_at < started_before:
            attempt.state = AttemptState.INTERRUPTED
            latest = attempt if is_scheduled else latest
    return latest


def _scheduled_count(session: Session, delivery: Delivery) -> int:
    query = (
        select(sa.func.count())
        .select_from(Attempt)
        .where(col(Attempt.message_id) == delivery.message_id)
        .where(col(Attempt.endpoint_id) == delivery.endpoint_id)
        .where(col(Attempt.trigger) == AttemptTrigger.SCHEDULED)
    )
    return session.exec(query).one()


def _settle(delivery: Delivery, status: DeliveryStatus, now: datetime) -> None:
    if delivery.status == DeliveryStatus.PENDING:
        delivery.status = status
        delivery.next_attempt_at = None
        delivery.updated_at = now


def _latest_attempts(session: Session, message_ids: list[str]) -> dict[tuple[str, str], Attempt]:
    if not message_ids:
        return {}
    query = (
        select(Attempt)
        .where(col(Attempt.message_id).in_(message_ids))
        .order_by(col(Attempt.attempt))
    )
    return {(a.message_id, a.endpoint_id): a for a in session.exec(query)}


def locked_deliveries(session: Session, message_ids: list[str]) -> list[Delivery]:
    """Deliveries of ``message_ids`` in key order, row-locked on PostgreSQL (SQLite's writes are
    serialized already): attempts of one delivery take their numbers one after the other."""
    if not message_ids:
        return []
    query = (
        select(Delivery)
        .where(col(Delivery.message_id).in_(message_ids))
        .order_by(col(Delivery.message_id), col(Delivery.endpoint_id))
    )
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update()
    return list(session.exec(query))


def _by_message(deliveries: list[Delivery]) -> dict[str, list[Delivery]]:
    grouped: dict[str, list[Delivery]] = {}
    for delivery in deliveries:
        grouped.setdefault(delivery.message_id, []).append(delivery)
    return grouped
