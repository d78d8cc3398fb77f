"""Messages, deliveries and attempts: planning, claims, endpoint health, listings, recovery.

The accounting of attempt numbers and states themselves is in ``test_store_attempts.py``.
"""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest
from store_testing import (
    DURATION_MS,
    T0,
    claim,
    claimed,
    finish,
    outcome,
    plan,
    record_attempt,
)

from errors import Conflict, NotFound
from models.delivery import (
    AttemptState,
    AttemptTrigger,
    DeliveryStatus,
    DisabledReason,
    EndpointStatus,
)
from store import Store
from store.attempts import Settled
from store.tables import Endpoint

DAY = timedelta(days=1)


def _endpoint(store: Store, *event_types: str, host: str = "a.example") -> Endpoint:
    endpoint, _ = store.create_endpoint(f"https://{host}/hook", list(event_types), T0)
    return endpoint


def _fail(
    store: Store,
    message_id: str,
    endpoint_id: str,
    at: datetime = T0,
    *,
    next_retry_at: datetime | None = None,
) -> bool:
    """Record a failed attempt (delivery still pending) and say whether it disabled the endpoint."""
    _, disabled = record_attempt(store, message_id, endpoint_id, at=at, next_retry_at=next_retry_at)
    return endpoint_id in disabled


def _succeed(store: Store, message_id: str, endpoint_id: str, at: datetime = T0) -> bool:
    _, disabled = record_attempt(store, message_id, endpoint_id, DeliveryStatus.SUCCEEDED, at)
    return endpoint_id in disabled


def _statuses(store: Store, message_id: str) -> dict[str, DeliveryStatus]:
    return {d.endpoint_id: d.status for d in store.deliveries_for_message(message_id)}


# Planning ------------------------------------------------------------------------------------
def test_plan_covers_enabled_disabled_and_unsubscribed_endpoints(store: Store) -> None:
    enabled = _endpoint(store, "invoice.paid", "invoice.created", host="enabled.example")
    disabled = _endpoint(store, "invoice.paid", host="disabled.example")
    other = _endpoint(store, "customer.created", host="other.example")
    second = _endpoint(store, "invoice.paid", host="second.example")
    store.disable_endpoint(disabled.id, DisabledReason.MANUAL, T0)

    planned = store.plan_deliveries(
        message_id="msg_1",
        event_type="invoice.paid",
        business_key="invoice.paid:inv_1",
        payload={"invoice_id": "inv_1", "amount": "10.00"},
        created_at=T0,
        now=T0 + timedelta(seconds=1),
        max_attempts=8,
    )

    assert planned.endpoint_ids == sorted([enabled.id, second.id])
    assert planned.skipped_endpoint_ids == [disabled.id]
    assert planned.max_attempts == 8
    assert _statuses(store, "msg_1") == {
        enabled.id: DeliveryStatus.PENDING,
        second.id: DeliveryStatus.PENDING,
        disabled.id: DeliveryStatus.SKIPPED,
    }
    assert other.id not in _statuses(store, "msg_1")
    message = store.get_message("msg_1")
    assert (message.event_type, message.business_key, message.payload, message.created_at) == (
        "invoice.paid",
        "invoice.paid:inv_1",
        {"invoice_id": "inv_1", "amount": "10.00"},
        T0,
    )
    delivery = store.deliveries_for_message("msg_1")[0]
    assert (delivery.attempts, delivery.next_attempt_at) == (0, None)
    assert delivery.created_at == T0 + timedelta(seconds=1)
    assert store.list_attempts() == []


def test_plan_is_idempotent(store: Store) -> None:
    first = _endpoint(store, "invoice.paid", host="first.example")
    disabled = _endpoint(store, "invoice.paid", host="disabled.example")
    store.disable_endpoint(disabled.id, DisabledReason.MANUAL, T0)
    planned = store.plan_deliveries(
        message_id="msg_1",
        event_type="invoice.paid",
        business_key="invoice.paid:inv_1",
        payload={},
        created_at=T0,
        now=T0,
        max_attempts=8,
    )
    # Changes after the first plan do not alter a retried plan.
    late = _endpoint(store, "invoice.paid", host="late.example")
    store.enable_endpoint(disabled.id, T0)
    again = store.plan_deliveries(
        message_id="msg_1",
        event_type="invoice.paid",
        business_key="invoice.paid:inv_1",
        payload={},
        created_at=T0,
        now=T0 + timedelta(minutes=5),
        max_attempts=8,
    )
    assert again == planned
    assert again.endpoint_ids == [first.id]
    assert again.skipped_endpoint_ids == [disabled.id]
    assert late.id not in _statuses(store, "msg_1")
    assert len(store.list_messages()) == 1


def test_plan_with_no_subscriber_records_the_message(store: Store) -> None:
    _endpoint(store, "customer.created")
    assert plan(store, "msg_1", "invoice.paid") == []
    assert store.get_message("msg_1").event_type == "invoice.paid"
    assert store.deliveries_for_message("msg_1") == []


def test_business_key_taken_by_another_id_is_a_conflict(store: Store) -> None:
    plan(store, "msg_1")
    with pytest.raises(Conflict, match=re.escape("business key 'invoice.paid:msg_1'")):
        store.plan_deliveries(
            message_id="msg_2",
            event_type="invoice.paid",
            business_key="invoice.paid:msg_1",
            payload={},
            created_at=T0,
            now=T0,
            max_attempts=8,
        )
    with pytest.raises(NotFound):
        store.get_message("msg_2")


def test_concurrent_plans_for_different_and_same_messages(store: Store) -> None:
    endpoints = sorted(
        _endpoint(store, "invoice.paid", host=f"e{index}.example").id for index in range(3)
    )
    message_ids = [f"msg_{index:03d}" for index in range(40)]
    with ThreadPoolExecutor(max_workers=8) as pool:
        different = list(pool.map(lambda message_id: plan(store, message_id), message_ids))
        same = list(pool.map(lambda _: plan(store, "msg_same"), range(16)))
    assert different == [endpoints] * 40
    assert same == [endpoints] * 16
    for message_id in [*message_ids, "msg_same"]:
        assert sorted(_statuses(store, message_id)) == endpoints
    assert len(store.list_messages(limit=100)) == 41


def test_concurrent_attempts_and_plans_on_one_endpoint(store: Store) -> None:
    endpoint = _endpoint(store, "invoice.paid")
    plan(store, "msg_1")

    def work(number: int) -> object:
        if number % 2:
            return plan(store, f"msg_plan_{number}")
        # Manual resends: they run side by side, each claimed and finished on its own.
        _, disabled = record_attempt(
            store,
            "msg_1",
            endpoint.id,
            DeliveryStatus.FAILED,
            T0 + timedelta(seconds=number),
            trigger=AttemptTrigger.MANUAL,
        )
        return disabled

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(work, range(32)))

    assert results[1::2] == [[endpoint.id]] * 16
    assert results[0::2] == [set()] * 16
    [delivery] = store.deliveries_for_message("msg_1")
    assert delivery.attempts == 16
    attempts = store.list_attempts(message_id="msg_1")
    assert sorted(a.attempt for a in attempts) == list(range(1, 17))
    assert {a.state for a in attempts} == {AttemptState.COMPLETED}
    failing_since = store.get_endpoint(endpoint.id).failing_since
    assert failing_since is not None
    assert T0 <= failing_since <= T0 + timedelta(seconds=30)


# Claims: what an attempt's request is made of ------------------------------------------------
def test_claim_carries_what_the_request_needs(store: Store) -> None:
    endpoint, secret = store.create_endpoint(
        "https://user:hunter2@a.example/hook", ["invoice.paid"], T0
    )
    plan(store, "msg_1")
    made = claimed(store, "msg_1", endpoint.id, T0 + timedelta(seconds=10))
    assert made.model_dump() == {
        "message_id": "msg_1",
        "endpoint_id": endpoint.id,
        "event_type": "invoice.paid",
        "payload": {"invoice_id": "1"},
        "created_at": T0,
        "url": "https://user:hunter2@a.example/hook",
        "secrets": [secret],
        "attempt": 1,
        "scheduled_index": 1,
        "trigger": AttemptTrigger.SCHEDULED,
        "started_at": T0 + timedelta(seconds=10),
    }
    assert made.created_at.tzinfo is UTC
    # The request needs the credentials; the attempt log never keeps them.
    [recorded] = store.list_attempts()
    assert recorded.url == "https://a.example/hook"


def test_claim_signs_with_the_secrets_in_grace(store: Store) -> None:
    endpoint, old = store.create_endpoint("https://a.example/hook", ["invoice.paid"], T0)
    plan(store, "msg_1")
    plan(store, "msg_2")
    new = store.rotate_secret(endpoint.id, T0, timedelta(hours=24))
    assert claimed(store, "msg_1", endpoint.id, T0 + timedelta(hours=1)).secrets == [new, old]
    assert claimed(store, "msg_2", endpoint.id, T0 + timedelta(hours=24)).secrets == [new]


@pytest.mark.parametrize("trigger", list(AttemptTrigger))
def test_claim_to_a_disabled_endpoint_skips_the_delivery(
    store: Store, trigger: AttemptTrigger
) -> None:
    endpoint = _endpoint(store, "invoice.paid")
    plan(store, "msg_1")
    store.disable_endpoint(endpoint.id, DisabledReason.MANUAL, T0)
    later = T0 + timedelta(hours=1)
    assert claim(store, "msg_1", endpoint.id, later, trigger=trigger) == Settled(
        DeliveryStatus.SKIPPED
    )
    [delivery] = store.deliveries_for_message("msg_1")
    assert (delivery.status, delivery.attempts, delivery.updated_at) == (
        DeliveryStatus.SKIPPED,
        0,
        later,
    )
    assert store.list_attempts() == []


def test_manual_resend_to_a_later_subscriber_creates_its_delivery(store: Store) -> None:
    plan(store, "msg_1")
    late = _endpoint(store, "invoice.paid")
    assert store.deliveries_for_message("msg_1") == []
    made = claimed(store, "msg_1", late.id, T0 + DAY, trigger=AttemptTrigger.MANUAL)
    assert (made.attempt, made.scheduled_index) == (1, 0)
    [delivery] = store.deliveries_for_message("msg_1")
    assert (delivery.endpoint_id, delivery.status, delivery.attempts, delivery.created_at) == (
        late.id,
        DeliveryStatus.PENDING,
        1,
        T0 + DAY,
    )


def test_claim_for_unknown_records_is_not_found(store: Store) -> None:
    endpoint = _endpoint(store, "invoice.paid")
    with pytest.raises(NotFound) as raised:
        claim(store, "msg_nope", endpoint.id)
    assert str(raised.value) == "no message msg_nope; list them with: billhook message list"
    plan(store, "msg_1")
    with pytest.raises(NotFound, match="no endpoint whend_nope; list them with"):
        claim(store, "msg_1", "whend_nope")
    assert [d.endpoint_id for d in store.deliveries_for_message("msg_1")] == [endpoint.id]
    assert store.list_attempts() == []


def test_finishing_an_attempt_never_claimed_changes_nothing(store: Store) -> None:
    endpoint = _endpoint(store, "invoice.paid")
    plan(store, "msg_1")
    plan(store, "msg_2")
    made = claimed(store, "msg_1", endpoint.id)
    never = made.model_copy(update={"message_id": "msg_2"})
    with pytest.raises(LookupError, match="no attempt in flight"):
        finish(store, outcome(made, DeliveryStatus.SUCCEEDED), outcome(never))
    # One transaction: the claimed attempt given beside it is not completed either.
    [attempt] = store.list_attempts()
    assert (attempt.message_id, attempt.state) == ("msg_1", AttemptState.IN_FLIGHT)
    assert _statuses(store, "msg_1") == {endpoint.id: DeliveryStatus.PENDING}
    assert store.get_endpoint(endpoint.id).failing_since is None


# Attempts and endpoint health ----------------------------------------------------------------
def test_attempts_count_and_schedule(store: Store) -> None:
    endpoint = _endpoint(store, "invoice.paid")
    plan(store, "msg_1")
    retry_at = T0 + timedelta(seconds=5)
    assert _fail(store, "msg_1", endpoint.id, next_retry_at=retry_at) is False
    [delivery] = store.deliveries_for_message("msg_1")
    assert (delivery.attempts, delivery.status, delivery.next_attempt_at) == (
        1,
        DeliveryStatus.PENDING,
        retry_at,
    )
    assert delivery.updated_at == T0 + timedelta(milliseconds=DURATION_MS)
    _fail(store, "msg_1", endpoint.id, at=T0 + timedelta(seconds=5), next_retry_at=retry_at)
    _succeed(store, "msg_1", endpoint.id, at=T0 + timedelta(seconds=30))
    [delivery] = store.deliveries_for_message("msg_1")
    assert (delivery.attempts, delivery.status, delivery.next_attempt_at) == (
        3,
        DeliveryStatus.SUCCEEDED,
        None,
    )
    assert delivery.updated_at == T0 + timedelta(seconds=30, milliseconds=DURATION_MS)
    assert [a.attempt for a in store.list_attempts(message_id="msg_1")] == [3, 2, 1]


def test_attempts_are_counted_per_endpoint(store: Store) -> None:
    first = _endpoint(store, "invoice.paid", host="first.example")
    second = _endpoint(store, "invoice.paid", host="second.example")
    plan(store, "msg_1")
    plan(store, "msg_2")
    _fail(store, "msg_1", first.id)
    _fail(store, "msg_1", first.id, at=T0 + timedelta(seconds=5))
    _fail(store, "msg_1", second.id)
    _fail(store, "msg_2", first.id)
    counts = {
        message_id: {d.endpoint_id: d.attempts for d in store.deliveries_for_message(message_id)}
        for message_id in ("msg_1", "msg_2")
    }
    assert counts == {"msg_1": {first.id: 2, second.id: 1}, "msg_2": {first.id: 1, second.id: 0}}


def test_failing_since_is_the_first_failure_and_cleared_by_a_success(store: Store) -> None:
    endpoint = _endpoint(store, "invoice.paid")
    plan(store, "msg_1")
    _fail(store, "msg_1", endpoint.id, at=T0)
    _fail(store, "msg_1", endpoint.id, at=T0 + DAY)
    assert store.get_endpoint(endpoint.id).failing_since == T0
    _succeed(store, "msg_1", endpoint.id, at=T0 + 2 * DAY)
    assert store.get_endpoint(endpoint.id).failing_since is None


def test_five_days_of_failures_disable_the_endpoint(store: Store) -> None:
    endpoint = _endpoint(store, "invoice.paid")
    disabled = []
    for day in range(5):
        plan(store, f"msg_{day}", created_at=T0 + day * DAY)
        disabled.append(_fail(store, f"msg_{day}", endpoint.id, at=T0 + day * DAY))
    assert disabled == [False] * 5
    # Two attempts in flight at once: the first to fail after five days disables the endpoint.
    plan(store, "msg_5", created_at=T0 + 5 * DAY)
    plan(store, "msg_6", created_at=T0 + 5 * DAY)
    fifth_day = claimed(store, "msg_5", endpoint.id, T0 + 5 * DAY)
    beside = claimed(store, "msg_6", endpoint.id, T0 + 5 * DAY + timedelta(seconds=1))
    assert finish(store, outcome(fifth_day)) == {endpoint.id}
    stored = store.get_endpoint(endpoint.id)
    assert (stored.status, stored.disabled_reason, stored.failing_since) == (
        EndpointStatus.DISABLED,
        DisabledReason.FAILING,
        T0,
    )
    # Already disabled: a later failure does not disable it again.
    assert finish(store, outcome(beside)) == set()
    # Its pending retries are skipped, and new events for it recorded as skipped, not dropped.
    assert claim(store, "msg_6", endpoint.id, T0 + 6 * DAY) == Settled(DeliveryStatus.SKIPPED)
    planned = store.plan_deliveries(
        message_id="msg_7",
        event_type="invoice.paid",
        business_key="invoice.paid:7",
        payload={},
        created_at=T0 + 7 * DAY,
        now=T0 + 7 * DAY,
        max_attempts=8,
    )
    assert (planned.endpoint_ids, planned.skipped_endpoint_ids) == ([], [endpoint.id])


def test_one_finish_disables_an_endpoint_once(store: Store) -> None:
    endpoint = _endpoint(store, "invoice.paid")
    plan(store, "msg_0")
    _fail(store, "msg_0", endpoint.id, at=T0)
    plan(store, "msg_1")
    plan(store, "msg_2")
    first = claimed(store, "msg_1", endpoint.id, T0 + 5 * DAY)
    second = claimed(store, "msg_2", endpoint.id, T0 + 5 * DAY + timedelta(seconds=1))
    assert finish(store, outcome(second), outcome(first)) == {endpoint.id}
    assert store.get_endpoint(endpoint.id).disabled_reason == DisabledReason.FAILING


def test_a_success_in_between_restarts_the_five_days(store: Store) -> None:
    endpoint = _endpoint(store, "invoice.paid")
    for day in range(10):
        plan(store, f"msg_{day}", created_at=T0 + day * DAY)
    for day in (0, 1, 2):
        assert _fail(store, f"msg_{day}", endpoint.id, at=T0 + day * DAY) is False
    assert _succeed(store, "msg_3", endpoint.id, at=T0 + 3 * DAY) is False
    for day in (4, 5, 6, 7, 8):
        assert _fail(store, f"msg_{day}", endpoint.id, at=T0 + day * DAY) is False
    assert store.get_endpoint(endpoint.id).failing_since == T0 + 4 * DAY
    assert _fail(store, "msg_9", endpoint.id, at=T0 + 9 * DAY) is True
    assert store.get_endpoint(endpoint.id).disabled_reason == DisabledReason.FAILING


def test_enable_gives_five_fresh_days(store: Store) -> None:
    endpoint = _endpoint(store, "invoice.paid")
    plan(store, "msg_1")
    plan(store, "msg_2")
    _fail(store, "msg_1", endpoint.id, at=T0)
    assert _fail(store, "msg_1", endpoint.id, at=T0 + 5 * DAY) is True
    store.enable_endpoint(endpoint.id, T0 + 6 * DAY)
    assert _fail(store, "msg_2", endpoint.id, at=T0 + 6 * DAY) is False
    assert store.get_endpoint(endpoint.id).failing_since == T0 + 6 * DAY
    assert _fail(store, "msg_2", endpoint.id, at=T0 + 10 * DAY) is False
    assert _fail(store, "msg_2", endpoint.id, at=T0 + 11 * DAY) is True


def test_410_gone_disables_at_once(store: Store) -> None:
    endpoint = _endpoint(store, "invoice.paid")
    plan(store, "msg_1")
    _, disabled = record_attempt(
        store,
        "msg_1",
        endpoint.id,
        DeliveryStatus.FAILED,
        response_status=410,
        disable_reason=DisabledReason.GONE,
    )
    assert disabled == {endpoint.id}
    stored = store.get_endpoint(endpoint.id)
    assert (stored.status, stored.disabled_reason) == (EndpointStatus.DISABLED, DisabledReason.GONE)
    assert _statuses(store, "msg_1") == {endpoint.id: DeliveryStatus.FAILED}
    [attempt] = store.list_attempts()
    assert (attempt.response_status, attempt.state) == (410, AttemptState.COMPLETED)


def test_settle_delivery_only_settles_pending_ones(store: Store) -> None:
    first = _endpoint(store, "invoice.paid", host="first.example")
    second = _endpoint(store, "invoice.paid", host="second.example")
    plan(store, "msg_1")
    _succeed(store, "msg_1", second.id)
    later = T0 + DAY
    store.settle_delivery("msg_1", first.id, DeliveryStatus.FAILED, later)
    store.settle_delivery("msg_1", first.id, DeliveryStatus.FAILED, later + DAY)
    store.settle_delivery("msg_1", second.id, DeliveryStatus.FAILED, later)
    deliveries = {d.endpoint_id: d for d in store.deliveries_for_message("msg_1")}
    assert deliveries[first.id].status == DeliveryStatus.FAILED
    assert deliveries[first.id].updated_at == later
    assert deliveries[second.id].status == DeliveryStatus.SUCCEEDED
    with pytest.raises(NotFound, match="no delivery of message msg_1 to endpoint whend_nope"):
        store.settle_delivery("msg_1", "whend_nope", DeliveryStatus.FAILED, later)
    # A settled delivery gets no more scheduled attempts.
    assert claim(store, "msg_1", first.id, later) == Settled(DeliveryStatus.FAILED)


# Listings ------------------------------------------------------------------------------------
def test_list_messages_counts_and_filters(store: Store) -> None:
    first = _endpoint(store, "invoice.paid", "customer.created", host="first.example")
    second = _endpoint(store, "invoice.paid", host="second.example")
    plan(store, "msg_old", "invoice.paid", T0)
    plan(store, "msg_mid", "customer.created", T0 + timedelta(hours=1))
    plan(store, "msg_new", "invoice.paid", T0 + timedelta(hours=2))
    _succeed(store, "msg_old", first.id)
    store.settle_delivery("msg_old", second.id, DeliveryStatus.FAILED, T0)

    summaries = store.list_messages()
    assert [s.id for s in summaries] == ["msg_new", "msg_mid", "msg_old"]
    assert summaries[2].statuses == {
        DeliveryStatus.PENDING: 0,
        DeliveryStatus.SUCCEEDED: 1,
        DeliveryStatus.FAILED: 1,
        DeliveryStatus.SKIPPED: 0,
    }
    assert summaries[1].statuses[DeliveryStatus.PENDING] == 1
    assert (summaries[2].business_key, summaries[2].created_at) == ("invoice.paid:msg_old", T0)
    assert [s.id for s in store.list_messages(status=DeliveryStatus.FAILED)] == ["msg_old"]
    assert [s.id for s in store.list_messages(status=DeliveryStatus.PENDING)] == [
        "msg_new",
        "msg_mid",
    ]
    assert [s.id for s in store.list_messages(event_type="invoice.paid")] == ["msg_new", "msg_old"]
    assert [
        s.id for s in store.list_messages(status=DeliveryStatus.PENDING, event_type="invoice.paid")
    ] == ["msg_new"]
    assert [s.id for s in store.list_messages(limit=1)] == ["msg_new"]
    assert store.list_messages(status=DeliveryStatus.SKIPPED) == []


def test_get_message_not_found(store: Store) -> None:
    with pytest.raises(NotFound) as raised:
        store.get_message("msg_nope")
    assert str(raised.value) == "no message msg_nope; list them with: billhook message list"
    with pytest.raises(NotFound):
        store.deliveries_for_message("msg_nope")


def test_list_attempts_newest_first_with_filters(store: Store) -> None:
    first = _endpoint(store, "invoice.paid", host="first.example")
    second = _endpoint(store, "invoice.paid", host="second.example")
    plan(store, "msg_1")
    plan(store, "msg_2")
    _fail(store, "msg_1", first.id, at=T0)
    _fail(store, "msg_1", first.id, at=T0 + timedelta(seconds=5))
    _fail(store, "msg_1", second.id, at=T0 + timedelta(seconds=1))
    record_attempt(
        store,
        "msg_2",
        first.id,
        DeliveryStatus.SUCCEEDED,
        T0 + timedelta(seconds=9),
        trigger=AttemptTrigger.MANUAL,
    )

    every = store.list_attempts()
    assert [(a.message_id, a.endpoint_id, a.attempt) for a in every] == [
        ("msg_2", first.id, 1),
        ("msg_1", first.id, 2),
        ("msg_1", second.id, 1),
        ("msg_1", first.id, 1),
    ]
    newest = every[0]
    assert (
        newest.trigger,
        newest.state,
        newest.response_status,
        newest.error_kind,
        newest.duration_ms,
        newest.url,
    ) == (
        AttemptTrigger.MANUAL,
        AttemptState.COMPLETED,
        200,
        None,
        DURATION_MS,
        "https://first.example/hook",
    )
    assert newest.started_at == T0 + timedelta(seconds=9)
    assert newest.started_at.tzinfo is UTC
    assert every[1].error == "HTTP 500"
    assert [a.attempt for a in store.list_attempts(message_id="msg_1", endpoint_id=first.id)] == [
        2,
        1,
    ]
    assert len(store.list_attempts(endpoint_id=second.id)) == 1
    assert len(store.list_attempts(message_id="msg_2")) == 1
    assert len(store.list_attempts(limit=2)) == 2


# Recovery ------------------------------------------------------------------------------------
def test_recoverable_messages_honour_since_status_and_current_types(store: Store) -> None:
    endpoint = _endpoint(store, "invoice.paid", "invoice.created")
    since = T0
    plan(store, "msg_before", "invoice.paid", since - timedelta(seconds=1))
    plan(store, "msg_paid_failed", "invoice.paid", since)
    plan(store, "msg_paid_ok", "invoice.paid", since + timedelta(hours=1))
    plan(store, "msg_paid_pending", "invoice.paid", since + timedelta(hours=2))
    _succeed(store, "msg_paid_ok", endpoint.id)
    store.disable_endpoint(endpoint.id, DisabledReason.MANUAL, since)
    plan(store, "msg_created_skipped", "invoice.created", since + timedelta(hours=3))
    plan(store, "msg_paid_skipped", "invoice.paid", since + timedelta(hours=4))
    for message_id in ("msg_before", "msg_paid_failed"):
        store.settle_delivery(message_id, endpoint.id, DeliveryStatus.FAILED, since)

    assert store.recoverable_messages(endpoint.id, since) == [
        "msg_paid_failed",
        "msg_created_skipped",
        "msg_paid_skipped",
    ]
    assert store.recoverable_messages(endpoint.id, since - DAY)[0] == "msg_before"
    store.update_endpoint(endpoint.id, since + DAY, event_types=["invoice.paid"])
    assert store.recoverable_messages(endpoint.id, since) == [
        "msg_paid_failed",
        "msg_paid_skipped",
    ]
    assert store.recoverable_messages(endpoint.id, since + timedelta(hours=5)) == []
