"""Attempt outcomes: each claimed attempt completed, its delivery advanced, its endpoint's health.

The second half of the attempt accounting of ``store.attempts``: a claimed attempt gets its
outcome (``Finished``) once its request returned (or failed), in the caller's session (``Store``
owns the transactions).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from pydantic import BaseModel
from sqlmodel import Session, col, select

from models.delivery import AttemptState, AttemptTrigger, DeliveryStatus, DisabledReason, ErrorKind
from store.attempts import locked_deliveries
from store.endpoints import disable, locked_endpoints
from store.tables import Attempt, Delivery, Endpoint


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


def finish(session: Session, results: Sequence[Finished], disable_after: timedelta) -> set[str]:
    """Complete claimed attempts, their deliveries and their endpoints' health.

    Returns:
        The endpoints this call disabled.

    Raises:
        LookupError: a result names no recorded attempt (a bug: results come from claims).
    """
    endpoint_ids = sorted({r.endpoint_id for r in results})
    endpoints = {e.id: e for e in locked_endpoints(session, endpoint_ids)}
    # An endpoint deleted while its attempts were in flight took their rows with it: the
    # other outcomes of the batch are recorded all the same.
    results = [r for r in results if r.endpoint_id in endpoints]
    if not results:
        return set()
    attempts = _attempts_by_number(session, results)
    keys = list(dict.fromkeys((r.message_id, r.endpoint_id) for r in results))
    deliveries = {
        (d.message_id, d.endpoint_id): d
        for d in locked_deliveries(session, list({k[0] for k in keys}))
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


# Inside finish ------------------------------------------------------------------------------
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
    if reason is None or not endpoint.enabled:
        return False
    disable(endpoint, reason, finished_at)
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
