"""A billing story through ``BillhookClient``: what an application integrating billhook sees."""

from __future__ import annotations

import uuid
from decimal import Decimal

import pytest

from client import BillhookClient
from client.ids import invoice_workflow_id
from client.inputs import AlertInput, MetricInput, SubscriptionInput
from errors import Conflict, InvalidInput, NotFound
from models.address import Address
from models.billing import (
    CancelInput,
    ChargeTiming,
    CustomerSnapshot,
    PayInput,
    PaymentStatus,
    SubscriptionStatus,
    UsageInput,
)
from store.catalog import ComponentSpec, PlanVersionSpec
from tests.client.conftest import first_invoice

NEW_YORK = "America/New_York"


def one_line(error: pytest.ExceptionInfo[Exception]) -> str:
    message = str(error.value)
    assert message and "\n" not in message
    return message


async def test_customer_plan_subscription_usage_and_payment(billhook: BillhookClient) -> None:
    customer_id = f"acme-{uuid.uuid4().hex[:6]}"
    billing = Address(line1="PO Box 7", city="Albany", state="NY", country="US")
    created = await billhook.customers.create(
        CustomerSnapshot(
            customer_id=customer_id, name="Acme Corp", timezone=NEW_YORK, billing_address=billing
        )
    )
    assert created.message_id.startswith("msg_") and created.customer.name == "Acme Corp"
    stored = await billhook.customers.get(customer_id)
    assert (stored.timezone, stored.billing_address, stored.address) == (NEW_YORK, billing, None)
    with pytest.raises(Conflict) as taken:
        await billhook.customers.create(CustomerSnapshot(customer_id=customer_id))
    assert one_line(taken).startswith(f"customer {customer_id} exists already")

    metric = await billhook.metrics.create(MetricInput(name="API calls", event_name="api_call"))
    spec = PlanVersionSpec(
        flat_amount=Decimal("49.99"),
        flat_timing=ChargeTiming.IN_ADVANCE,
        components=[
            ComponentSpec(metric_id=metric.metric_id, unit_price=Decimal("0.01"), free_units=100)
        ],
    )
    plan = await billhook.plans.create("Pro", spec)
    alert = await billhook.alerts.create(
        AlertInput(metric_id=metric.metric_id, plan_id=plan.plan_id, threshold=Decimal(100))
    )
    assert alert.version is not None and alert.version.version_id == plan.version_id

    started = await billhook.subscriptions.create(
        SubscriptionInput(customer_id=customer_id, plan_id=plan.plan_id)
    )
    sub_id = started.state.subscription_id
    assert sub_id.startswith("sub_") and started.timezone == NEW_YORK
    assert (started.state.status, started.state.sequence) == (SubscriptionStatus.ACTIVE, 0)
    assert started.plan.version == 1
    # Answered once the store has the period: the record is there at once, no polling.
    assert (await billhook.subscriptions.get(sub_id)).period_end == started.state.period_end

    def batch(quantity: int, key: str, metric_id: str = metric.metric_id) -> UsageInput:
        return UsageInput(metric_id=metric_id, quantity=Decimal(quantity), idempotency_key=key)

    first = await billhook.usage.record(sub_id, batch(60, "b1"))
    assert (first.accepted, first.usage, first.alerts_triggered) == (True, 60, [])
    second = await billhook.usage.record(sub_id, batch(60, "b2"))
    assert (second.usage, second.alerts_triggered) == (120, [alert.alert.alert_id])
    again = await billhook.usage.record(sub_id, batch(60, "b1"))
    assert (again.accepted, again.usage) == (False, 120)
    with pytest.raises(InvalidInput) as unknown:
        await billhook.usage.record(sub_id, batch(1, "b3", "metric_nope"))
    assert one_line(unknown).startswith(f"metric metric_nope is not billed by plan {plan.plan_id}")
    with pytest.raises(NotFound) as missing:
        await billhook.usage.record("sub_nope", batch(1, "b4"))
    assert "no subscription sub_nope" in one_line(missing)

    live = await billhook.subscriptions.show(sub_id)
    assert live.live and live.state.usage == {metric.metric_id: Decimal(120)}
    assert live.state.alerts_fired == [alert.alert.alert_id]

    invoice = await first_invoice(billhook, sub_id)
    assert (invoice.amount, invoice.payment_status) == (Decimal("49.99"), PaymentStatus.UNPAID)
    paid = await billhook.invoices.pay(
        invoice.invoice_id, PayInput(external_payment_obj_id="pi_123")
    )
    assert not paid.already_paid and paid.invoice.payment_status is PaymentStatus.PAID
    temporal = await billhook.temporal()
    await temporal.get_workflow_handle(invoice_workflow_id(invoice.invoice_id)).result()
    assert (await billhook.invoices.pay(invoice.invoice_id)).already_paid
    with pytest.raises(Conflict) as paid_twice:
        await billhook.invoices.void(invoice.invoice_id)
    assert one_line(paid_twice) == (
        f"invoice {invoice.invoice_id} is paid; only an unpaid invoice can be voided"
    )
    shown = await billhook.invoices.show(invoice.invoice_id)
    assert shown.invoice.external_payment_obj_id == "pi_123"
    assert [line.name for line in shown.lines] == ["Pro Flat Fee"]

    cancelled = await billhook.subscriptions.cancel(sub_id, CancelInput())
    assert cancelled.state.status is SubscriptionStatus.ENDED
    final = await billhook.subscriptions.wait_ended(sub_id)
    assert invoice.invoice_id in final.invoice_ids and len(final.invoice_ids) == 2
    with pytest.raises(Conflict) as ended:
        await billhook.subscriptions.cancel(sub_id)
    assert one_line(ended) == f"subscription {sub_id} has ended"

    [listed] = await billhook.subscriptions.list(customer_id=customer_id)
    assert (listed.plan_name, listed.status) == ("Pro", SubscriptionStatus.ENDED)
    details = await billhook.customers.show(customer_id)
    assert [s.subscription_id for s in details.subscriptions] == [sub_id]


async def test_refusals_come_before_any_workflow(billhook: BillhookClient) -> None:
    with pytest.raises(InvalidInput) as bad_zone:
        await billhook.customers.create(CustomerSnapshot(customer_id="c1", timezone="Mars/Base"))
    assert "unknown timezone" in one_line(bad_zone)
    with pytest.raises(InvalidInput) as bad_address:
        nowhere = Address(line1="1 Main St", country="US")
        await billhook.customers.create(CustomerSnapshot(customer_id="c1", address=nowhere))
    assert one_line(bad_address) == (
        "the address has no city (it needs at least line1, city, country)"
    )
    with pytest.raises(NotFound) as no_customer:
        await billhook.subscriptions.create(SubscriptionInput(customer_id="nobody", plan_id="p"))
    assert "no customer nobody" in one_line(no_customer)
    with pytest.raises(InvalidInput) as no_plan_given:
        await billhook.alerts.create(AlertInput(metric_id="m", threshold=Decimal(1)))
    assert "give a plan version or a plan" in one_line(no_plan_given)
    with pytest.raises(InvalidInput, match="give the property"):
        await billhook.metrics.create(MetricInput(name="GB", event_name="e", aggregation="sum"))
    assert await billhook.customers.list() == []
