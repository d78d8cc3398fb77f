"""Attempt accounting: attempts recorded before their request is sent, and completed after.

Every attempt of a message to an endpoint, scheduled or manual, takes the next number from its
delivery's counter (``Delivery.attempts``) in the transaction that records it ``in_flight``, so a
number is never given twice and every request that may have reached a receiver has a row. An
attempt whose worker died before completing it is marked ``interrupted`` (outcome unknown) by
the next attempt of the same delivery. A recorded success is final: a later scheduled attempt
is not sent, and no completion moves a delivery back from ``succeeded``.

These functions work inside the caller's session (``Store`` owns the transactions).
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
from models.delivery import (
    AttemptState,
    AttemptTrigger,
    DeliveryStatus,
    DisabledReason,
    EndpointStatus,
    ErrorKind,
    Event,
)
from store.engine import insert_ignore
from store.tables import Attempt, Delivery, Endpoint, EndpointSecret, Message

PENDING = DeliveryStatus.PENDING


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


class Finished(BaseModel):
    """The outcome of a claimed attempt, and its delivery's status after it."""

    message_id: str
    endpoint_id: str
    attempt: int
    status: DeliveryStatus  # pending while retries remain
    duration_ms: int
    response_status: int | None
    response_body: str | None
    error_kind: ErrorKind | None
    error: str | None
    next_retry_at: datetime | None
    disable_reason: DisabledReason | None = None  # disable the endpoint now (410 Gone)


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
    """Store a batch's events and record the first attempt of each of their new deliveries."""
    insert_ignore(session, Message, [_message_row(event, batch_id) for event in events])
    ids = list(dict.fromkeys(event.message_id for event in events))
    messages = {m.id: m for m in session.exec(select(Message).where(col(Message.id).in_(ids)))}
    if missing := [event for event in events if event.message_id not in messages]:
        raise Conflict(
            f"business key {missing[0].business_key!r} already belongs to another message than "
            f"{missing[0].message_id}; message ids derive from business keys, so the emitter "
            "is wrong"
        )
    mine = [messages[i] for i in ids if messages[i].accepted_by == batch_id]
    accepted = Accepted(duplicates=len(ids) - len(mine))
    planned = _by_message(_locked_deliveries(session, [m.id for m in mine]))
    endpoints = {e.id: e for e in session.exec(select(Endpoint))}
    unplanned = [m for m in mine if m.id not in planned]
    insert_ignore(session, Delivery, plan_rows(unplanned, endpoints.values(), now))
    deliveries = _by_message(_locked_deliveries(session, [m.id for m in mine]))
    # Only a re-run of the batch finds deliveries planned before it: only they have attempts.
    latest = _latest_attempts(session, list(planned))
    pending = {d.endpoint_id for ds in deliveries.values() for d in ds if d.status == PENDING}
    secrets = signing_secrets(session, pending, now)
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
    if endpoint.status != EndpointStatus.ENABLED:
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
    secrets = signing_secrets(session, [endpoint.id], now)[endpoint.id]
    return _claim(session, message, delivery, endpoint, secrets, index, now, redact, trigger)


def finish(session: Session, results: Sequence[Finished], disable_after: timedelta) -> set[str]:
    """Complete claimed attempts, their deliveries and endpoints' health; returns disabled ids."""
    # Endpoints locked in id order: two batches finishing at once cannot deadlock on them.
    endpoint_ids = sorted({r.endpoint_id for r in results})
    endpoints = {e.id: e for e in _locked_endpoints(session, endpoint_ids)}
    # An endpoint deleted while its attempts were in flight took their rows with it: the
    # other outcomes of the batch are recorded all the same.
    results = [r for r in results if r.endpoint_id in endpoints]
    if not results:
        return set()
    attempts = _attempts_by_number(session, results)
    keys = list(dict.fromkeys((r.message_id, r.endpoint_id) for r in results))
    deliveries = {
        (d.message_id, d.endpoint_id): d
        for d in _locked_deliveries(session, list({k[0] for k in keys}))
    }
    disabled: set[str] = set()
    for result in sorted(results, key=lambda r: attempts[_key(r)].started_at):
        attempt = attempts[_key(result)]
        _complete(attempt, result)
        delivery = deliveries[(result.message_id, result.endpoint_id)]
        finished_at = attempt.started_at + timedelta(milliseconds=result.duration_ms)
        _advance(delivery, attempt, result, finished_at)
        endpoint = endpoints[result.endpoint_id]
        if _health(endpoint, result, attempt.started_at, finished_at, disable_after):
            disabled.add(endpoint.id)
    return disabled


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
            DeliveryStatus.PENDING
            if endpoint.status == EndpointStatus.ENABLED
            else DeliveryStatus.SKIPPED,
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
    session.add(
        Attempt(
            message_id=message.id,
            endpoint_id=endpoint.id,
            attempt=delivery.attempts,
            trigger=trigger,
            state=AttemptState.IN_FLIGHT,
            started_at=now,
            url=redact(endpoint.url),
        )
    )
    return Claim(
        message_id=message.id,
        endpoint_id=endpoint.id,
        event_type=message.event_type,
        payload=message.payload,
        created_at=message.created_at,
        url=endpoint.url,
        secrets=secrets,
        attempt=delivery.attempts,
        scheduled_index=index,
        trigger=trigger,
        started_at=now,
    )


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


def _complete(attempt: Attempt, result: Finished) -> None:
    # An attempt marked interrupted whose worker did finish after all (a zombie past its
    # heartbeat timeout) gets its real outcome: the log then says what the receiver saw.
    attempt.state = AttemptState.COMPLETED
    attempt.duration_ms = result.duration_ms
    attempt.response_status = result.response_status
    attempt.response_body = result.response_body
    attempt.error_kind = result.error_kind
    attempt.error = result.error
    attempt.next_retry_at = result.next_retry_at


def _advance(delivery: Delivery, attempt: Attempt, result: Finished, finished_at: datetime) -> None:
    """The delivery's status after an attempt.

    A recorded success is never undone, and a success is always recorded, even one that comes
    late. Any other outcome is the delivery's only when it is its latest attempt (not a zombie
    finishing after the next attempt started) and, for a manual one, when no scheduled retry is
    pending: a failed resend does not cut the schedule short.
    """
    succeeded = result.status == DeliveryStatus.SUCCEEDED
    if delivery.status == DeliveryStatus.SUCCEEDED:
        return
    if not succeeded and attempt.attempt < delivery.attempts:
        return
    manual = attempt.trigger == AttemptTrigger.MANUAL
    if manual and not succeeded and delivery.status == DeliveryStatus.PENDING:
        return
    delivery.status = result.status
    delivery.next_attempt_at = result.next_retry_at
    delivery.updated_at = max(delivery.updated_at, finished_at)


def _settle(delivery: Delivery, status: DeliveryStatus, now: datetime) -> None:
    if delivery.status == DeliveryStatus.PENDING:
        delivery.status = status
        delivery.next_attempt_at = None
        delivery.updated_at = now


def _health(
    endpoint: Endpoint,
    result: Finished,
    started_at: datetime,
    finished_at: datetime,
    disable_after: timedelta,
) -> bool:
    """Track the endpoint's failure streak; whether this attempt disabled it."""
    if result.status == DeliveryStatus.SUCCEEDED:
        endpoint.failing_since = None
    elif result.status != DeliveryStatus.SKIPPED and not endpoint.failing_since:
        endpoint.failing_since = started_at
    reason = result.disable_reason
    streak = endpoint.failing_since
    if reason is None and streak is not None and streak <= started_at - disable_after:
        reason = DisabledReason.FAILING
    if reason is None or endpoint.status == EndpointStatus.DISABLED:
        return False
    endpoint.status = EndpointStatus.DISABLED
    endpoint.disabled_reason = reason
    endpoint.updated_at = finished_at
    return True


def _key(result: Finished) -> tuple[str, str, int]:
    return (result.message_id, result.endpoint_id, result.attempt)


def _attempts_by_number(
    session: Session, results: Sequence[Finished]
) -> dict[tuple[str, str, int], Attempt]:
    message_ids = list({r.message_id for r in results})
    wanted = {_key(r) for r in results}
    query = select(Attempt).where(col(Attempt.message_id).in_(message_ids))
    found = {(a.message_id, a.endpoint_id, a.attempt): a for a in session.exec(query)}
    missing = wanted - found.keys()
    if missing:
        raise LookupError(f"no attempt in flight for {sorted(missing)[0]}")
    return {key: found[key] for key in wanted}


def _latest_attempts(session: Session, message_ids: list[str]) -> dict[tuple[str, str], Attempt]:
    if not message_ids:
        return {}
    query = (
        select(Attempt)
        .where(col(Attempt.message_id).in_(message_ids))
        .order_by(col(Attempt.attempt))
    )
    return {(a.message_id, a.endpoint_id): a for a in session.exec(query)}


def _locked_deliveries(session: Session, message_ids: list[str]) -> list[Delivery]:
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


def _locked_endpoints(session: Session, endpoint_ids: list[str]) -> list[Endpoint]:
    # FOR NO KEY UPDATE: blocks other writers of these endpoints but not the inserts of
    # deliveries and attempts referencing them (their foreign keys take KEY SHARE).
    query = (
        select(Endpoint)
        .where(col(Endpoint.id).in_(endpoint_ids))
        .order_by(col(Endpoint.id))
        .with_for_update(key_share=True)
    )
    return list(session.exec(query))


def signing_secrets(
    session: Session, endpoint_ids: Iterable[str], now: datetime
) -> dict[str, list[str]]:
    """Per endpoint, the secrets that sign a request at ``now``: the current one first, then
    the most recently replaced ones still inside their grace."""
    wanted = list(endpoint_ids)
    secrets: dict[str, list[str]] = {endpoint_id: [] for endpoint_id in wanted}
    if not wanted:
        return secrets
    query = (
        select(EndpointSecret)
        .where(col(EndpointSecret.endpoint_id).in_(wanted))
        .where(
            sa.or_(col(EndpointSecret.expires_at).is_(None), col(EndpointSecret.expires_at) > now)
        )
    )
    rows = sorted(session.exec(query), key=lambda r: (r.expires_at is not None, -(r.id or 0)))
    for row in rows:
        secrets[row.endpoint_id].append(row.secret)
    return secrets
