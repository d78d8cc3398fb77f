"""Endpoints, messages, resends and recovery through ``BillhookClient``, to a real receiver."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, datetime, timedelta

import pytest
import svix.webhooks

from client import BillhookClient, SyncBillhookClient
from client.inputs import EndpointInput, EndpointUpdate
from client.results import DeliveryProgress
from config import Settings
from errors import InvalidUrl, NotFound
from models.delivery import AttemptTrigger, DeliveryStatus, EndpointStatus, Event
from models.events import EventType
from store import Store
from tests.conftest import settled
from tests.receiver import Receiver


async def test_trigger_resend_and_attempts(billhook: BillhookClient, receiver: Receiver) -> None:
    created = await billhook.endpoints.create(
        EndpointInput(url=receiver.url, event_types=["invoice.paid"], name="billing app")
    )
    endpoint, secret = created.endpoint, created.secret
    assert endpoint.id.startswith("whend_") and secret.startswith("whsec_")
    assert [e.id for e in await billhook.endpoints.list()] == [endpoint.id]
    assert await billhook.endpoints.reveal_secret(endpoint.id) == secret

    progress: list[DeliveryProgress] = []
    triggered = await billhook.events.trigger(EventType.INVOICE_PAID, on_progress=progress.append)
    message_id = triggered.message_id
    assert triggered.stored and triggered.outcomes is not None
    [outcome] = triggered.outcomes
    assert (outcome.endpoint_id, outcome.status) == (endpoint.id, DeliveryStatus.SUCCEEDED)
    assert outcome.attempt is not None and outcome.attempt.attempt == 1
    assert progress[0].message_id == message_id and progress[-1].settled == 1
    [request] = receiver.requests
    svix.webhooks.Webhook(secret).verify(request.body, request.headers)
    assert request.headers["svix-id"] == message_id

    [resent] = await billhook.messages.resend(message_id)
    assert resent.status is DeliveryStatus.SUCCEEDED and resent.attempt is not None
    assert resent.attempt.attempt == 2
    again = receiver.requests[1]
    assert again.headers["svix-id"] == message_id and json.loads(again.body)["attempt"] == 2
    attempts = await billhook.attempts.list(message_id=message_id)
    assert [(a.attempt, a.trigger) for a in attempts] == [
        (2, AttemptTrigger.MANUAL),
        (1, AttemptTrigger.SCHEDULED),
    ]
    details = await billhook.messages.show(message_id)
    assert details.message.event_type == "invoice.paid"
    assert [(d.status, d.attempts) for d in details.deliveries] == [(DeliveryStatus.SUCCEEDED, 2)]
    [summary] = await billhook.messages.list(event_type=EventType.INVOICE_PAID)
    assert {s: n for s, n in summary.statuses.items() if n} == {DeliveryStatus.SUCCEEDED: 1}


async def test_disable_skip_and_recover(billhook: BillhookClient, receiver: Receiver) -> None:
    created = await billhook.endpoints.create(
        EndpointInput(url=receiver.url, event_types=["invoice.created"])
    )
    endpoint_id = created.endpoint.id
    disabled = await billhook.endpoints.disable(endpoint_id)
    assert disabled.status is EndpointStatus.DISABLED
    skipped = await billhook.events.trigger(EventType.INVOICE_CREATED)
    assert skipped.outcomes is not None
    assert [(o.status, o.attempt) for o in skipped.outcomes] == [(DeliveryStatus.SKIPPED, None)]
    assert receiver.requests == []

    since = datetime.now(UTC) - timedelta(hours=1)
    recovered = await billhook.endpoints.recover(endpoint_id, since)
    assert recovered.endpoint.status is EndpointStatus.ENABLED
    assert recovered.resent is not None
    assert (recovered.resent.total, recovered.resent.succeeded) == (1, 1)
    assert [r.headers["svix-id"] for r in receiver.requests] == [skipped.message_id]
    nothing = await billhook.endpoints.recover(endpoint_id, since)
    assert nothing.resent is None

    updated = await billhook.endpoints.update(endpoint_id, EndpointUpdate(name="renamed"))
    assert updated.name == "renamed"
    rotated = await billhook.endpoints.rotate_secret(endpoint_id)
    assert rotated.secret != created.secret and rotated.previous_valid_until > since
    await billhook.endpoints.delete(endpoint_id)
    with pytest.raises(NotFound, match=f"no endpoint {endpoint_id}"):
        await billhook.endpoints.get(endpoint_id)


async def test_publish_emits_once_per_business_key(
    billhook: BillhookClient, receiver: Receiver, store: Store
) -> None:
    await billhook.endpoints.create(EndpointInput(url=receiver.url, event_types=["invoice.paid"]))
    event = Event.for_event(
        EventType.INVOICE_PAID, f"app:{uuid.uuid4().hex}", {"id": 1}, datetime.now(UTC)
    )
    await billhook.events.publish([event, event])
    assert list((await settled(store, event.message_id)).values()) == [DeliveryStatus.SUCCEEDED]
    await asyncio.sleep(0.5)
    assert len(receiver.requests) == 1


async def test_errors_are_billhooks(billhook: BillhookClient) -> None:
    with pytest.raises(InvalidUrl, match=r"169\.254\.169\.254"):
        await billhook.endpoints.create(
            EndpointInput(url="http://169.254.169.254/latest", event_types=["invoice.paid"])
        )
    with pytest.raises(NotFound, match=r"no message msg_0+"):
        await billhook.messages.resend("msg_" + "0" * 32)
    assert await billhook.endpoints.list() == []


async def test_the_sync_client_in_a_script(
    billhook: BillhookClient, dev_settings: Settings, store: Store, receiver: Receiver
) -> None:
    def script() -> tuple[str, list[DeliveryStatus]]:
        with SyncBillhookClient(dev_settings, store=store) as sync:
            created = sync.endpoints.create(
                EndpointInput(url=receiver.url, event_types=["invoice.created"])
            )
            result = sync.events.trigger(EventType.INVOICE_CREATED)
            assert result.outcomes is not None and sync.temporal_used
            return created.endpoint.id, [o.status for o in result.outcomes]

    endpoint_id, statuses = await asyncio.to_thread(script)
    assert statuses == [DeliveryStatus.SUCCEEDED]
    # Store-only operations need no Temporal, and work from a thread running a loop too.
    with BillhookClient.sync(dev_settings, store=store) as sync:
        assert [e.id for e in sync.endpoints.list()] == [endpoint_id]
        assert not sync.temporal_used
