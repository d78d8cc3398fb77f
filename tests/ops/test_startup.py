"""A worker started before Temporal or PostgreSQL answers waits for it, then serves."""

from __future__ import annotations

import asyncio
import signal
import sys
from datetime import UTC, datetime
from pathlib import Path

from temporalio.testing import WorkflowEnvironment

from config import Settings
from errors import StoreNotReady
from models.delivery import DeliveryStatus
from store import Store
from tests.conftest import postgres_database, settled
from tests.ops.conftest import address_of, emit, free_port
from tests.ops.test_shutdown import WORKER, worker_environment
from tests.proxy import TcpProxy
from tests.receiver import Receiver


async def test_a_worker_started_while_temporal_is_down_serves_once_it_answers(
    dev_env: WorkflowEnvironment,
    store: Store,
    settings: Settings,
    receiver: Receiver,
    tmp_path: Path,
) -> None:
    endpoint, _ = store.create_endpoint(receiver.url, ["invoice.created"], now=datetime.now(UTC))
    port = free_port()
    host, _, target = address_of(dev_env).rpartition(":")
    environ = worker_environment(dev_env, settings, free_port())
    environ |= {"BILLHOOK_TEMPORAL_ADDRESS": f"127.0.0.1:{port}", "BILLHOOK_LOG_FORMAT": "text"}
    process = await asyncio.create_subprocess_exec(
        sys.executable, str(WORKER), cwd=tmp_path, env=environ, stderr=asyncio.subprocess.PIPE
    )
    proxy = TcpProxy(port, (host or "127.0.0.1", int(target)))
    try:
        assert process.stderr is not None
        waiting = await _lines_until(process.stderr, "retrying in 2 s")
        assert any(f"Temporal at 127.0.0.1:{port} does not answer" in line for line in waiting)
        assert process.returncode is None  # still waiting, not exited
        drain = asyncio.create_task(process.stderr.read())  # a full pipe would block it
        await proxy.start()  # Temporal answers from now on
        event = await emit(dev_env.client, settings)
        assert await settled(store, event.message_id, 60) == {endpoint.id: DeliveryStatus.SUCCEEDED}
        process.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(process.wait(), 30) == 0
        await drain
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
        await proxy.stop()
    assert [r.headers["svix-id"] for r in receiver.requests] == [event.message_id]


async def _lines_until(stream: asyncio.StreamReader, text: str) -> list[str]:
    """The lines ``stream`` printed up to the first one containing ``text``."""
    lines: list[str] = []
    async with asyncio.timeout(30):
        while not lines or text not in lines[-1]:
            line = await stream.readline()
            assert line, f"the worker exited; it printed: {lines}"
            lines.append(line.decode())
    return lines


async def test_a_worker_started_while_postgres_is_down_migrates_and_serves_once_it_answers(
    dev_env: WorkflowEnvironment,
    settings: Settings,
    receiver: Receiver,
    tmp_path: Path,
) -> None:
    port = free_port()
    with postgres_database() as direct:
        proxied = direct.replace("127.0.0.1:5432", f"127.0.0.1:{port}")
        environ = worker_environment(dev_env, settings, free_port())
        environ |= {"BILLHOOK_DATABASE_URL": proxied, "BILLHOOK_LOG_FORMAT": "text"}
        process = await asyncio.create_subprocess_exec(
            sys.executable, str(WORKER), cwd=tmp_path, env=environ, stderr=asyncio.subprocess.PIPE
        )
        proxy = TcpProxy(port, ("127.0.0.1", 5432))
        store = Store.from_url(direct)
        try:
            assert process.stderr is not None
            waiting = await _lines_until(process.stderr, "retrying in 2 s")
            assert any(f"cannot reach the database at {proxied}" in line for line in waiting)
            assert process.returncode is None  # still waiting, not exited
            drain = asyncio.create_task(process.stderr.read())
            await proxy.start()  # the database answers from now on; the worker migrates it
            async with asyncio.timeout(30):
                while True:
                    try:
                        store.check_ready()
                        break
                    except StoreNotReady:
                        await asyncio.sleep(0.2)
            endpoint, _ = store.create_endpoint(
                receiver.url, ["invoice.created"], now=datetime.now(UTC)
            )
            event = await emit(dev_env.client, settings)
            assert await settled(store, event.message_id, 60) == {
                endpoint.id: DeliveryStatus.SUCCEEDED
            }
            process.send_signal(signal.SIGTERM)
            assert await asyncio.wait_for(process.wait(), 30) == 0
            await drain
        finally:
            if process.returncode is None:
                process.kill()
                await process.wait()
            await proxy.stop()
            store.engine.dispose()
    assert [r.headers["svix-id"] for r in receiver.requests] == [event.message_id]


async def test_a_worker_whose_sqlite_file_cannot_be_opened_fails_at_once(
    dev_env: WorkflowEnvironment, settings: Settings, tmp_path: Path
) -> None:
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("")
    environ = worker_environment(dev_env, settings, free_port())
    environ |= {"BILLHOOK_DATABASE_URL": f"sqlite:///{blocker}/billhook.db"}
    process = await asyncio.create_subprocess_exec(
        sys.executable, str(WORKER), cwd=tmp_path, env=environ, stderr=asyncio.subprocess.PIPE
    )
    _, err = await asyncio.wait_for(process.communicate(), 30)
    assert process.returncode == 1
    assert (
        err.decode()
        .splitlines()[-1]
        .startswith(f"error: cannot reach the database at sqlite:///{blocker}/billhook.db")
    )
