"""The command line against the real dev server and a worker, as a user runs it."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Awaitable, Callable, Iterator

import pytest
import svix.webhooks
from temporalio.testing import WorkflowEnvironment

import config
from config import Settings
from models.delivery import AttemptTrigger, DeliveryStatus
from starter.cli import main
from store import Store
from tests.conftest import RunWorker
from tests.receiver import Receiver

Billhook = Callable[..., Awaitable[tuple[int, str]]]


@pytest.fixture
def billhook(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    dev_env: WorkflowEnvironment,
    settings: Settings,
) -> Iterator[Billhook]:
    """``await billhook(*argv)``: runs the CLI (its own event loop) in a thread; (code, out)."""
    environment = {
        "BILLHOOK_DATABASE_URL": settings.database_url,
        "BILLHOOK_TEMPORAL_ADDRESS": dev_env.client.service_client.config.target_host,
        "BILLHOOK_TASK_QUEUE": settings.task_queue,
        "BILLHOOK_ENVIRONMENT": "development",
        "BILLHOOK_ALLOWED_NETWORKS": "127.0.0.0/8",
    }
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    config.get_settings.cache_clear()

    async def run(*argv: str) -> tuple[int, str]:
        capsys.readouterr()
        code = await asyncio.to_thread(main, list(argv))
        out, err = capsys.readouterr()
        assert code == 0, err
        return code, out

    yield run
    config.get_settings.cache_clear()


def created_endpoint(out: str) -> tuple[str, str]:
    endpoint_id = re.search(r"whend_[0-9a-f]{32}", out)
    secret = re.search(r"whsec_[A-Za-z0-9+/=]+", out)
    assert endpoint_id and secret, out
    return endpoint_id.group(), secret.group()


async def test_trigger_delivers_a_verified_sample_and_resend_continues_the_count(
    billhook: Billhook,
    dev_env: WorkflowEnvironment,
    store: Store,
    settings: Settings,
    run_worker: RunWorker,
    receiver: Receiver,
) -> None:
    run = billhook
    async with run_worker(dev_env.client, settings):
        _, out = await run("endpoint", "create", receiver.url, "--events", "invoice.created")
        endpoint_id, secret = created_endpoint(out)
        _, out = await run("trigger", "invoice.created")
        assert endpoint_id in out and "succeeded" in out
        [request] = receiver.requests
        svix.webhooks.Webhook(secret).verify(request.body, request.headers)
        body = json.loads(request.body)
        assert body["attempt"] == 1 and body["properties"]["event_type"] == "invoice.created"
        assert body["properties"]["payload"]["invoice_number"]
        message_id = request.headers["svix-id"]

        _, out = await run("message", "resend", message_id)
        assert "succeeded" in out

    again = receiver.requests[1]
    svix.webhooks.Webhook(secret).verify(again.body, again.headers)
    assert again.headers["svix-id"] == message_id
    assert json.loads(again.body)["attempt"] == 2
    attempts = sorted(store.list_attempts(message_id=message_id), key=lambda a: a.attempt)
    assert [(a.attempt, a.trigger) for a in attempts] == [
        (1, AttemptTrigger.SCHEDULED),
        (2, AttemptTrigger.MANUAL),
    ]


async def test_a_disabled_endpoint_skips_messages_and_recover_delivers_them(
    billhook: Billhook,
    dev_env: WorkflowEnvironment,
    store: Store,
    settings: Settings,
    run_worker: RunWorker,
    receiver: Receiver,
) -> None:
    run = billhook
    async with run_worker(dev_env.client, settings):
        _, out = await run("endpoint", "create", receiver.url, "--events", "invoice.paid")
        endpoint_id, secret = created_endpoint(out)
        await run("endpoint", "disable", endpoint_id)
        for _ in range(2):
            _, out = await run("trigger", "invoice.paid")
            assert "skipped" in out
        assert receiver.requests == []
        skipped = store.list_messages(status=DeliveryStatus.SKIPPED)
        assert len(skipped) == 2

        _, out = await run("endpoint", "recover", endpoint_id, "--since", "1h")
        assert "2 message(s) resent" in out

    assert sorted(r.headers["svix-id"] for r in receiver.requests) == sorted(m.id for m in skipped)
    for request in receiver.requests:
        svix.webhooks.Webhook(secret).verify(request.body, request.headers)
        assert json.loads(request.body)["attempt"] == 1
    assert store.list_messages(status=DeliveryStatus.SKIPPED) == []
    assert len(store.list_messages(status=DeliveryStatus.SUCCEEDED)) == 2
    assert {a.trigger for a in store.list_attempts(endpoint_id=endpoint_id)} == {
        AttemptTrigger.MANUAL
    }
