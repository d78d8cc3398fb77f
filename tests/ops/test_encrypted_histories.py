"""A whole billing story with payload encryption on: no history, no log line holds the
customer's name or email, an endpoint secret or the codec key; the codec server opens them."""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from io import StringIO
from pathlib import Path

import pytest
import svix.webhooks
from pydantic import SecretStr

import logs
from client.ids import customer_workflow_id, invoice_workflow_id
from client.starts import start_customer
from codec import new_key
from config import Settings
from dev_server import stop
from models.billing import ChargeTiming, CustomerSnapshot, PayInput, UsageInput
from models.events import EventType
from models.search import dev_server_args
from starter.codec_server import make_server
from store import Store
from temporal_client import connect
from tests.conftest import RunWorker
from tests.e2e.test_lifecycle import cancel_now
from tests.lifecycle import NEW_YORK, billing_setup, subscribe
from tests.ops.conftest import free_port
from tests.receiver import Received, Receiver
from workflows.invoice import InvoiceWorkflow
from workflows.subscription import SubscriptionWorkflow

TEMPORAL = str(Path(sys.executable).with_name("temporal"))
#: The protobuf JSON of ``encoding: binary/encrypted``, as ``temporal workflow show`` prints it.
SEALED = base64.b64encode(b"binary/encrypted").decode()


@pytest.fixture
def dev_server(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """A dev server of this test alone (its namespace holds only this story); its log file."""
    port = free_port()
    log_path = tmp_path / "temporal-server.log"
    command = [TEMPORAL, "server", "start-dev", "--headless", "--ip", "127.0.0.1"]
    command += ["--port", str(port), "--http-port", str(free_port())]
    command += ["--metrics-port", str(free_port()), "--log-level", "info", *dev_server_args()]
    with log_path.open("wb") as log:
        server = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
    address = f"127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while temporal("operator", "cluster", "health", address=address).returncode != 0:
            assert server.poll() is None, log_path.read_text()
            assert time.monotonic() < deadline, "the dev server did not start"
            time.sleep(0.5)
        yield address, log_path
    finally:
        stop(server, 15)


def temporal(*args: str, address: str) -> subprocess.CompletedProcess[str]:
    """The ``temporal`` CLI, as an operator runs it."""
    return subprocess.run(
        [TEMPORAL, *args, "--address", address],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def every_history(address: str) -> str:
    """``temporal workflow show --output json`` of every run of every workflow, joined.

    The CLI prints each payload's data in base64: the data of every payload is appended
    decoded, so what a plain payload holds is searchable as text.
    """
    listed = temporal("workflow", "list", "--output", "json", "--limit", "1000", address=address)
    assert listed.returncode == 0, listed.stderr
    runs = [
        (w["execution"]["workflowId"], w["execution"]["runId"]) for w in json.loads(listed.stdout)
    ]
    shown = []
    for workflow_id, run_id in runs:
        done = temporal(
            *("workflow", "show", "--workflow-id", workflow_id, "--run-id", run_id),
            *("--output", "json"),
            address=address,
        )
        assert done.returncode == 0, done.stderr
        shown.append(done.stdout)
        shown.extend(payload_texts(json.loads(done.stdout)))
    return "\n".join([listed.stdout, *shown])


@pytest.fixture
def captured_logs() -> Iterator[StringIO]:
    """Every log record of the test process (worker, SDK, billhook), as JSON lines."""
    stream = StringIO()
    handler = logs.make_handler("json", stream)
    handler.setLevel(logging.DEBUG)
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    try:
        yield stream
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


async def until(check: Callable[[], bool], what: str, seconds: float = 60) -> None:
    deadline = asyncio.get_running_loop().time() + seconds
    while not check():
        assert asyncio.get_running_loop().time() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.2)


@pytest.mark.timeout(300)
@pytest.mark.parametrize("encryption", ["on", "off"])
async def test_no_history_or_log_line_holds_customer_data_or_secrets(
    encryption: str,
    dev_server: tuple[str, Path],
    store: Store,
    settings: Settings,
    run_worker: RunWorker,
    receiver: Receiver,
    captured_logs: StringIO,
    capfd: pytest.CaptureFixture[str],
) -> None:
    address, server_log = dev_server
    key = new_key()
    codec_keys = f"prod1:{key}" if encryption == "on" else ""
    encrypted = settings.model_copy(
        update={"temporal_address": address, "codec_keys": _secret(codec_keys)}
    )
    tag = uuid.uuid4().hex[:8]
    name, email = f"Quillfeather Analytics {tag}", f"finance-{tag}@quillfeather.test"
    billing = billing_setup(
        store, period="PT5S", flat="10", timing=ChargeTiming.IN_ADVANCE, threshold="100"
    )
    customer = CustomerSnapshot(
        customer_id=f"quill-{tag}", name=name, email=email, timezone=NEW_YORK, net_terms_days=0
    )
    billing = replace(billing, customer=customer)
    now = datetime.now(UTC)
    _, first_secret = store.create_endpoint(receiver.url, list(EventType), now=now)
    second, old_secret = store.create_endpoint(receiver.url, list(EventType), now=now)
    new_secret = store.rotate_secret(second.id, now, timedelta(hours=1))
    secrets = [first_secret, old_secret, new_secret]
    receiver.statuses = [500]  # one failed first attempt: a RetryWorkflow of its own

    def received() -> list[str]:
        return [json.loads(r.body)["properties"]["event_type"] for r in receiver.requests]

    client = await connect(encrypted)
    async with run_worker(client, encrypted):
        await (await start_customer(client, encrypted.task_queue, customer)).result()
        handle = await subscribe(client, encrypted.task_queue, billing, datetime.now(UTC))
        await until(lambda: "subscription.created" in received(), "subscription.created")
        usage = UsageInput(
            metric_id=billing.metric.metric_id, quantity=Decimal(120), idempotency_key="u1"
        )
        await handle.execute_update(SubscriptionWorkflow.record_usage, usage)
        await until(lambda: "subscription.renewed" in received(), "a renewal")
        invoice = min(billing.catalog.list_invoices(), key=lambda i: i.issue_date)
        await client.get_workflow_handle_for(
            InvoiceWorkflow.run, invoice_workflow_id(invoice.invoice_id)
        ).execute_update(InvoiceWorkflow.pay, PayInput())
        await until(lambda: "invoice.paid" in received(), "invoice.paid")
        await cancel_now(handle)
        await until(lambda: "subscription.cancelled" in received(), "subscription.cancelled")
        await until(lambda: received().count("customer.created") >= 3, "the retried delivery")
        histories = every_history(address)

    # The story went through with encryption on: receivers got the customer in clear, signed.
    created = [r for r in receiver.requests if b'"customer.created"' in r.body]
    assert email in created[-1].body.decode() and name in created[-1].body.decode()
    for request in receiver.requests:
        _verify_with_any(request, secrets)
    assert {EventType(e) for e in received()} >= {
        EventType.CUSTOMER_CREATED,
        EventType.SUBSCRIPTION_CREATED,
        EventType.SUBSCRIPTION_RENEWED,
        EventType.INVOICE_CREATED,
        EventType.INVOICE_PAID,
        EventType.USAGE_ALERT_TRIGGERED,
        EventType.SUBSCRIPTION_CANCELLED,
    }

    # Every history of the namespace: customer, subscription runs, invoices, dispatchers, retry.
    for kind in ("CustomerWorkflow", "SubscriptionWorkflow", "InvoiceWorkflow"):
        assert kind in histories
    assert "DispatchWorkflow" in histories and "RetryWorkflow" in histories
    out, err = capfd.readouterr()
    everything = {
        "histories": histories,
        "billhook's logs": captured_logs.getvalue(),
        "the dev server's log": server_log.read_text(),
        "stdout and stderr": out + err,
    }
    needles = {
        "name": name,
        "email": email,
        "codec key": key,
        **{f"secret {i}": s for i, s in enumerate(secrets)},
        **{f"secret {i} key": s.removeprefix("whsec_") for i, s in enumerate(secrets)},
    }
    found = [
        f"{what} in {where}"
        for where, text in everything.items()
        for what, needle in needles.items()
        if needle in text
    ]
    # The customer id stays in clear (a search attribute): operators filter by it.
    assert f'"quill-{tag}"' in histories
    if encryption == "off":
        # The control: the same search over the same story finds the customer in clear, so
        # it reads what histories hold. (Secrets never enter them: activities read the store.)
        assert found == ["name in histories", "email in histories"]
        assert SEALED not in histories
        return
    assert histories.count(SEALED) > 20  # the payloads are there, sealed
    assert found == []

    # The codec server opens them for an operator: the CLI (and the Web UI) decode through it.
    server = make_server(encrypted, "127.0.0.1", 0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        codec_endpoint = f"http://127.0.0.1:{server.server_address[1]}"
        shown = await asyncio.to_thread(
            temporal,
            *("workflow", "show", "--workflow-id", customer_workflow_id(customer.customer_id)),
            *("--output", "json", "--codec-endpoint", codec_endpoint),
            address=address,
        )
    finally:
        server.shutdown()
        server.server_close()
    assert shown.returncode == 0, shown.stderr
    opened = payload_texts(json.loads(shown.stdout))
    assert SEALED not in shown.stdout
    assert any(email in text and name in text for text in opened), opened


def payload_texts(node: object) -> list[str]:
    """The data of every payload in a ``temporal workflow show --output json`` document."""
    if isinstance(node, list):
        return [text for item in node for text in payload_texts(item)]
    if not isinstance(node, dict):
        return []
    if isinstance(node.get("metadata"), dict) and isinstance(node.get("data"), str):
        return [base64.b64decode(node["data"]).decode(errors="replace")]
    return [text for value in node.values() for text in payload_texts(value)]


def _secret(text: str) -> SecretStr:
    return SecretStr(text)


def _verify_with_any(request: Received, secrets: list[str]) -> None:
    for secret in secrets:
        try:
            svix.webhooks.Webhook(secret).verify(request.body, request.headers)
            return
        except svix.webhooks.WebhookVerificationError:
            continue
    raise AssertionError("a request no endpoint secret verifies")
