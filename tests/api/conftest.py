"""Fixtures of the API tests: ``billhook serve``'s application over real HTTP.

uvicorn serves ``api.app.create_app`` on a thread of its own, on a free port of 127.0.0.1,
with its own ``BillhookClient`` on the dev server; a worker runs on the test's task queue, as
``tests/client`` runs one. Tests talk to it with httpx, as any other language would.
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import svix.webhooks
from pydantic import SecretStr
from temporalio.testing import WorkflowEnvironment

import config
from api.server import build_server
from client.api_keys import ApiKeys
from client.core import Core
from config import Settings
from starter.cli import main
from store import Store
from tests.client.conftest import dev_settings  # noqa: F401 (a fixture)
from tests.conftest import RunWorker
from tests.receiver import Receiver

#: The Stripe signing secret the tests' server is configured with.
STRIPE_SECRET = "whsec_test_billhook_api"


@dataclass
class Api:
    """A running API: its base URL, a valid key, and an httpx client sending that key."""

    url: str
    key: str
    http: httpx.AsyncClient
    settings: Settings
    store: Store

    def anonymous(self) -> httpx.AsyncClient:
        """A client sending no key."""
        return httpx.AsyncClient(base_url=self.url, timeout=30)


@contextmanager
def serving(settings: Settings, store: Store, worker_wait: float = 10.0) -> Iterator[str]:
    """The API on a free port of 127.0.0.1 for the block's duration; its base URL."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = build_server(settings, "127.0.0.1", port, store=store, worker_wait=worker_wait)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the API did not start"
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()


async def make_key(settings: Settings, store: Store, name: str = "tests") -> str:
    """A new API key, made as ``billhook api-key create`` makes one."""
    return (await ApiKeys(Core(settings, store=store)).create(name)).secret


@pytest.fixture
def api_settings(dev_settings: Settings) -> Settings:  # noqa: F811 (the imported fixture)
    """The test's settings on the dev server, with a Stripe signing secret."""
    return dev_settings.model_copy(update={"stripe_webhook_secret": SecretStr(STRIPE_SECRET)})


@pytest.fixture
async def api(
    dev_env: WorkflowEnvironment, api_settings: Settings, store: Store, run_worker: RunWorker
) -> AsyncIterator[Api]:
    """The API served over HTTP, a worker on its task queue, and a client with a valid key."""
    async with run_worker(dev_env.client, api_settings):
        key = await make_key(api_settings, store)
        with serving(api_settings, store) as url:
            headers = {"Authorization": f"Bearer {key}"}
            async with httpx.AsyncClient(base_url=url, headers=headers, timeout=60) as http:
                yield Api(url, key, http, api_settings, store)


def error_of(response: httpx.Response, status: int) -> dict[str, str]:
    """The ``error`` object of a refusal, checked to be ``status`` and one line."""
    assert response.status_code == status, response.text
    error: dict[str, str] = response.json()["error"]
    assert set(error) == {"code", "message"} and "\n" not in error["message"]
    return error


async def ok(response: httpx.Response, status: int = 200) -> Any:
    """The JSON body of a success, checked to be ``status``."""
    assert response.status_code == status, response.text
    return response.json() if response.content else None


async def received(
    receiver: Receiver, secret: str, event_type: str, count: int = 1, within: float = 20
) -> list[dict[str, Any]]:
    """The first ``count`` requests of ``event_type`` the receiver got, each verified."""
    async with asyncio.timeout(within):
        while True:
            bodies = []
            for request in list(receiver.requests):
                svix.webhooks.Webhook(secret).verify(request.body, request.headers)
                body = json.loads(request.body)
                if body["properties"]["event_type"] == event_type:
                    bodies.append(body)
            if len(bodies) >= count:
                return bodies
            await asyncio.sleep(0.05)


def cli_error(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    settings: Settings,
    *argv: str,
) -> str:
    """What ``billhook *argv`` prints on the same store for a refusal, without ``error: ``."""
    monkeypatch.setenv("BILLHOOK_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("BILLHOOK_TEMPORAL_ADDRESS", settings.temporal_address)
    monkeypatch.setenv("BILLHOOK_TASK_QUEUE", settings.task_queue)
    monkeypatch.setenv("BILLHOOK_ENVIRONMENT", settings.environment)
    config.get_settings.cache_clear()
    capsys.readouterr()
    try:
        assert main(list(argv)) == 1
    finally:
        config.get_settings.cache_clear()
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1, err
    return err.removeprefix("error: ").rstrip("\n")
