"""End to end on the real dev server: signed HTTP deliveries to a real local receiver."""

from __future__ import annotations

import base64
import json
import logging
import uuid
from datetime import UTC, datetime

import pytest
import standardwebhooks.webhooks
import svix.webhooks
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from config import Settings
from models.delivery import (
    AttemptTrigger,
    DeliveryStatus,
    DisabledReason,
    EndpointStatus,
    ErrorKind,
    Event,
)
from models.events import EventType
from store import Store
from tests.conftest import (
    RunWorker,
    dispatcher_handle,
    emit_events,
    record_history,
    retry_handle,
    settled,
)
from tests.receiver import Receiver

PAYLOAD = {"invoice_id": "invoice_0123", "amount": 42.5, "currency": {"code": "USD"}}


async def emit(
    client: Client, settings: Settings, event_type: EventType = EventType.INVOICE_CREATED
) -> Event:
    event = Event.for_event(event_type, f"test:{uuid.uuid4().hex}", PAYLOAD, datetime.now(UTC))
    await emit_events(client, settings, event)
    return event


def verify_both(secret: str, received_body: bytes, headers: dict[str, str]) -> None:
    """Verify a request as receivers do, with the svix and standardwebhooks libraries."""
    svix.webhooks.Webhook(secret).verify(received_body, headers)
    standardwebhooks.webhooks.Webhook(secret).verify(received_body, headers)


async def test_fails_twice_then_succeeds_with_attempts_1_2_3(
    dev_env: WorkflowEnvironment,
    store: Store,
    settings: Settings,
    run_worker: RunWorker,
    receiver: Receiver,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    receiver.statuses = [500, 500, 200]
    endpoint, secret = store.create_endpoint(
        receiver.url, ["invoice.created"], now=datetime.now(UTC)
    )
    async with run_worker(dev_env.client, settings):
        event = await emit(dev_env.client, settings)
        statuses = await settled(store, event.message_id)
        retries = retry_handle(dev_env.client, event.message_id, endpoint.id)
        assert await retries.result() == DeliveryStatus.SUCCEEDED
        await record_history(retries, "retry-two-failures-then-success")
        dispatcher = dispatcher_handle(dev_env.client, settings, event)
        await record_history(dispatcher, "dispatch-first-attempt-then-retries")

    assert statuses == {endpoint.id: DeliveryStatus.SUCCEEDED}
    assert len(receiver.requests) == 3
    bodies = [json.loads(r.body) for r in receiver.requests]
    assert [b["attempt"] for b in bodies] == [1, 2, 3]
    for request, body in zip(receiver.requests, bodies, strict=True):
        verify_both(secret, request.body, request.headers)
        assert request.headers["svix-id"] == request.headers["webhook-id"] == event.message_id
        assert request.headers["content-type"] == "application/json"
        assert request.headers["user-agent"].startswith("billhook/")
        assert body["created_at"] == bodies[0]["created_at"]
        assert body["properties"] == {"event_type": "invoice.created", "payload": PAYLOAD}
    # Compact JSON, attempt first: the bytes signed are the bytes sent.
    assert receiver.requests[0].body.startswith(b'{"attempt":1,"created_at":"')

    attempts = sorted(store.list_attempts(message_id=event.message_id), key=lambda a: a.attempt)
    assert [(a.attempt, a.response_status, a.trigger) for a in attempts] == [
        (1, 500, AttemptTrigger.SCHEDULED),
        (2, 500, AttemptTrigger.SCHEDULED),
        (3, 200, AttemptTrigger.SCHEDULED),
    ]
    assert [a.error_kind for a in attempts] == [ErrorKind.HTTP_STATUS, ErrorKind.HTTP_STATUS, None]
    assert attempts[0].next_retry_at is not None and attempts[2].next_retry_at is None
    [delivery] = store.deliveries_for_message(event.message_id)
    assert (delivery.status, delivery.attempts) == (DeliveryStatus.SUCCEEDED, 3)

    # The secret never reaches Temporal histories or logs.
    key_b64 = secret.removeprefix("whsec_")
    for handle in (dispatcher, retries):
        history = json.dumps((await handle.fetch_history()).to_json_dict())
        assert event.message_id in history
        assert key_b64 not in history and secret not in history
    assert base64.b64encode(base64.b64decode(key_b64)).decode() not in caplog.text
    assert secret not in caplog.text
    assert "attempt 1 of" in caplog.text
    # A receiver's 500 is an expected outcome: the SDK logs the retry request as benign
    # (DEBUG), never as a WARNING with a traceback; billhook's own line says what happened.
    failed = [
        r for r in caplog.records if r.getMessage().startswith("Completing activity as failed")
    ]
    assert len(failed) == 1 and failed[0].levelno == logging.DEBUG  # attempt 2 asked for 3


async def test_a_second_emission_of_the_same_event_is_refused(
    dev_env: WorkflowEnvironment,
    store: Store,
    settings: Settings,
    run_worker: RunWorker,
    receiver: Receiver,
) -> None:
    store.create_endpoint(receiver.url, ["invoice.paid"], now=datetime.now(UTC))
    async with run_worker(dev_env.client, settings):
        event = await emit(dev_env.client, settings, EventType.INVOICE_PAID)
        await settled(store, event.message_id)
        # Again, once delivered, and twice at once: each is refused by the store.
        await emit_events(dev_env.client, settings, event)
        await emit_events(dev_env.client, settings, event, event)
        later = await emit(dev_env.client, settings, EventType.INVOICE_PAID)
        await settled(store, later.message_id)
    assert [r.headers["svix-id"] for r in receiver.requests] == [
        event.message_id,
        later.message_id,
    ]


async def test_410_gone_disables_the_endpoint_and_later_events_are_skipped(
    dev_env: WorkflowEnvironment,
    store: Store,
    settings: Settings,
    run_worker: RunWorker,
    receiver: Receiver,
) -> None:
    receiver.statuses = [410]
    endpoint, _ = store.create_endpoint(receiver.url, ["invoice.created"], now=datetime.now(UTC))
    async with run_worker(dev_env.client, settings):
        first = await emit(dev_env.client, settings)
        assert await settled(store, first.message_id) == {endpoint.id: DeliveryStatus.FAILED}
        second = await emit(dev_env.client, settings)
        assert await settled(store, second.message_id) == {endpoint.id: DeliveryStatus.SKIPPED}

    assert len(receiver.requests) == 1
    disabled = store.get_endpoint(endpoint.id)
    assert (disabled.status, disabled.disabled_reason) == (
        EndpointStatus.DISABLED,
        DisabledReason.GONE,
    )
    [attempt] = store.list_attempts(endpoint_id=endpoint.id)
    assert (attempt.attempt, attempt.response_status, attempt.next_retry_at) == (1, 410, None)
    assert [d.status for d in store.deliveries_for_message(second.message_id)] == [
        DeliveryStatus.SKIPPED
    ]


async def test_a_blocked_destination_is_recorded_and_not_retried(
    dev_env: WorkflowEnvironment,
    store: Store,
    settings: Settings,
    run_worker: RunWorker,
    receiver: Receiver,
) -> None:
    endpoint, _ = store.create_endpoint(receiver.url, ["invoice.created"], now=datetime.now(UTC))
    production = settings.model_copy(update={"allowed_networks": []})
    async with run_worker(dev_env.client, production):
        event = await emit(dev_env.client, production)
        assert await settled(store, event.message_id) == {endpoint.id: DeliveryStatus.FAILED}
    assert receiver.requests == []
    [attempt] = store.list_attempts(message_id=event.message_id)
    assert (attempt.error_kind, attempt.response_status, attempt.next_retry_at) == (
        ErrorKind.BLOCKED,
        None,
        None,
    )
