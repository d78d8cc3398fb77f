"""Customers, subscriptions, usage and invoices from the command line, on the time-skipping server.

``billhook`` runs in-process but in a thread: ``main`` runs its own event loop, while the worker
runs on the test's. Refusals are asserted as a user sees them: one ``error:`` line, exit 1.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator

import pytest
from temporalio.client import WorkflowExecutionStatus, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment

import config
from client import temporal as temporal_side
from client.ids import invoice_workflow_id, subscription_workflow_id
from client.starts import start_customer
from config import Settings
from errors import InvalidInput
from models.billing import CustomerSnapshot
from store import Store
from tests.conftest import RunWorker
from tests.starter.conftest import Cli, Result
from tests.starter.test_billing_catalog import created_id, make_metric, make_plan
from workflows.subscription import PERIOD_CLOSING


@pytest.fixture
async def billing_cli(
    cli: Cli,
    ts_env: WorkflowEnvironment,
    settings: Settings,
    run_worker: RunWorker,
    monkeypatch: pytest.MonkeyPatch,
) -> AsyncIterator[Cli]:
    """``billhook`` pointed at the time-skipping server, with a worker on its task queue."""
    monkeypatch.setenv("BILLHOOK_TEMPORAL_ADDRESS", ts_env.client.service_client.config.target_host)
    monkeypatch.setenv("BILLHOOK_TASK_QUEUE", settings.task_queue)
    config.get_settings.cache_clear()
    async with run_worker(ts_env.client, settings):
        yield cli


async def run(cli: Cli, *argv: str) -> Result:
    return await asyncio.to_thread(cli, *argv)


async def ok(cli: Cli, *argv: str) -> str:
    result = await run(cli, *argv)
    assert result.code == 0, result.err
    return result.out


async def refused(cli: Cli, *argv: str) -> str:
    """Run a command that must be refused in one line; that line."""
    result = await run(cli, *argv)
    assert result.code == 1, result
    assert result.err.startswith("error: ") and result.err.count("\n") == 1, result.err
    return result.err


async def closed(env: WorkflowEnvironment, workflow_id: str) -> None:
    """Wait until a workflow has closed, without letting the test server skip time."""
    handle = env.client.get_workflow_handle(workflow_id)
    for _ in range(100):
        if (await handle.describe()).status != WorkflowExecutionStatus.RUNNING:
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"{workflow_id} is still running")


async def setup(cli: Cli, *plan_options: str) -> tuple[str, str]:
    """A customer ``acme`` in New York and a plan billing API calls: the metric and plan ids."""
    await ok(cli, "customer", "create", "acme", "--name", "Acme Corp",
             "--timezone", "America/New_York")  # fmt: skip
    metric_id = make_metric(cli)
    return metric_id, make_plan(cli, metric_id, *plan_options)


async def subscribe(cli: Cli, plan_id: str) -> str:
    return created_id(await ok(cli, "subscription", "create", "--customer", "acme",
                               "--plan", plan_id), "sub_")  # fmt: skip


async def test_a_customer_is_created_once(billing_cli: Cli, store: Store) -> None:
    created = await ok(billing_cli, "customer", "create", "acme", "--name", "Acme Corp",
                       "--email", "billing@acme.test", "--net-terms", "14")  # fmt: skip
    assert "created customer acme" in created
    assert re.search(r"^net terms +14 days$", created, re.M)
    message_id = re.search(r"customer\.created emitted as (msg_[0-9a-f]{32})", created)
    assert message_id, created

    again = await refused(billing_cli, "customer", "create", "acme", "--name", "Other")
    assert again.startswith("error: customer acme exists already")

    [message] = store.list_messages(event_type="customer.created")
    assert message.id == message_id.group(1)
    listing = await ok(billing_cli, "customer", "list")
    assert re.search(r"^acme\s+Acme Corp\s+billing@acme.test\s+UTC\s+USD\s+14$", listing, re.M)


async def test_a_customers_addresses_are_stored_shown_and_sent(
    billing_cli: Cli, store: Store
) -> None:
    created = await ok(
        billing_cli, "customer", "create", "acme",
        "--address", "line1=548 Market St", "--address", "city=San Francisco",
        "--address", "state=CA", "--address", "postal_code=94104", "--address", "country=US",
        "--billing-address", "line1=PO Box 7", "--billing-address", "city=Oakland",
        "--billing-address", "country=US",
    )  # fmt: skip

    assert re.search(r"^address +548 Market St, San Francisco, CA 94104, US$", created, re.M)
    assert re.search(r"^billing address +PO Box 7, Oakland, US$", created, re.M)
    shown = await ok(billing_cli, "customer", "show", "acme")
    assert re.search(r"^billing address +PO Box 7, Oakland, US$", shown, re.M)
    [message] = store.list_messages(event_type="customer.created")
    payload = store.get_message(message.id).payload
    assert payload["address"] == {
        "city": "San Francisco",
        "country": "US",
        "line1": "548 Market St",
        "line2": None,
        "postal_code": "94104",
        "state": "CA",
    }
    assert payload["billing_address"]["line1"] == "PO Box 7"
    assert payload["shipping_address"] is None


async def test_a_customer_id_taken_in_temporal_is_refused(
    billing_cli: Cli, ts_env: WorkflowEnvironment, store: Store
) -> None:
    # Started where no worker polls: Temporal holds the id, the catalog has no customer yet.
    await start_customer(ts_env.client, "nobody-polls", CustomerSnapshot(customer_id="acme"))

    taken = await refused(billing_cli, "customer", "create", "acme")

    assert taken.startswith("error: customer acme exists already")
    assert store.list_messages(event_type="customer.created") == []


async def test_subscription_usage_and_refusals(
    billing_cli: Cli, ts_env: WorkflowEnvironment
) -> None:
    metric_id, plan_id = await setup(billing_cli)
    out = await ok(billing_cli, "subscription", "create", "--customer", "acme", "--plan", plan_id)
    sub_id = created_id(out, "sub_")
    assert re.search(r"^period +1$", out, re.M) and re.search(r"^status +active$", out, re.M)
    assert re.search(r"period start +\d{4}-\d\d-\d\d \d\d:\d\d:\d\d-0[45]:00", out)

    usage = ["usage", "record", sub_id, metric_id]
    first = await ok(billing_cli, *usage, "60", "--key", "batch-1")
    assert f"accepted 60 of {metric_id} (key batch-1)" in first
    again = await ok(billing_cli, *usage, "60", "--key", "batch-1")
    assert "duplicate: key batch-1 was recorded before; nothing was added" in again
    assert f"usage of {metric_id} this period: 60" in again
    fresh = await ok(billing_cli, *usage, "2.5")
    assert re.search(r"accepted 2.5 of metric_\w+ \(key [0-9a-f]{32}\)", fresh)
    assert "this period: 62.5" in fresh

    unknown = await refused(billing_cli, "usage", "record", sub_id, "metric_nope", "1")
    assert f"error: metric metric_nope is not billed by plan {plan_id}" in unknown
    negative = await refused(billing_cli, *usage, "-3")
    assert negative == "error: the quantity is -3; give a number 0 or more\n"  # before Temporal
    assert "'lots' is not a number" in await refused(billing_cli, *usage, "lots")
    assert "no subscription sub_nope" in await refused(billing_cli, "usage", "record", "sub_nope",
                                                       metric_id, "1")  # fmt: skip

    shown = await ok(billing_cli, "subscription", "show", sub_id)
    assert "its workflow (live)" in shown
    assert re.search(rf"^{metric_id}\s+API calls\s+62.5\s+100\s+0.01 USD$", shown, re.M)

    at_end = await ok(billing_cli, "subscription", "cancel", sub_id, "--at-period-end")
    assert "subscription.cancelled is emitted then, with its final invoice" in at_end
    shown = await ok(billing_cli, "subscription", "show", sub_id)
    assert re.search(r"^status +cancelled$", shown, re.M)
    assert re.search(r"^auto-renew +no$", shown, re.M)
    twice = await refused(billing_cli, "subscription", "cancel", sub_id)
    assert twice == f"error: subscription {sub_id} is already cancelled\n"


async def test_an_ended_subscription_refuses_usage_and_cancel(
    billing_cli: Cli, ts_env: WorkflowEnvironment
) -> None:
    metric_id, plan_id = await setup(billing_cli)
    sub_id = await subscribe(billing_cli, plan_id)
    cancelled = await ok(billing_cli, "subscription", "cancel", sub_id)
    assert "final invoice" in cancelled
    await closed(ts_env, subscription_workflow_id(sub_id))

    ended = f"error: subscription {sub_id} has ended\n"
    assert await refused(billing_cli, "usage", "record", sub_id, metric_id, "1") == ended
    assert await refused(billing_cli, "subscription", "cancel", sub_id) == ended
    shown = await ok(billing_cli, "subscription", "show", sub_id)
    assert "status        ended" in shown and "the catalog: its workflow has closed" in shown
    listing = await ok(billing_cli, "subscription", "list", "--status", "ended")
    assert re.search(rf"^{sub_id}\s+acme\s+Pro\s+ended\s+no\s+1\s", listing, re.M)


async def test_a_start_is_read_in_the_customer_timezone(billing_cli: Cli) -> None:
    _, plan_id = await setup(billing_cli)
    start = ["subscription", "create", "--customer", "acme", "--plan", plan_id, "--start"]
    future = await ok(billing_cli, *start, "2099-01-31")
    assert re.search(r"^period start +2099-01-31 00:00:00-05:00$", future, re.M)
    assert re.search(r"^period end +2099-02-27 23:59:59-05:00$", future, re.M)
    backdated = await refused(billing_cli, *start, "2020-01-31T12:00")
    assert "would have ended its first period at 2020-02-29T11:59:59" in backdated
    assert "is not an ISO 8601 time" in await refused(billing_cli, *start, "next tuesday")
    assert (await ok(billing_cli, "subscription", "list")).count("sub_") == 1


async def test_a_closing_period_is_retried_then_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(temporal_side, "CLOSING_RETRY_SECONDS", 0)
    billing = temporal_side.TemporalSide(None, Settings(task_queue="q"), 5.0, "nowhere")  # type: ignore[arg-type]
    closing = ApplicationError(
        "subscription sub_1 is closing period 0; retry shortly", type=PERIOD_CLOSING
    )
    calls = []

    async def closing_twice() -> str:
        calls.append(1)
        if len(calls) <= 2:
            raise WorkflowUpdateFailedError(closing)
        return "recorded"

    assert await billing.update(closing_twice) == "recorded" and len(calls) == 3

    async def closing_for_good() -> str:
        raise WorkflowUpdateFailedError(closing)

    with pytest.raises(InvalidInput, match="is closing period 0; retry shortly"):
        await billing.update(closing_for_good)


async def first_invoice(cli: Cli, sub_id: str) -> str:
    """The id of a subscription's first invoice, once its worker has issued it."""
    for _ in range(100):
        listing = await ok(cli, "invoice", "list", "--subscription", sub_id)
        if found := re.search(r"invoice_[0-9a-f]{32}", listing):
            return found.group(0)
        await asyncio.sleep(0.1)
    raise AssertionError(f"no invoice for {sub_id}")


async def test_pay_and_void_invoices(
    billing_cli: Cli, ts_env: WorkflowEnvironment, store: Store
) -> None:
    _, plan_id = await setup(billing_cli, "--flat", "49.99", "--flat-timing", "in_advance")
    voided = await first_invoice(billing_cli, await subscribe(billing_cli, plan_id))
    paid = await first_invoice(billing_cli, await subscribe(billing_cli, plan_id))

    assert "voided invoice" in await ok(billing_cli, "invoice", "void", voided)
    await closed(ts_env, invoice_workflow_id(voided))
    assert await refused(billing_cli, "invoice", "pay", voided) == (
        f"error: invoice {voided} is voided; a voided invoice cannot be paid\n"
    )

    payment = await ok(billing_cli, "invoice", "pay", paid, "--external-id", "pi_123",
                       "--external-type", "stripe")  # fmt: skip
    assert f"paid invoice {paid} (49.99 USD); invoice.paid is emitted" in payment
    await closed(ts_env, invoice_workflow_id(paid))
    again = await ok(billing_cli, "invoice", "pay", paid)
    assert f"invoice {paid} (49.99 USD) is already paid; nothing changed" in again
    assert await refused(billing_cli, "invoice", "void", paid) == (
        f"error: invoice {paid} is paid; only an unpaid invoice can be voided\n"
    )
    assert len(store.list_messages(event_type="invoice.paid")) == 1

    shown = await ok(billing_cli, "invoice", "show", paid)
    assert "status          paid" in shown and "payment id      pi_123" in shown
    assert re.search(r"^Pro Flat Fee\s+in_advance\s+1\s+49.99 USD\s", shown, re.M)
    listing = await ok(billing_cli, "invoice", "list", "--customer", "acme", "--status", "voided")
    assert voided in listing and paid not in listing
    customer = await ok(billing_cli, "customer", "show", "acme")
    assert voided in customer and paid in customer and customer.count("sub_") == 2
