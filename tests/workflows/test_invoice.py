"""Invoices on the time-skipping server: due dates, past due, payment, zero amounts, voids."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from decimal import Decimal

import pytest
from temporalio.client import WorkflowHandle
from temporalio.testing import WorkflowEnvironment

from client.ids import invoice_workflow_id
from config import Settings
from models.billing import (
    CancelInput,
    ChargeTiming,
    InvoiceState,
    InvoiceWorkflowInput,
    LineItemData,
    PayInput,
    PaymentStatus,
)
from models.events import EventType, message_id
from store import Store
from tests.conftest import RunWorker, record_history
from tests.lifecycle import Billing, billing_setup, local, messages, settled, subscribe
from workflows.invoice import InvoiceWorkflow
from workflows.subscription import SubscriptionWorkflow


async def issue(
    env: WorkflowEnvironment, settings: Settings, billing: Billing, amount: str
) -> WorkflowHandle[InvoiceWorkflow, InvoiceState]:
    invoice_id = f"invoice_{uuid.uuid4().hex}"
    line = LineItemData(
        name="Pro flat fee",
        start=local(2028, 1, 1),
        end=local(2028, 2, 1) - timedelta(microseconds=1),
        quantity=Decimal(1),
        billing_type="in_advance",
        base=Decimal(amount),
    )
    input = InvoiceWorkflowInput(
        invoice_id=invoice_id,
        subscription_id=f"sub_{uuid.uuid4().hex}",
        customer=billing.customer,
        plan=billing.plan,
        line_items=[line],
    )
    return await env.client.start_workflow(
        InvoiceWorkflow.run,
        input,
        id=invoice_workflow_id(invoice_id),
        task_queue=settings.task_queue,
    )


async def test_past_due_at_issue_plus_net_terms_then_paid_with_its_own_id(
    ts_env: WorkflowEnvironment, store: Store, settings: Settings, run_worker: RunWorker
) -> None:
    billing = billing_setup(store, net_terms_days=14)
    async with run_worker(ts_env.client, settings):
        handle = await issue(ts_env, settings, billing, "49.99")
        await ts_env.sleep(timedelta(days=15))
        state = await handle.query(InvoiceWorkflow.details)
        assert state is not None and state.past_due
        paid = await handle.execute_update(
            InvoiceWorkflow.pay,
            PayInput(external_payment_obj_id="pi_123", external_payment_obj_type="stripe"),
        )
        final = await handle.result()
        await settled(store, "invoice.paid", 1)
        await record_history(handle, "invoice-past-due-then-paid")

    assert paid.payment_status is PaymentStatus.PAID and final == paid
    [created] = messages(store, "invoice.created")
    [past_due] = messages(store, "invoice.past_due")
    [paid_event] = messages(store, "invoice.paid")
    invoice_id = final.invoice_id
    assert created["id"] == message_id(EventType.INVOICE_CREATED, invoice_id)
    assert past_due["id"] == message_id(EventType.INVOICE_PAST_DUE, invoice_id)
    assert paid_event["id"] == message_id(EventType.INVOICE_PAID, invoice_id)
    assert (created["payment_status"], past_due["payment_status"]) == ("unpaid", "unpaid")
    assert paid_event["payment_status"] == "paid"
    assert paid_event["external_payment_obj_id"] == "pi_123"
    assert final.due_date - final.issue_date == timedelta(days=14)
    stored = {m.event_type: m.created_at for m in store.list_messages(limit=10)}
    assert stored["invoice.past_due"] - final.issue_date == pytest.approx(
        timedelta(days=14), abs=timedelta(seconds=5)
    )
    assert stored["invoice.paid"] > stored["invoice.past_due"]
    assert billing.catalog.get_invoice(invoice_id).payment_status is PaymentStatus.PAID


async def test_a_zero_amount_invoice_is_paid_at_once_without_invoice_paid(
    ts_env: WorkflowEnvironment, store: Store, settings: Settings, run_worker: RunWorker
) -> None:
    billing = billing_setup(store)
    async with run_worker(ts_env.client, settings):
        handle = await issue(ts_env, settings, billing, "0")
        final = await handle.result()
        await settled(store, "invoice.created", 1)
    assert final.payment_status is PaymentStatus.PAID
    [created] = messages(store, "invoice.created")
    assert (created["payment_status"], created["amount"]) == ("paid", 0)
    assert messages(store, "invoice.paid") == []
    assert messages(store, "invoice.past_due") == []


async def test_voiding_ends_the_invoice_without_an_event(
    ts_env: WorkflowEnvironment, store: Store, settings: Settings, run_worker: RunWorker
) -> None:
    billing = billing_setup(store)
    async with run_worker(ts_env.client, settings):
        handle = await issue(ts_env, settings, billing, "12.00")
        await handle.execute_update(InvoiceWorkflow.void)
        final = await handle.result()
        # invoice.created is stored by its dispatcher's batch, which may still be on its way.
        await settled(store, "invoice.created", 1)
    assert final.payment_status is PaymentStatus.VOIDED
    assert [m.event_type for m in store.list_messages(limit=10)] == ["invoice.created"]
    assert billing.catalog.get_invoice(final.invoice_id).payment_status is PaymentStatus.VOIDED


async def first_invoice_without_plan_terms(
    env: WorkflowEnvironment, store: Store, settings: Settings, run_worker: RunWorker
) -> tuple[Billing, dict[str, object], InvoiceState | None]:
    """A subscription on a plan without net terms, cancelled at its period's end, 40 days on:
    its in-advance invoice's ``invoice.created`` and its state then (None: finished)."""
    billing = billing_setup(store, net_terms_days=None, timing=ChargeTiming.IN_ADVANCE)
    async with run_worker(env.client, settings):
        handle = await subscribe(env.client, settings.task_queue, billing, local(2028, 1, 1))
        await handle.execute_update(SubscriptionWorkflow.cancel, CancelInput(at_period_end=True))
        await settled(store, "invoice.created", 1)
        [created] = messages(store, "invoice.created")
        await env.sleep(timedelta(days=40))
        invoice = env.client.get_workflow_handle_for(
            InvoiceWorkflow.run, invoice_workflow_id(str(created["invoice_id"]))
        )
        state = await invoice.query(InvoiceWorkflow.details)
        await invoice.execute_update(InvoiceWorkflow.pay, PayInput())
        await settled(store, "invoice.paid", 1)
    return billing, created, state


async def test_no_net_terms_anywhere_means_no_due_date_and_never_past_due(
    ts_env: WorkflowEnvironment, store: Store, settings: Settings, run_worker: RunWorker
) -> None:
    billing, created, state = await first_invoice_without_plan_terms(
        ts_env, store, settings, run_worker
    )

    assert (created["amount"], created["due_date"]) == (49.99, None)
    assert state is not None and state.due_date is None and not state.past_due
    assert messages(store, "invoice.past_due") == []
    [paid] = messages(store, "invoice.paid")
    assert paid["due_date"] is None
    stored = billing.catalog.get_invoice(str(created["invoice_id"]))
    assert (stored.due_date, stored.payment_status) == (None, PaymentStatus.PAID)


async def test_the_organizations_net_terms_apply_when_the_plan_has_none(
    ts_env: WorkflowEnvironment, store: Store, settings: Settings, run_worker: RunWorker
) -> None:
    net_7 = settings.model_copy(update={"organization_net_terms": 7})

    _, created, state = await first_invoice_without_plan_terms(ts_env, store, net_7, run_worker)

    issued = datetime.fromisoformat(str(created["issue_date"]))
    due = datetime.fromisoformat(str(created["due_date"]))
    assert due - issued == timedelta(days=7)
    assert state is not None and state.past_due
    assert len(messages(store, "invoice.past_due")) == 1
