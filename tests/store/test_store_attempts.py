"""Attempt accounting as a user sees it in ``attempt list`` and ``message show``.

Every attempt is on record, ``in_flight``, before its request is sent; its number comes from the
delivery's counter, shared by scheduled and manual attempts, and is never given twice; an
attempt whose worker died is ``interrupted`` by the next one; a success is final. Also the 0003
migration, which renumbers the numbers earlier releases could reuse.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command
from store_testing import (
    DURATION_MS,
    STALE_AFTER,
    T0,
    claim,
    claimed,
    finish,
    outcome,
    plan_event,
    record_attempt,
    redact,
)

from errors import Conflict, NotFound
from models.delivery import (
    AttemptState,
    AttemptTrigger,
    DeliveryStatus,
    DisabledReason,
    ErrorKind,
    Event,
)
from models.events import EventType
from store import Store, migrate
from store.attempts import Accepted, Claim, Deferred, Handoff, Settled
from store.tables import Attempt, Delivery, Endpoint, UTCDateTime

SCHEDULED = AttemptTrigger.SCHEDULED
MANUAL = AttemptTrigger.MANUAL
IN_FLIGHT = AttemptState.IN_FLIGHT
COMPLETED = AttemptState.COMPLETED
INTERRUPTED = AttemptState.INTERRUPTED
SECOND = timedelta(seconds=1)
MINUTE = timedelta(minutes=1)


def _endpoint(store: Store, host: str = "a.example", *event_types: str) -> Endpoint:
    types = list(event_types) or [EventType.INVOICE_PAID.value]
    endpoint, _ = store.create_endpoint(f"https://{host}/hook", types, T0)
    return endpoint


def _event(key: str = "invoice_1", event_type: EventType = EventType.INVOICE_PAID) -> Event:
    return Event.for_event(event_type, key, {"invoice_id": key}, T0)


def _accept(store: Store, batch_id: str, *events: Event, at: datetime = T0) -> Accepted:
    return store.accept_batch(batch_id, events, at, redact)


def _message(store: Store, key: str = "invoice_1") -> str:
    """Store an event's message with its deliveries planned (their first attempts left to do)."""
    return plan_event(store, _event(key), T0)


def _log(store: Store, message_id: str) -> list[tuple[int, AttemptTrigger, AttemptState]]:
    """The attempt log of a message, by number: (number, trigger, state)."""
    attempts = store.list_attempts(message_id=message_id)
    return sorted((a.attempt, a.trigger, a.state) for a in attempts)


def _delivery(store: Store, message_id: str, endpoint_id: str) -> Delivery:
    deliveries = {d.endpoint_id: d for d in store.deliveries_for_message(message_id)}
    return deliveries[endpoint_id]


@dataclass
class DueAfter:
    """A ``due_after_interrupt`` that answers ``started_at + delay`` and notes what it was asked."""

    delay: timedelta
    asked: list[tuple[datetime, int]] = field(default_factory=list)

    def __call__(self, started_at: datetime, index: int) -> datetime:
        self.asked.append((started_at, index))
        return started_at + self.delay


# Write-ahead ---------------------------------------------------------------------------------
def test_an_attempt_is_on_record_in_flight_before_its_request_and_completed_after(
    store: Store,
) -> None:
    endpoint, _ = store.create_endpoint(
        "https://user:hunter2@a.example/hook", [EventType.INVOICE_PAID.value], T0
    )
    message_id = _message(store)
    made = claimed(store, message_id, endpoint.id, T0 + SECOND)

    [attempt] = store.list_attempts(message_id=message_id)
    assert (attempt.attempt, attempt.trigger, attempt.state) == (1, SCHEDULED, IN_FLIGHT)
    assert (attempt.started_at, attempt.url) == (T0 + SECOND, "https://a.example/hook")
    assert (attempt.duration_ms, attempt.response_status, attempt.error) == (None, None, None)
    assert made.attempt == 1
    delivery = _delivery(store, message_id, endpoint.id)
    assert (delivery.attempts, delivery.status) == (1, DeliveryStatus.PENDING)

    retry_at = T0 + 10 * SECOND
    finish(store, outcome(made, response_status=503, duration_ms=250, next_retry_at=retry_at))

    [attempt] = store.list_attempts(message_id=message_id)
    assert (attempt.attempt, attempt.state, attempt.duration_ms) == (1, COMPLETED, 250)
    assert (attempt.response_status, attempt.error_kind, attempt.error) == (
        503,
        ErrorKind.HTTP_STATUS,
        "HTTP 503",
    )
    assert attempt.next_retry_at == retry_at
    delivery = _delivery(store, message_id, endpoint.id)
    assert (delivery.attempts, delivery.status, delivery.next_attempt_at) == (
        1,
        DeliveryStatus.PENDING,
        retry_at,
    )
    assert delivery.updated_at == T0 + SECOND + timedelta(milliseconds=250)


def test_attempts_of_many_deliveries_complete_in_one_call(store: Store) -> None:
    first = _endpoint(store, "first.example")
    second = _endpoint(store, "second.example")
    message_id = _message(store)
    to_first = claimed(store, message_id, first.id)
    to_second = claimed(store, message_id, second.id, T0 + SECOND)
    finish(store, outcome(to_second, DeliveryStatus.SUCCEEDED), outcome(to_first))
    states = {(a.endpoint_id, a.attempt): a.state for a in store.list_attempts()}
    assert states == {(first.id, 1): COMPLETED, (second.id, 1): COMPLETED}
    assert {d.endpoint_id: d.status for d in store.deliveries_for_message(message_id)} == {
        first.id: DeliveryStatus.PENDING,
        second.id: DeliveryStatus.SUCCEEDED,
    }


# Numbering -----------------------------------------------------------------------------------
def test_scheduled_and_manual_attempts_share_one_count(store: Store) -> None:
    endpoint = _endpoint(store)
    message_id = _message(store)
    first = claimed(store, message_id, endpoint.id, T0)
    finish(store, outcome(first))
    # A resend while the delivery is still retrying: both run side by side.
    resend = claimed(store, message_id, endpoint.id, T0 + SECOND, trigger=MANUAL)
    retry = claimed(store, message_id, endpoint.id, T0 + 5 * SECOND)
    assert _log(store, message_id) == [
        (1, SCHEDULED, COMPLETED),
        (2, MANUAL, IN_FLIGHT),
        (3, SCHEDULED, IN_FLIGHT),  # a fresh manual attempt in flight is not interrupted
    ]
    finish(store, outcome(retry, DeliveryStatus.PENDING))
    finish(store, outcome(resend, DeliveryStatus.SUCCEEDED))
    again = claimed(store, message_id, endpoint.id, T0 + MINUTE, trigger=MANUAL)
    finish(store, outcome(again, DeliveryStatus.SUCCEEDED))
    assert claim(store, message_id, endpoint.id, T0 + 2 * MINUTE) == Settled(
        DeliveryStatus.SUCCEEDED
    )
    last = claimed(store, message_id, endpoint.id, T0 + 3 * MINUTE, trigger=MANUAL)

    made = [first, resend, retry, again, last]
    assert [m.attempt for m in made] == [1, 2, 3, 4, 5]
    # The schedule counts scheduled attempts only; a manual one has no place in it.
    assert [m.scheduled_index for m in made] == [1, 0, 2, 0, 0]
    assert [number for number, _, _ in _log(store, message_id)] == [1, 2, 3, 4, 5]
    assert _delivery(store, message_id, endpoint.id).attempts == 5


def test_a_manual_resend_after_two_scheduled_attempts_is_number_3(store: Store) -> None:
    endpoint = _endpoint(store)
    message_id = _message(store)
    record_attempt(store, message_id, endpoint.id, at=T0)
    record_attempt(store, message_id, endpoint.id, at=T0 + 5 * SECOND)
    resend, _ = record_attempt(
        store, message_id, endpoint.id, DeliveryStatus.PENDING, T0 + MINUTE, trigger=MANUAL
    )
    assert (resend.attempt, resend.trigger, resend.scheduled_index) == (3, MANUAL, 0)
    # The next scheduled attempt is the schedule's third, and the delivery's fourth.
    retry = claimed(store, message_id, endpoint.id, T0 + 5 * MINUTE)
    assert (retry.attempt, retry.scheduled_index) == (4, 3)
    assert _log(store, message_id) == [
        (1, SCHEDULED, COMPLETED),
        (2, SCHEDULED, COMPLETED),
        (3, MANUAL, COMPLETED),
        (4, SCHEDULED, IN_FLIGHT),
    ]


def test_a_resend_of_a_failed_delivery_continues_its_count(store: Store) -> None:
    endpoint = _endpoint(store)
    message_id = _message(store)
    record_attempt(store, message_id, endpoint.id, at=T0)
    record_attempt(store, message_id, endpoint.id, DeliveryStatus.FAILED, T0 + 5 * SECOND)
    assert claim(store, message_id, endpoint.id, T0 + MINUTE) == Settled(DeliveryStatus.FAILED)
    resend, _ = record_attempt(
        store, message_id, endpoint.id, DeliveryStatus.SUCCEEDED, T0 + 2 * MINUTE, trigger=MANUAL
    )
    assert resend.attempt == 3
    delivery = _delivery(store, message_id, endpoint.id)
    assert (delivery.status, delivery.attempts) == (DeliveryStatus.SUCCEEDED, 3)


def test_concurrent_manual_claims_never_share_a_number(store: Store) -> None:
    endpoint = _endpoint(store)
    message_id = _message(store)
    threads, rounds = 8, 4
    start = threading.Barrier(threads)

    def resend(worker: int) -> list[int]:
        start.wait()
        numbers = []
        for round_ in range(rounds):
            at = T0 + (round_ * threads + worker) * SECOND
            numbers.append(claimed(store, message_id, endpoint.id, at, trigger=MANUAL).attempt)
        return numbers

    with ThreadPoolExecutor(max_workers=threads) as pool:
        given = [n for numbers in pool.map(resend, range(threads)) for n in numbers]

    total = threads * rounds
    assert sorted(given) == list(range(1, total + 1))
    assert _log(store, message_id) == [(n, MANUAL, IN_FLIGHT) for n in range(1, total + 1)]
    assert _delivery(store, message_id, endpoint.id).attempts == total


def test_concurrent_claims_and_finishes_on_one_delivery_keep_the_count(store: Store) -> None:
    endpoint = _endpoint(store)
    message_id = _message(store)

    def resend(number: int) -> int:
        made, _ = record_attempt(
            store,
            message_id,
            endpoint.id,
            DeliveryStatus.PENDING,
            T0 + number * SECOND,
            trigger=MANUAL,
        )
        return made.attempt

    with ThreadPoolExecutor(max_workers=8) as pool:
        given = list(pool.map(resend, range(24)))

    assert sorted(given) == list(range(1, 25))
    assert _log(store, message_id) == [(n, MANUAL, COMPLETED) for n in range(1, 25)]
    assert _delivery(store, message_id, endpoint.id).attempts == 24


# A worker that died mid-attempt --------------------------------------------------------------
def test_an_attempt_left_in_flight_defers_the_next_one_until_due(store: Store) -> None:
    endpoint = _endpoint(store)
    message_id = _message(store)
    claimed(store, message_id, endpoint.id, T0)  # its worker dies: never finished
    due = DueAfter(5 * MINUTE)

    deferred = claim(store, message_id, endpoint.id, T0 + MINUTE, due_after_interrupt=due)

    assert deferred == Deferred(interrupted=1, wait=4 * MINUTE)
    assert due.asked == [(T0, 1)]
    assert _log(store, message_id) == [(1, SCHEDULED, INTERRUPTED)]
    assert _delivery(store, message_id, endpoint.id).attempts == 1
    # When the retry comes back after the wait, its attempt is the second.
    retry = claimed(store, message_id, endpoint.id, T0 + 5 * MINUTE)
    assert (retry.attempt, retry.scheduled_index) == (2, 2)
    assert _log(store, message_id) == [(1, SCHEDULED, INTERRUPTED), (2, SCHEDULED, IN_FLIGHT)]


def test_an_attempt_left_in_flight_past_its_due_time_is_followed_at_once(store: Store) -> None:
    endpoint = _endpoint(store)
    message_id = _message(store)
    record_attempt(store, message_id, endpoint.id, at=T0)
    claimed(store, message_id, endpoint.id, T0 + 5 * SECOND)  # dies in flight
    due = DueAfter(5 * MINUTE)

    retry = claim(store, message_id, endpoint.id, T0 + 10 * MINUTE, due_after_interrupt=due)

    assert isinstance(retry, Claim)
    assert (retry.attempt, retry.scheduled_index) == (3, 3)
    assert due.asked == [(T0 + 5 * SECOND, 2)]
    assert _log(store, message_id) == [
        (1, SCHEDULED, COMPLETED),
        (2, SCHEDULED, INTERRUPTED),
        (3, SCHEDULED, IN_FLIGHT),
    ]


def test_an_interrupted_attempt_that_finishes_after_all_gets_its_outcome(store: Store) -> None:
    endpoint = _endpoint(store)
    message_id = _message(store)
    zombie = claimed(store, message_id, endpoint.id, T0)
    retry = claimed(store, message_id, endpoint.id, T0 + MINUTE)
    assert _log(store, message_id)[0] == (1, SCHEDULED, INTERRUPTED)
    finish(store, outcome(zombie, response_status=502, duration_ms=90_000))
    finish(store, outcome(retry, DeliveryStatus.SUCCEEDED))
    attempts = {a.attempt: a for a in store.list_attempts(message_id=message_id)}
    assert (attempts[1].state, attempts[1].response_status) == (COMPLETED, 502)
    assert (attempts[2].state, attempts[2].response_status) == (COMPLETED, 200)
    assert _delivery(store, message_id, endpoint.id).status == DeliveryStatus.SUCCEEDED


def test_an_interrupted_last_attempt_spends_the_schedule(store: Store) -> None:
    endpoint = _endpoint(store)
    message_id = _message(store)
    record_attempt(store, message_id, endpoint.id, at=T0)
    claimed(store, message_id, endpoint.id, T0 + 5 * SECOND)  # the last one; it dies

    settled = claim(store, message_id, endpoint.id, T0 + MINUTE, max_scheduled=2)

    assert settled == Settled(DeliveryStatus.FAILED)
    assert _log(store, message_id) == [(1, SCHEDULED, COMPLETED), (2, SCHEDULED, INTERRUPTED)]
    delivery = _delivery(store, message_id, endpoint.id)
    assert (delivery.status, delivery.attempts, delivery.next_attempt_at) == (
        DeliveryStatus.FAILED,
        2,
        None,
    )


def test_a_late_zombie_does_not_undo_the_outcome_of_the_attempt_after_it(store: Store) -> None:
    endpoint = _endpoint(store)
    message_id = _message(store)
    record_attempt(store, message_id, endpoint.id, at=T0)
    zombie = claimed(store, message_id, endpoint.id, T0 + 5 * SECOND)
    # Temporal gave up waiting on the zombie's worker: the next attempt runs and, being the
    # schedule's last, fails for good.
    last = claimed(store, message_id, endpoint.id, T0 + 2 * MINUTE)
    finish(store, outcome(last, DeliveryStatus.FAILED))
    assert _delivery(store, message_id, endpoint.id).status == DeliveryStatus.FAILED
    # Then the zombie's request returns, as a failure with retries left.
    finish(store, outcome(zombie, next_retry_at=T0 + 10 * MINUTE))

    assert _log(store, message_id) == [
        (1, SCHEDULED, COMPLETED),
        (2, SCHEDULED, COMPLETED),
        (3, SCHEDULED, COMPLETED),
    ]
    delivery = _delivery(store, message_id, endpoint.id)
    # Still failed: nothing will retry it, and `endpoint recover` only resends failed ones.
    assert (delivery.status, delivery.next_attempt_at) == (DeliveryStatus.FAILED, None)


# A success is final --------------------------------------------------------------------------
def test_after_a_success_no_scheduled_attempt_is_made(store: Store) -> None:
    endpoint = _endpoint(store)
    message_id = _message(store)
    record_attempt(store, message_id, endpoint.id, DeliveryStatus.SUCCEEDED, T0)
    succeeded_at = _delivery(store, message_id, endpoint.id).updated_at

    # A retry that was already scheduled (e.g. its activity retried after recording) comes.
    assert claim(store, message_id, endpoint.id, T0 + MINUTE) == Settled(DeliveryStatus.SUCCEEDED)

    assert _log(store, message_id) == [(1, SCHEDULED, COMPLETED)]
    delivery = _delivery(store, message_id, endpoint.id)
    assert (delivery.status, delivery.attempts, delivery.updated_at) == (
        DeliveryStatus.SUCCEEDED,
        1,
        succeeded_at,
    )


def test_a_failed_manual_resend_after_a_success_leaves_it_succeeded(store: Store) -> None:
    endpoint = _endpoint(store)
    message_id = _message(store)
    record_attempt(store, message_id, endpoint.id, DeliveryStatus.SUCCEEDED, T0)

    resend, disabled = record_attempt(
        store, message_id, endpoint.id, DeliveryStatus.FAILED, T0 + MINUTE, trigger=MANUAL
    )

    assert (resend.attempt, disabled) == (2, set())
    attempts = {a.attempt: a for a in store.list_attempts(message_id=message_id)}
    assert (attempts[2].trigger, attempts[2].state, attempts[2].response_status) == (
        MANUAL,
        COMPLETED,
        500,
    )
    delivery = _delivery(store, message_id, endpoint.id)
    assert (delivery.status, delivery.attempts) == (DeliveryStatus.SUCCEEDED, 2)


def test_a_failure_finishing_after_a_success_leaves_it_succeeded(store: Store) -> None:
    endpoint = _endpoint(store)
    message_id = _message(store)
    slow = claimed(store, message_id, endpoint.id, T0)
    resend = claimed(store, message_id, endpoint.id, T0 + SECOND, trigger=MANUAL)
    finish(store, outcome(resend, DeliveryStatus.SUCCEEDED))
    finish(store, outcome(slow, next_retry_at=T0 + MINUTE))
    delivery = _delivery(store, message_id, endpoint.id)
    assert (delivery.status, delivery.next_attempt_at) == (DeliveryStatus.SUCCEEDED, None)
    assert _log(store, message_id) == [(1, SCHEDULED, COMPLETED), (2, MANUAL, COMPLETED)]


def test_a_success_and_a_failure_finished_together_leave_it_succeeded(store: Store) -> None:
    endpoint = _endpoint(store)
    message_id = _message(store)
    first = claimed(store, message_id, endpoint.id, T0)
    second = claimed(store, message_id, endpoint.id, T0 + SECOND, trigger=MANUAL)
    finish(store, outcome(first, DeliveryStatus.SUCCEEDED), outcome(second, DeliveryStatus.FAILED))
    assert _delivery(store, message_id, endpoint.id).status == DeliveryStatus.SUCCEEDED


# Batches -------------------------------------------------------------------------------------
def test_accept_batch_stores_plans_and_claims_first_attempts(store: Store) -> None:
    enabled = _endpoint(store, "enabled.example")
    disabled = _endpoint(store, "disabled.example")
    _endpoint(store, "other.example", EventType.CUSTOMER_CREATED.value)
    store.disable_endpoint(disabled.id, DisabledReason.MANUAL, T0)
    first, second = _event("invoice_1"), _event("invoice_2")

    accepted = _accept(store, "batch-1", first, second, at=T0 + SECOND)

    assert sorted((c.message_id, c.endpoint_id, c.attempt) for c in accepted.claims) == sorted(
        [(first.message_id, enabled.id, 1), (second.message_id, enabled.id, 1)]
    )
    assert {(c.scheduled_index, c.trigger, c.started_at) for c in accepted.claims} == {
        (1, SCHEDULED, T0 + SECOND)
    }
    assert (accepted.handoffs, len(accepted.skipped), accepted.settled, accepted.duplicates) == (
        [],
        2,
        0,
        0,
    )
    message = store.get_message(first.message_id)
    assert (message.business_key, message.payload, message.accepted_by) == (
        "invoice.paid:invoice_1",
        {"invoice_id": "invoice_1"},
        "batch-1",
    )
    for event in (first, second):
        assert {
            d.endpoint_id: (d.status, d.attempts)
            for d in store.deliveries_for_message(event.message_id)
        } == {
            enabled.id: (DeliveryStatus.PENDING, 1),
            disabled.id: (DeliveryStatus.SKIPPED, 0),
        }
        assert _log(store, event.message_id) == [(1, SCHEDULED, IN_FLIGHT)]


def test_an_event_twice_in_one_batch_gets_one_first_attempt(store: Store) -> None:
    endpoint = _endpoint(store)
    event = _event()
    accepted = _accept(store, "batch-1", event, event)
    assert [(c.message_id, c.endpoint_id) for c in accepted.claims] == [
        (event.message_id, endpoint.id)
    ]
    assert accepted.duplicates == 0
    assert _log(store, event.message_id) == [(1, SCHEDULED, IN_FLIGHT)]


def test_an_event_another_batch_accepted_is_a_duplicate(store: Store) -> None:
    endpoint = _endpoint(store)
    event, other = _event("invoice_1"), _event("invoice_2")
    [made] = _accept(store, "batch-1", event).claims
    finish(store, outcome(made, DeliveryStatus.SUCCEEDED))

    accepted = _accept(store, "batch-2", event, other, at=T0 + MINUTE)

    assert [(c.message_id, c.endpoint_id) for c in accepted.claims] == [
        (other.message_id, endpoint.id)
    ]
    assert (accepted.duplicates, accepted.handoffs, accepted.settled) == (1, [], 0)
    assert _log(store, event.message_id) == [(1, SCHEDULED, COMPLETED)]
    assert store.get_message(event.message_id).accepted_by == "batch-1"


def test_an_event_planned_by_a_delivery_workflow_is_a_duplicate(store: Store) -> None:
    _endpoint(store)
    message_id = _message(store, "invoice_1")  # emitted through the per-event workflow
    accepted = _accept(store, "batch-1", _event("invoice_1"))
    assert (accepted.claims, accepted.duplicates) == ([], 1)
    assert _log(store, message_id) == []


def test_a_rerun_batch_hands_its_attempts_in_flight_off_to_retries(store: Store) -> None:
    endpoint = _endpoint(store)
    event = _event()
    [made] = _accept(store, "batch-1", event).claims  # the worker dies during the request

    again = _accept(store, "batch-1", event, at=T0 + MINUTE)

    assert again.claims == []
    assert again.handoffs == [
        Handoff(
            message_id=event.message_id,
            endpoint_id=endpoint.id,
            started_at=T0,
            scheduled_index=1,
            next_retry_at=None,
        )
    ]
    assert (again.duplicates, again.skipped, again.settled) == (0, [], 0)
    assert _log(store, event.message_id) == [(1, SCHEDULED, INTERRUPTED)]
    assert _delivery(store, event.message_id, endpoint.id).attempts == 1
    # The retries it hands off to continue the count.
    retry = claimed(store, event.message_id, endpoint.id, T0 + 2 * MINUTE)
    assert (retry.attempt, retry.scheduled_index) == (made.attempt + 1, 2)


def test_a_rerun_batch_after_its_attempts_finished_claims_nothing_again(store: Store) -> None:
    failing = _endpoint(store, "failing.example")
    healthy = _endpoint(store, "healthy.example")
    event = _event()
    claims = {c.endpoint_id: c for c in _accept(store, "batch-1", event).claims}
    retry_at = T0 + 5 * SECOND
    finish(
        store,
        outcome(claims[failing.id], next_retry_at=retry_at),
        outcome(claims[healthy.id], DeliveryStatus.SUCCEEDED),
    )

    # The activity's result was lost: Temporal runs the batch again.
    again = _accept(store, "batch-1", event, at=T0 + MINUTE)

    assert again.claims == []
    assert again.handoffs == [
        Handoff(
            message_id=event.message_id,
            endpoint_id=failing.id,
            started_at=T0,
            scheduled_index=1,
            next_retry_at=retry_at,
        )
    ]
    assert again.settled == 1
    assert sorted((a.endpoint_id, a.attempt, a.state) for a in store.list_attempts()) == sorted(
        [(failing.id, 1, COMPLETED), (healthy.id, 1, COMPLETED)]
    )


def test_a_batch_counts_deliveries_to_disabled_endpoints_skipped(store: Store) -> None:
    endpoint = _endpoint(store)
    store.disable_endpoint(endpoint.id, DisabledReason.MANUAL, T0)
    event = _event()
    accepted = _accept(store, "batch-1", event)
    assert (accepted.claims, accepted.skipped) == ([], [event.event_type.value])
    delivery = _delivery(store, event.message_id, endpoint.id)
    assert (delivery.status, delivery.attempts) == (DeliveryStatus.SKIPPED, 0)
    assert store.list_attempts() == []
    # Run again, it counts the same.
    assert _accept(store, "batch-1", event).skipped == [event.event_type.value]


def test_a_batch_with_a_business_key_of_another_message_writes_nothing(store: Store) -> None:
    _endpoint(store)
    taken = _event("invoice_1")
    store.plan_deliveries(
        message_id="msg_wrong",
        event_type=taken.event_type.value,
        business_key=taken.business_key,
        payload={},
        created_at=T0,
        now=T0,
        max_attempts=8,
    )
    fine = _event("invoice_2")
    with pytest.raises(Conflict, match=re.escape("business key 'invoice.paid:invoice_1'")):
        _accept(store, "batch-1", fine, taken)
    with pytest.raises(NotFound):
        store.get_message(fine.message_id)
    assert store.list_attempts() == []


def test_concurrent_batches_with_one_event_make_one_first_attempt(store: Store) -> None:
    endpoint = _endpoint(store)
    event = _event()
    start = threading.Barrier(8)

    def emit(batch_id: str) -> Accepted:
        start.wait()
        return _accept(store, batch_id, event)

    with ThreadPoolExecutor(max_workers=8) as pool:
        # Four emissions of the event, each of whose batches Temporal runs twice at once.
        results = list(pool.map(emit, [f"batch-{n % 4}" for n in range(8)]))

    claims = [c for accepted in results for c in accepted.claims]
    handoffs = [h for accepted in results for h in accepted.handoffs]
    assert [(c.endpoint_id, c.attempt) for c in claims] == [(endpoint.id, 1)]
    assert sum(accepted.duplicates for accepted in results) == 6
    assert len(handoffs) <= 1  # the other run of the winning batch, if it came second
    assert [(n, trigger) for n, trigger, _ in _log(store, event.message_id)] == [(1, SCHEDULED)]
    assert _delivery(store, event.message_id, endpoint.id).attempts == 1


def test_an_endpoint_deleted_mid_batch_does_not_lose_the_other_outcomes(store: Store) -> None:
    kept = _endpoint(store, "kept.example")
    deleted = _endpoint(store, "deleted.example")
    event = _event()
    claims = {c.endpoint_id: c for c in _accept(store, "batch-1", event).claims}
    store.delete_endpoint(deleted.id)  # by its owner, while the requests are out

    disabled = finish(
        store,
        outcome(claims[kept.id], DeliveryStatus.SUCCEEDED),
        outcome(claims[deleted.id], DeliveryStatus.SUCCEEDED),
    )

    assert disabled == set()
    assert _log(store, event.message_id) == [(1, SCHEDULED, COMPLETED)]
    assert _delivery(store, event.message_id, kept.id).status == DeliveryStatus.SUCCEEDED


# Stale manual attempts -----------------------------------------------------------------------
def test_a_manual_attempt_in_flight_too_long_is_interrupted_by_the_next_claim(
    store: Store,
) -> None:
    endpoint = _endpoint(store)
    message_id = _message(store)
    assert STALE_AFTER == MINUTE
    claimed(store, message_id, endpoint.id, T0, trigger=MANUAL)  # its worker dies
    claimed(store, message_id, endpoint.id, T0 + 50 * SECOND, trigger=MANUAL)
    # 50 s old, the first may still be running: it is left alone.
    assert _log(store, message_id) == [(1, MANUAL, IN_FLIGHT), (2, MANUAL, IN_FLIGHT)]

    # 90 s old it is dead; the second, 40 s old, is not.
    third = claimed(store, message_id, endpoint.id, T0 + 90 * SECOND, trigger=MANUAL)

    assert third.attempt == 3
    assert _log(store, message_id) == [
        (1, MANUAL, INTERRUPTED),
        (2, MANUAL, IN_FLIGHT),
        (3, MANUAL, IN_FLIGHT),
    ]


def test_a_scheduled_claim_interrupts_a_stale_manual_attempt_only(store: Store) -> None:
    endpoint = _endpoint(store)
    message_id = _message(store)
    claimed(store, message_id, endpoint.id, T0, trigger=MANUAL)  # its worker dies
    claimed(store, message_id, endpoint.id, T0 + 50 * SECOND, trigger=MANUAL)
    due = DueAfter(timedelta(hours=1))

    retry = claim(store, message_id, endpoint.id, T0 + 100 * SECOND, due_after_interrupt=due)

    # A dead manual attempt does not hold the schedule back: no deferral for it.
    assert isinstance(retry, Claim)
    assert (retry.attempt, retry.scheduled_index, due.asked) == (3, 1, [])
    assert _log(store, message_id) == [
        (1, MANUAL, INTERRUPTED),
        (2, MANUAL, IN_FLIGHT),
        (3, SCHEDULED, IN_FLIGHT),
    ]


# Migration 0003 ------------------------------------------------------------------------------
#: The tables as revision 0002 has them: no ``attempt.state``, no ``message.accepted_by``.
_MESSAGE_0002 = sa.table(
    "message",
    sa.column("id"),
    sa.column("event_type"),
    sa.column("business_key"),
    sa.column("payload", sa.JSON()),
    sa.column("created_at", UTCDateTime()),
)
_DELIVERY_0002 = sa.table(
    "delivery",
    sa.column("message_id"),
    sa.column("endpoint_id"),
    sa.column("status"),
    sa.column("attempts"),
    sa.column("created_at", UTCDateTime()),
    sa.column("updated_at", UTCDateTime()),
)
_ATTEMPT_0002 = sa.table(
    "attempt",
    sa.column("message_id"),
    sa.column("endpoint_id"),
    sa.column("attempt"),
    sa.column("trigger"),
    sa.column("started_at", UTCDateTime()),
    sa.column("duration_ms"),
    sa.column("url"),
    sa.column("response_status"),
)


def _insert_0002(store: Store, table: sa.TableClause, rows: Sequence[dict[str, Any]]) -> None:
    with store.engine.begin() as connection:
        for row in rows:  # one by one: the attempts' ids follow the order given
            connection.execute(sa.insert(table).values(row))


def _old_attempt(message_id: str, endpoint_id: str, number: int, at: datetime) -> dict[str, Any]:
    return {
        "message_id": message_id,
        "endpoint_id": endpoint_id,
        "attempt": number,
        "trigger": SCHEDULED.value,
        "started_at": at,
        "duration_ms": DURATION_MS,
        "url": "https://a.example/hook",
        "response_status": 500,
    }


def test_0003_renumbers_reused_attempt_numbers_by_start_time(empty_store: Store) -> None:
    store = empty_store
    with store.engine.connect() as connection, connection.begin():
        command.upgrade(migrate.alembic_config(connection), "0002")
    endpoint = _endpoint(store)  # the endpoint tables are the same at 0002
    collided, untouched, gap = "msg_collided", "msg_untouched", "msg_gap"
    _insert_0002(
        store,
        _MESSAGE_0002,
        [
            {
                "id": message_id,
                "event_type": "invoice.paid",
                "business_key": f"invoice.paid:{message_id}",
                "payload": {},
                "created_at": T0,
            }
            for message_id in (collided, untouched, gap)
        ],
    )
    # The old counter counted recorded rows.
    _insert_0002(
        store,
        _DELIVERY_0002,
        [
            {
                "message_id": message_id,
                "endpoint_id": endpoint.id,
                "status": DeliveryStatus.PENDING.value,
                "attempts": 2,
                "created_at": T0,
                "updated_at": T0,
            }
            for message_id in (collided, untouched, gap)
        ],
    )
    _insert_0002(
        store,
        _ATTEMPT_0002,
        [
            # A worker crashed after recording attempt 1, and its retry recorded 1 again. The
            # later one is inserted first: the order is the start time's, not the row id's.
            _old_attempt(collided, endpoint.id, 1, T0 + 5 * SECOND),
            _old_attempt(collided, endpoint.id, 1, T0),
            _old_attempt(untouched, endpoint.id, 2, T0 + 5 * SECOND),
            _old_attempt(untouched, endpoint.id, 1, T0),
            # Attempt 2 crashed before recording anything: a gap, not a collision.
            _old_attempt(gap, endpoint.id, 1, T0),
            _old_attempt(gap, endpoint.id, 3, T0 + MINUTE),
        ],
    )
    before = {a.id: a for a in _attempt_rows(store)}

    store.upgrade()
    store.check_ready()

    after = {a.id: a for a in _attempt_rows(store)}
    assert after.keys() == before.keys()
    numbered = {
        message_id: [(a.started_at, a.attempt) for a in store.list_attempts(message_id=message_id)]
        for message_id in (collided, untouched, gap)
    }
    assert numbered == {
        collided: [(T0 + 5 * SECOND, 2), (T0, 1)],
        untouched: [(T0 + 5 * SECOND, 2), (T0, 1)],
        gap: [(T0 + MINUTE, 3), (T0, 1)],
    }
    for attempt_id, attempt in after.items():
        old = before[attempt_id]
        if attempt.message_id != collided:
            assert attempt.attempt == old.attempt
        assert (attempt.state, attempt.duration_ms, attempt.started_at) == (
            COMPLETED,
            old.duration_ms,
            old.started_at,
        )
    counters = {m: _delivery(store, m, endpoint.id).attempts for m in (collided, untouched, gap)}
    assert counters == {collided: 2, untouched: 2, gap: 3}
    # New attempts continue from the highest number given, which is now unique.
    assert claimed(store, gap, endpoint.id, T0 + 2 * MINUTE).attempt == 4
    assert claimed(store, collided, endpoint.id, T0 + 2 * MINUTE).attempt == 3
    with pytest.raises(sa.exc.IntegrityError), store.engine.begin() as connection:
        connection.execute(
            sa.insert(_ATTEMPT_0002).values(_old_attempt(untouched, endpoint.id, 2, T0))
        )


def _attempt_rows(store: Store) -> list[Any]:
    """Every attempt row, read with the columns both revisions have."""
    columns = [
        sa.column("id"),
        sa.column("message_id"),
        sa.column("attempt"),
        sa.column("started_at", UTCDateTime()),
        sa.column("duration_ms"),
    ]
    has_state = "state" in {c["name"] for c in sa.inspect(store.engine).get_columns("attempt")}
    if has_state:
        columns.append(sa.column("state"))
    with store.engine.connect() as connection:
        rows = connection.execute(sa.select(*columns).select_from(sa.table("attempt"))).all()
    return list(rows)


def test_attempt_numbers_are_unique_in_the_schema(store: Store) -> None:
    endpoint = _endpoint(store)
    message_id = _message(store)
    claimed(store, message_id, endpoint.id)
    with pytest.raises(sa.exc.IntegrityError), store.engine.begin() as connection:
        connection.execute(
            sa.insert(Attempt).values(
                message_id=message_id,
                endpoint_id=endpoint.id,
                attempt=1,
                trigger=MANUAL,
                state=IN_FLIGHT,
                started_at=T0,
                url="https://a.example/hook",
            )
        )
