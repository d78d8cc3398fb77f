"""The receiver guide's examples (docs/receiving.md) verify real billhook deliveries.

Each example runs as its own process, as a reader would run it: the Python one with this venv's
Python (which has ``svix``), the Node one with ``node`` and the ``svix`` npm package installed
by ``npm ci --prefix docs/examples/node`` (``make test`` does it). The Go example is not run:
its module cannot be fetched here.
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import os
import re
import shutil
import socket
import sys
import time
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import pytest
from temporalio.testing import WorkflowEnvironment

from config import Settings
from models.delivery import DeliveryStatus, DeliveryWorkflowResult, Event
from models.events import EventType
from models.signing import generate_secret, secret_key, sign, webhook_headers
from store import Store
from tests.conftest import RunWorker, emit_events, settled
from tests.receiver import Receiver

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "docs" / "examples"
NODE_EXAMPLE = EXAMPLES / "node"
GUIDE = ROOT / "docs" / "receiving.md"
#: A real invoice.created payload, as the payload builders serialize it.
GOLDEN = json.loads((ROOT / "tests" / "models" / "golden" / "invoice.created.json").read_text())
PAYLOAD: dict[str, Any] = GOLDEN["properties"]["payload"]
STARTUP_TIMEOUT = 20.0


def python_command() -> list[str]:
    return [sys.executable, str(EXAMPLES / "python" / "receiver.py")]


def node_command() -> list[str]:
    """The Node example's command; a missing ``node`` or ``node_modules`` is a failure."""
    if shutil.which("node") is None:
        pytest.fail("node is not on PATH: the Node.js receiver example needs Node.js >= 18")
    if not (NODE_EXAMPLE / "node_modules" / "svix").is_dir():
        pytest.fail(
            "docs/examples/node/node_modules is missing: run `make test`, or "
            "`npm ci --prefix docs/examples/node` before pytest"
        )
    return ["node", str(NODE_EXAMPLE / "receiver.mjs")]


COMMANDS: dict[str, Callable[[], list[str]]] = {"python": python_command, "node": node_command}


def lotus_secret() -> str:
    """A secret in Lotus's format: ``whsec_`` + 32 hex characters."""
    return "whsec_" + uuid.uuid4().hex


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class Example:
    """A running example receiver."""

    process: asyncio.subprocess.Process
    url: str

    async def finish(self) -> list[str]:
        """Wait for it to exit on its own (``EXIT_AFTER``) and return what it printed."""
        out, _ = await asyncio.wait_for(self.process.communicate(), STARTUP_TIMEOUT)
        lines = out.decode().splitlines()
        assert self.process.returncode == 0, lines
        return lines


@asynccontextmanager
async def running(
    command: list[str], secret: str, exit_after: int, port: int = 0
) -> AsyncIterator[Example]:
    """Start an example with the guide's environment variables; wait until it listens."""
    env = {**os.environ, "WEBHOOK_SECRET": secret, "PORT": str(port)}
    env["EXIT_AFTER"] = str(exit_after)
    process = await asyncio.create_subprocess_exec(
        *command,
        cwd=ROOT,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    try:
        assert process.stdout is not None
        first = (await asyncio.wait_for(process.stdout.readline(), STARTUP_TIMEOUT)).decode()
        if not first.startswith("listening on http://"):
            rest = (await asyncio.wait_for(process.stdout.read(), STARTUP_TIMEOUT)).decode()
            pytest.fail(f"{' '.join(command)} did not start:\n{first}{rest}")
        yield Example(process, first.split()[-1])
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


async def deliver(
    client: Any, settings: Settings, store: Store, run_worker: RunWorker
) -> tuple[Event, DeliveryWorkflowResult]:
    """Emit an invoice.created through the real pipeline and wait for its delivery."""
    event = Event.for_event(
        EventType.INVOICE_CREATED, f"docs:{uuid.uuid4().hex}", PAYLOAD, datetime.now(UTC)
    )
    async with run_worker(client, settings):
        await emit_events(client, settings, event)
        result = DeliveryWorkflowResult(statuses=await settled(store, event.message_id))
    return event, result


def load_verify_hmac() -> ModuleType:
    path = EXAMPLES / "python" / "verify_hmac.py"
    spec = importlib.util.spec_from_file_location("verify_hmac", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


async def verify_sh(
    secret: str, headers: dict[str, str], body: bytes, check: bool = True
) -> tuple[int, list[str]]:
    """Run the openssl example: its exit status and output (signature first)."""
    args = [headers["svix-id"], headers["svix-timestamp"]]
    if check:
        args.append(headers["svix-signature"])
    process = await asyncio.create_subprocess_exec(
        "bash",
        str(EXAMPLES / "shell" / "verify.sh"),
        *args,
        env={**os.environ, "WEBHOOK_SECRET": secret},
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await asyncio.wait_for(process.communicate(body), STARTUP_TIMEOUT)
    assert process.returncode is not None
    return process.returncode, out.decode().splitlines()


@pytest.mark.parametrize(
    ("language", "make_secret"),
    [
        pytest.param("python", generate_secret, id="python"),
        pytest.param("node", generate_secret, id="node"),
        pytest.param("node", lotus_secret, id="node-lotus-secret"),
        pytest.param("python", lotus_secret, id="python-lotus-secret"),
    ],
)
async def test_example_verifies_a_real_delivery(
    language: str,
    make_secret: Callable[[], str],
    dev_env: WorkflowEnvironment,
    store: Store,
    settings: Settings,
    run_worker: RunWorker,
) -> None:
    command = COMMANDS[language]()
    port = free_port()
    endpoint, secret = store.create_endpoint(
        f"http://127.0.0.1:{port}/webhooks",
        ["invoice.created"],
        now=datetime.now(UTC),
        secret=make_secret(),
    )
    async with running(command, secret, exit_after=1, port=port) as example:
        event, result = await deliver(dev_env.client, settings, store, run_worker)
        lines = await example.finish()

    assert f"verified invoice.created {event.message_id} attempt 1" in lines, lines
    assert result.statuses == {endpoint.id: DeliveryStatus.SUCCEEDED}
    [delivery] = store.deliveries_for_message(event.message_id)
    assert (delivery.status, delivery.attempts) == (DeliveryStatus.SUCCEEDED, 1)
    [attempt] = store.list_attempts(message_id=event.message_id)
    assert (attempt.attempt, attempt.response_status) == (1, 204)


@pytest.mark.parametrize("language", ["python", "node"])
async def test_example_answers_400_to_a_tampered_body_or_a_stale_timestamp(
    language: str,
) -> None:
    command = COMMANDS[language]()
    secret = generate_secret()
    body = json.dumps(GOLDEN, separators=(",", ":")).encode()
    signed = webhook_headers([secret], "msg_tampered", int(time.time()), body, "test/1")
    tampered = body.replace(b'"amount":62.34', b'"amount":0.01', 1)
    assert tampered != body
    stale = webhook_headers([secret], "msg_stale", int(time.time()) - 6 * 60, body, "test/1")

    async with running(command, secret, exit_after=2) as example, httpx.AsyncClient() as http:
        assert (await http.post(example.url, content=tampered, headers=signed)).status_code == 400
        assert (await http.post(example.url, content=body, headers=stale)).status_code == 400
        lines = await example.finish()

    assert not any(line.startswith("verified") for line in lines), lines
    assert sum(line.startswith("rejected") for line in lines) == 2, lines


@pytest.mark.parametrize("language", ["python", "node"])
async def test_example_accepts_the_old_secret_while_a_rotation_sends_two_signatures(
    language: str,
) -> None:
    command = COMMANDS[language]()
    old, new = generate_secret(), generate_secret()
    body = json.dumps(GOLDEN, separators=(",", ":")).encode()
    headers = webhook_headers([new, old], "msg_rotation", int(time.time()), body, "test/1")
    assert len(headers["svix-signature"].split(" ")) == 2

    async with running(command, old, exit_after=1) as example, httpx.AsyncClient() as http:
        assert (await http.post(example.url, content=body, headers=headers)).status_code == 204
        lines = await example.finish()

    assert "verified invoice.created msg_rotation attempt 1" in lines, lines


async def test_no_library_examples_reproduce_a_real_deliverys_signatures(
    dev_env: WorkflowEnvironment,
    store: Store,
    settings: Settings,
    run_worker: RunWorker,
    receiver: Receiver,
) -> None:
    now = datetime.now(UTC)
    # A Lotus-format secret, rotated: the request carries one signature for each secret.
    endpoint, lotus = store.create_endpoint(
        receiver.url, ["invoice.created"], now=now, secret=lotus_secret()
    )
    current = store.rotate_secret(endpoint.id, now, timedelta(hours=24))
    event, result = await deliver(dev_env.client, settings, store, run_worker)
    assert result.statuses == {endpoint.id: DeliveryStatus.SUCCEEDED}
    [request] = receiver.requests
    headers, body = request.headers, request.body
    sent = headers["svix-signature"].split(" ")
    assert len(sent) == 2 and headers["webhook-signature"] == headers["svix-signature"]
    verify_hmac = load_verify_hmac()

    for secret in (current, lotus):
        status, lines = await verify_sh(secret, headers, body, check=False)
        assert status == 0 and lines[0] in sent, lines
        assert (
            verify_hmac.signature(secret, headers["svix-id"], headers["svix-timestamp"], body)
            == lines[0]
        )
        assert (await verify_sh(secret, headers, body))[0] == 0
        envelope = verify_hmac.verify(secret, headers, body)
        assert envelope["attempt"] == 1
        assert envelope["properties"] == {"event_type": "invoice.created", "payload": PAYLOAD}
    assert headers["svix-id"] == event.message_id

    tampered = body.replace(b'"attempt":1', b'"attempt":2', 1)
    status, lines = await verify_sh(current, headers, tampered)
    assert status == 1 and "rejected: no matching signature" in lines
    with pytest.raises(verify_hmac.InvalidWebhook):
        verify_hmac.verify(current, headers, tampered)
    with pytest.raises(verify_hmac.InvalidWebhook):
        verify_hmac.verify(current, headers, body, now=time.time() + 6 * 60)
    with pytest.raises(verify_hmac.InvalidWebhook):
        verify_hmac.verify(generate_secret(), headers, body)


def test_the_guides_example_body_is_a_real_envelope() -> None:
    blocks = re.findall(r"```json\n(.*?)```", GUIDE.read_text(), flags=re.DOTALL)
    [example] = [json.loads(b) for b in blocks if '"attempt"' in b]
    assert list(example) == ["attempt", "created_at", "properties"]
    assert example["attempt"] == 1
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{6}\+00:00", example["created_at"])
    assert example["properties"] == {"event_type": "invoice.created", "payload": PAYLOAD}


def test_the_guides_worked_example_is_billhooks_signature() -> None:
    text = GUIDE.read_text()
    start = text.index("```text\nsecret ") + len("```text\n")
    block = text[start : text.index("```", start)]
    labels = ["lotus signature", "lotus secret", "svix-timestamp", "svix-id", "signature"]
    labels += ["secret", "body"]
    values = {}
    for line in block.splitlines():
        label = next(label for label in labels if line.startswith(label + " "))
        values[label] = line.removeprefix(label).strip()
    body = values["body"].encode()
    msg_id, timestamp = values["svix-id"], int(values["svix-timestamp"])
    for secret, expected in [
        (values["secret"], values["signature"]),
        (values["lotus secret"], values["lotus signature"]),
    ]:
        assert sign(secret_key(secret), msg_id, timestamp, body) == expected
    # The rotation section shows the same request's header while both secrets sign.
    assert f"svix-signature: {values['signature']} {values['lotus signature']}\n" in text
