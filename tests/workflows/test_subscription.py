"""Subscription lifecycles on the time-skipping server: a year of renewals in seconds."""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta
from decimal import Decimal

import pytest
from temporalio.client import WorkflowUpdateFailedError
from temporalio.testing import WorkflowEnvironment

from client.ids import invoice_workflow_id
from config import Settings
from models.billing import CancelInput, PayInput, PaymentStatus, SubscriptionStatus, UsageInput
from models.search import BILLING_STATUS, CUSTOMER_ID, INVOICE_ID
from store import Store
from tests.conftest import RunWorker, record_history
from tests.lifecycle import (
    billing_setup,
    messages,
    monthly_starts,
    next_leap_january_31,
    now_in_new_york,
    settled,
    subscribe,
)
from workflows.invoice import InvoiceWorkflow
from workflows.subscription import SubscriptionWorkflow


async def advance_to(env: WorkflowEnvironment, moment: datetime) -> None:
    """Skip time to ``moment``, a week at a time: one sleep RPC must finish within its timeout."""
    while (now := await env.get_current_time()) < moment:
        await env.sleep(min(moment - now, timedelta(days=7)))


async def test_a_monthly_subscription_from_january_31_runs_twelve_periods(
    ts_env: WorkflowEnvironment, store: Store, settings: Settings, run_worker: RunWorker
) -> None:
    billing = billing_setup(store)
    # Local midnights in New York from a January 31: clamped to each month, never chained.
    starts = monthly_starts(await next_leap_january_31(ts_env), 13)
    async with run_worker(ts_env.client, settings):
        handle = await subscribe(ts_env.client, settings.task_queue, billing, starts[0])
        usage = UsageInput(
            metric_id=billing.metric.metric_id, quantity=Decimal(150), idempotency_key="k1"
        )
        await handle.execute_update(SubscriptionWorkflow.record_usage, usage)
        await advance_to(ts_env, starts[11] + timedelta(days=3))
        await handle.execute_update(SubscriptionWorkflow.cancel, CancelInput(at_period_end=True))
        final = await handle.result()
        await settled(store, "invoice.created", 12)
        await record_history(handle, "subscription-final-period")
        # An invoice a renewal issued: its workflow started with it issued and announced, and
        # only waits for its payment or due date.
        first = billing.catalog.list_invoices(subscription_id=final.subscription_id)[-1]
        invoice = ts_env.client.get_workflow_handle_for(
            InvoiceWorkflow.run, invoice_workflow_id(first.invoice_id)
        )
        searchable = (await invoice.describe()).typed_search_attributes
        paid = await invoice.execute_update(
            InvoiceWorkflow.pay, PayInput(external_payment_obj_id="pi_1")
        )
        assert (await invoice.result()) == paid
        await settled(store, "invoice.paid", 1)
        await record_history(invoice, "invoice-issued-by-its-step-then-paid")

    assert final.status is SubscriptionStatus.ENDED and final.sequence == 11
    created = messages(store, "subscription.created")
    renewed = messages(store, "subscription.renewed")
    assert len(created) == 1 and len(renewed) == 11
    periods = [(p["start_date"], p["end_date"]) for p in created + renewed]
    expected = [
        (start.isoformat(), (end - timedelta(microseconds=1)).isoformat())
        for start, end in itertools.pairwise(starts)
    ]
    assert periods == expected
    year = starts[0].year
    assert periods[1] == (f"{year}-02-29T00:00:00-05:00", f"{year}-03-30T23:59:59.999999-04:00")
    assert [p["is_new"] for p in created + renewed] == [True] + [False] * 11
    assert len({m["id"] for m in renewed}) == 11

    invoices = sorted(
        billing.catalog.list_invoices(subscription_id=final.subscription_id),
        key=lambda i: i.issue_date,
    )
    assert len(invoices) == 12
    # Period 1: 49.99 flat in arrears + (150 - 100 free) x 0.01; then the flat fee alone.
    assert [i.amount for i in invoices] == [Decimal("50.49")] + [Decimal("49.99")] * 11
    # The first was paid above; the others wait for their due dates.
    assert [i.payment_status for i in invoices] == [PaymentStatus.PAID] + [
        PaymentStatus.UNPAID
    ] * 11
    first_lines = billing.catalog.invoice_lines(invoices[0].invoice_id)
    assert sorted((line.name, line.base) for line in first_lines) == [
        ("API calls", Decimal("0.5")),
        ("Pro Flat Fee", Decimal("49.99")),
    ]
    assert [i.issue_date for i in invoices] == pytest.approx(
        [s.astimezone(invoices[0].issue_date.tzinfo) for s in starts[1:]],
        abs=timedelta(seconds=5),
    )
    created_invoices = messages(store, "invoice.created")
    assert len(created_invoices) == 12
    assert created_invoices[0]["amount"] == 50.49
    assert created_invoices[0]["start_date"] == f"{year}-01-31"
    # UTC days: the period ends Feb 28 at 23:59:59 in New York, Feb 29 in UTC.
    assert created_invoices[0]["end_date"] == f"{year}-02-29"
    # The issued invoice's workflow is found in the Web UI as its subscription's, and went
    # past due a month after it was issued, eleven months ago.
    assert (searchable.get(INVOICE_ID), searchable.get(BILLING_STATUS)) == (
        first.invoice_id,
        "past_due",
    )
    assert searchable.get(CUSTOMER_ID) == billing.customer.customer_id
    [paid_event] = messages(store, "invoice.paid")
    assert (paid_event["invoice_id"], paid_event["payment_status"]) == (first.invoice_id, "paid")
    assert paid_event["invoice_number"] == created_invoices[0]["invoice_number"]


async def test_an_alert_fires_once_a_period_and_again_the_next(
    ts_env: WorkflowEnvironment, store: Store, settings: Settings, run_worker: RunWorker
) -> None:
    billing = billing_setup(store, period="P1D", threshold="100")
    metric = billing.metric.metric_id
    async with run_worker(ts_env.client, settings):
        start = await now_in_new_york(ts_env)
        handle = await subscribe(ts_env.client, settings.task_queue, billing, start)
        results = [
            await handle.execute_update(
                SubscriptionWorkflow.record_usage,
                UsageInput(metric_id=metric, quantity=Decimal(q), idempotency_key=k),
            )
            for q, k in [(60, "a"), (60, "b"), (60, "c")]
        ]
        assert [r.alerts_triggered for r in results] == [[], [billing.plan.alerts[0].alert_id], []]
        await advance_to(ts_env, start + timedelta(days=1, hours=1))
        second = await handle.execute_update(
            SubscriptionWorkflow.record_usage,
            UsageInput(metric_id=metric, quantity=Decimal(150), idempotency_key="d"),
        )
        assert second.alerts_triggered == [billing.plan.alerts[0].alert_id]
        state = await handle.query(SubscriptionWorkflow.state)
        assert (state.sequence, state.usage, state.alerts_fired) == (
            1,
            {metric: Decimal(150)},
            [billing.plan.alerts[0].alert_id],
        )
        await handle.execute_update(SubscriptionWorkflow.cancel, CancelInput())
        await handle.result()

    alerts = messages(store, "usage_alert.triggered")
    assert [a["usage"] for a in alerts] == [120, 150]
    assert [a["usage_alert"]["threshold"] for a in alerts] == [100, 100]
    assert alerts[0]["subscription"]["start_date"] == start.isoformat()
    assert alerts[1]["subscription"]["start_date"] == (start + timedelta(days=1)).isoformat()
    assert alerts[0]["id"] != alerts[1]["id"]


async def test_duplicate_usage_keys_are_ignored(
    ts_env: WorkflowEnvironment, store: Store, settings: Settings, run_worker: RunWorker
) -> None:
    billing = billing_setup(store)
    usage = UsageInput(metric_id=billing.metric.metric_id, quantity=Decimal(7), idempotency_key="x")
    async with run_worker(ts_env.client, settings):
        handle = await subscribe(
            ts_env.client, settings.task_queue, billing, await now_in_new_york(ts_env)
        )
        first = await handle.execute_update(SubscriptionWorkflow.record_usage, usage)
        again = await handle.execute_update(SubscriptionWorkflow.record_usage, usage)
        state = await handle.query(SubscriptionWorkflow.state)
        await handle.execute_update(SubscriptionWorkflow.cancel, CancelInput())
        await handle.result()
    assert (first.accepted, first.usage) == (True, Decimal(7))
    assert (again.accepted, again.usage) == (False, Decimal(7))
    assert state.usage == {billing.metric.metric_id: Decimal(7)}


async def test_cancel_now_issues_the_final_invoice_for_usage_so_far(
    ts_env: WorkflowEnvironment, store: Store, settings: Settings, run_worker: RunWorker
) -> None:
    billing = billing_setup(store)
    async with run_worker(ts_env.client, settings):
        handle = await subscribe(
            ts_env.client, settings.task_queue, billing, await now_in_new_york(ts_env)
        )
        await handle.execute_update(
            SubscriptionWorkflow.record_usage,
            UsageInput(
                metric_id=billing.metric.metric_id, quantity=Decimal(300), idempotency_key="u"
            ),
        )
        cancelled = await handle.execute_update(SubscriptionWorkflow.cancel, CancelInput())
        final = await handle.result()
        await settled(store, "invoice.created", 1)
    assert cancelled.status is SubscriptionStatus.ENDED and not cancelled.auto_renew
    assert final.status is SubscriptionStatus.ENDED
    [event] = messages(store, "subscription.cancelled")
    assert event["auto_renew"] is False
    ended, began = (datetime.fromisoformat(event[k]) for k in ("end_date", "start_date"))
    assert began <= ended < began + timedelta(days=1)  # the moment of cancelling, not Feb 28
    [invoice] = billing.catalog.list_invoices(subscription_id=final.subscription_id)
    assert invoice.amount == Decimal("2.00")  # (300 - 100 free) x 0.01, no flat fee
    assert messages(store, "subscription.renewed") == []


async def test_cancel_at_period_end_sends_cancelled_as_it_ends_without_renewing(
    ts_env: WorkflowEnvironment, store: Store, settings: Settings, run_worker: RunWorker
) -> None:
    billing = billing_setup(store)
    async with run_worker(ts_env.client, settings):
        start = await next_leap_january_31(ts_env)
        handle = await subscribe(ts_env.client, settings.task_queue, billing, start)
        state = await handle.execute_update(
            SubscriptionWorkflow.cancel, CancelInput(at_period_end=True)
        )
        assert state.status is SubscriptionStatus.CANCELLED
        final = await handle.result()
        await settled(store, "invoice.created", 1)
    [event] = messages(store, "subscription.cancelled")
    assert (event["auto_renew"], event["end_date"]) == (
        False,
        f"{start.year}-02-28T23:59:59.999999-05:00",
    )
    # Sent as it ended, with its final invoice: first period, fully billed.
    assert (event["is_new"], event["fully_billed"]) == (True, True)
    [message] = store.list_messages(event_type="subscription.cancelled")
    [invoice_message] = store.list_messages(event_type="invoice.created")
    assert message.created_at == invoice_message.created_at > start + timedelta(days=28)
    assert final.status is SubscriptionStatus.ENDED and final.sequence == 0
    [invoice] = billing.catalog.list_invoices(subscription_id=final.subscription_id)
    assert invoice.amount == Decimal("49.99")
    assert messages(store, "subscription.renewed") == []


async def test_invoices_carry_the_organizations_timezone_and_seller(
    ts_env: WorkflowEnvironment, store: Store, settings: Settings, run_worker: RunWorker
) -> None:
    billing = billing_setup(store)
    tokyo = settings.model_copy(
        update={
            "organization_timezone": "Asia/Tokyo",
            "organization_name": "Example Billing",
            "invoice_pdf_base_url": "https://billing.example.com",
        }
    )
    async with run_worker(ts_env.client, tokyo):
        start = await next_leap_january_31(ts_env)  # midnight in New York
        handle = await subscribe(ts_env.client, tokyo.task_queue, billing, start)
        await handle.execute_update(SubscriptionWorkflow.cancel, CancelInput(at_period_end=True))
        await handle.result()
        await settled(store, "invoice.created", 1)
    [invoice] = messages(store, "invoice.created")
    year = start.year
    lines = {(x["name"], x["start_date"], x["end_date"]) for x in invoice["line_items"]}
    assert (
        "Pro Flat Fee",
        f"{year}-01-31T14:00:00+09:00",
        f"{year}-02-29T13:59:59.999999+09:00",
    ) in lines
    # The invoice's days are UTC's; its issue date is still the customer's (New York).
    assert (invoice["start_date"], invoice["end_date"]) == (f"{year}-01-31", f"{year}-02-29")
    assert invoice["issue_date"].endswith("-05:00")
    pdf = f"https://billing.example.com/invoices/{invoice['invoice_id']}.pdf"
    assert invoice["invoice_pdf"] == pdf
    # The seller is the worker's organization.
    assert invoice["seller"] == {
        "name": "Example Billing",
        "address": None,
        "phone": None,
        "email": None,
    }


async def test_refused_requests_say_why_and_change_nothing(
    ts_env: WorkflowEnvironment, store: Store, settings: Settings, run_worker: RunWorker
) -> None:
    billing = billing_setup(store)
    metric = billing.metric.metric_id
    async with run_worker(ts_env.client, settings):
        handle = await subscribe(
            ts_env.client, settings.task_queue, billing, await now_in_new_york(ts_env)
        )
        refused = {
            "unknown metric": UsageInput(
                metric_id="metric_nope", quantity=Decimal(1), idempotency_key="a"
            ),
            "negative": UsageInput(metric_id=metric, quantity=Decimal(-3), idempotency_key="b"),
        }
        messages_seen = {}
        for name, usage in refused.items():
            with pytest.raises(WorkflowUpdateFailedError) as err:
                await handle.execute_update(SubscriptionWorkflow.record_usage, usage)
            messages_seen[name] = str(err.value.cause)
        assert "metric metric_nope is not billed by plan" in messages_seen["unknown metric"]
        assert "must not be negative (got -3)" in messages_seen["negative"]
        assert (await handle.query(SubscriptionWorkflow.state)).usage == {}

        await handle.execute_update(SubscriptionWorkflow.cancel, CancelInput(at_period_end=True))
        with pytest.raises(WorkflowUpdateFailedError) as err:
            await handle.execute_update(SubscriptionWorkflow.cancel, CancelInput())
        assert "is already cancelled" in str(err.value.cause)
        history = await handle.fetch_history()
        accepted = [
            e
            for e in history.events
            if e.HasField("workflow_execution_update_accepted_event_attributes")
        ]
        assert len(accepted) == 1  # only the valid cancel left a trace
        await handle.result()
    assert len(messages(store, "subscription.cancelled")) == 1


async def test_a_cancellation_at_once_does_not_rewrite_the_created_event(
    ts_env: WorkflowEnvironment, store: Store, settings: Settings, run_worker: RunWorker
) -> None:
    billing = billing_setup(store)
    async with run_worker(ts_env.client, settings):
        start = await now_in_new_york(ts_env)
        handle = await subscribe(ts_env.client, settings.task_queue, billing, start)
        await handle.execute_update(SubscriptionWorkflow.cancel, CancelInput())
        await handle.result()
        await settled(store, "subscription.cancelled", 1)
    [created] = messages(store, "subscription.created")
    [cancelled] = messages(store, "subscription.cancelled")
    assert (created["auto_renew"], created["is_new"]) == (True, True)
    assert created["end_date"] > cancelled["end_date"]  # the whole period, as announced
    assert cancelled["auto_renew"] is False
