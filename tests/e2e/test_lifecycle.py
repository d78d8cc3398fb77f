"""A whole billing story on the real dev server, delivered to a real receiver."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import uuid
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import svix.webhooks
from temporalio.client import WorkflowHandle, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment

from client.ids import customer_workflow_id, invoice_workflow_id
from client.starts import start_customer
from config import Settings
from models.billing import (
    CancelInput,
    ChargeTiming,
    CustomerSnapshot,
    PayInput,
    SubscriptionState,
    UsageInput,
)
from models.events import EventType
from models.periods import in_timezone
from store import Store
from tests.conftest import RunWorker
from tests.lifecycle import NEW_YORK, billing_setup, subscribe
from tests.receiver import Received, Receiver
from workflows.invoice import InvoiceWorkflow
from workflows.subscription import PERIOD_CLOSING, SubscriptionWorkflow


async def until(check: Callable[[], bool], what: str, seconds: float = 40) -> None:
    """Poll ``check`` until it holds; fail naming ``what`` after ``seconds``."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while not check():
        assert loop.time() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.2)


async def cancel_now(handle: WorkflowHandle[SubscriptionWorkflow, SubscriptionState]) -> None:
    """Cancel, retrying while a 5-second period is closing (the workflow refuses then)."""
    for _ in range(20):
        try:
            await handle.execute_update(SubscriptionWorkflow.cancel, CancelInput())
            return
        except WorkflowUpdateFailedError as err:
            if not isinstance(err.cause, ApplicationError) or err.cause.type != PERIOD_CLOSING:
                raise
            await asyncio.sleep(0.25)
    raise AssertionError("the subscription kept closing periods")


def temporal_list(env: WorkflowEnvironment, query: str) -> str:
    """What ``temporal workflow list --query`` prints, as an operator would run it."""
    address = env.client.service_client.config.target_host
    command = [str(Path(sys.executable).with_name("temporal")), "workflow", "list"]
    command += ["--address", address, "--query", query, "--limit", "100"]
    return subprocess.run(command, capture_output=True, text=True, check=True).stdout


async def test_a_pt5s_plan_through_two_renewals_delivers_every_event_verified(
    dev_env: WorkflowEnvironment,
    store: Store,
    settings: Settings,
    run_worker: RunWorker,
    receiver: Receiver,
) -> None:
    billing = billing_setup(
        store, period="PT5S", flat="10", timing=ChargeTiming.IN_ADVANCE, threshold="100"
    )
    _, secret = store.create_endpoint(receiver.url, list(EventType), now=datetime.now(UTC))
    # Net terms of 0 days: every invoice is due when issued, so one goes past due at once.
    customer = CustomerSnapshot(
        customer_id=f"acme-{uuid.uuid4().hex[:8]}", name="Acme", timezone=NEW_YORK, net_terms_days=0
    )
    billing = replace(billing, customer=customer)

    def received() -> list[str]:
        """Event types in the order they first arrived (a retried one counts once)."""
        return [json.loads(r.body)["properties"]["event_type"] for r in first_of_each()]

    def first_of_each() -> list[Received]:
        seen: dict[str, Received] = {}
        for request in receiver.requests:
            seen.setdefault(request.headers["svix-id"], request)
        return list(seen.values())

    # customer.created fails once: its retries run in a workflow the Web UI finds.
    receiver.statuses = [500]

    async with run_worker(dev_env.client, settings):
        await (await start_customer(dev_env.client, settings.task_queue, customer)).result()
        start = in_timezone(datetime.now(UTC), NEW_YORK)
        handle = await subscribe(dev_env.client, settings.task_queue, billing, start)
        # Deliveries of different messages run concurrently (receivers order by the payload,
        # as with Svix and Stripe): the usage is sent once the subscription is announced.
        await until(lambda: "subscription.created" in received(), "subscription.created")
        usage = UsageInput(
            metric_id=billing.metric.metric_id, quantity=Decimal(120), idempotency_key="u1"
        )
        await handle.execute_update(SubscriptionWorkflow.record_usage, usage)
        await until(lambda: received().count("subscription.renewed") >= 2, "two renewals")
        first = min(billing.catalog.list_invoices(), key=lambda i: i.issue_date)
        invoice = dev_env.client.get_workflow_handle_for(
            InvoiceWorkflow.run, invoice_workflow_id(first.invoice_id)
        )
        await invoice.execute_update(InvoiceWorkflow.pay, PayInput())
        await until(lambda: "invoice.paid" in received(), "invoice.paid")
        await cancel_now(handle)
        await until(lambda: "subscription.cancelled" in received(), "subscription.cancelled")
        listed = temporal_list(dev_env, f'CustomerId="{customer.customer_id}"')
        retried = temporal_list(
            dev_env, f'EventType="customer.created" AND CustomerId="{customer.customer_id}"'
        )

    for request in receiver.requests:
        svix.webhooks.Webhook(secret).verify(request.body, request.headers)
    events = received()
    order = {name: events.index(name) for name in set(events)}
    assert set(events) == {event.value for event in EventType}
    assert events.count("customer.created") == events.count("subscription.created") == 1
    assert order["customer.created"] < order["subscription.created"]
    assert order["subscription.created"] < order["subscription.renewed"]
    assert order["invoice.created"] < order["invoice.past_due"] < order["invoice.paid"]
    assert order["subscription.created"] < order["usage_alert.triggered"]
    renewed = [json.loads(r.body)["properties"]["payload"] for r in first_of_each()]
    renewed = [p for p, e in zip(renewed, events, strict=True) if e == "subscription.renewed"]
    assert renewed[0]["end_date"] < renewed[1]["start_date"]  # consecutive periods, in order
    paid = next(
        json.loads(r.body)["properties"]["payload"]
        for r, e in zip(first_of_each(), events, strict=True)
        if e == "invoice.paid"
    )
    assert paid["invoice_id"] == first.invoice_id and paid["payment_status"] == "paid"
    for workflow_id in (
        customer_workflow_id(customer.customer_id),
        handle.id,
        invoice_workflow_id(first.invoice_id),
    ):
        assert workflow_id in listed
    # First attempts go in batches; a delivery that failed is a RetryWorkflow of its own.
    assert "RetryWorkflow" in listed
    assert retried.count("RetryWorkflow") == 1 and "retry-msg_" in retried
