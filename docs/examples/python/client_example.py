"""billhook from an application's own code: a customer's billing through ``BillhookClient``.

Needs a worker (``make run``); reads the same ``BILLHOOK_*`` settings as the worker. Run it with
the project's Python: ``.venv/bin/python docs/examples/python/client_example.py``.
"""

from __future__ import annotations

import asyncio
import uuid
from decimal import Decimal

from client import BillhookClient
from client.inputs import MetricInput, SubscriptionInput
from errors import BillhookError, InvalidInput
from models.billing import CustomerSnapshot, PayInput, UsageInput
from store.catalog import ComponentSpec, PlanVersionSpec


async def main() -> None:
    billhook = await BillhookClient.connect()  # BILLHOOK_* settings: Temporal, the store

    customer_id = f"acme-{uuid.uuid4().hex[:6]}"
    created = await billhook.customers.create(
        CustomerSnapshot(customer_id=customer_id, name="Acme Corp", timezone="America/New_York")
    )
    print(f"customer {customer_id}, announced by {created.message_id}")

    metric = await billhook.metrics.create(MetricInput(name="API calls", event_name="api_call"))
    plan = await billhook.plans.create(
        "Pro",
        PlanVersionSpec(
            flat_amount=Decimal("49.99"),
            components=[ComponentSpec(metric_id=metric.metric_id, unit_price=Decimal("0.01"))],
        ),
    )
    subscription = await billhook.subscriptions.create(
        SubscriptionInput(customer_id=customer_id, plan_id=plan.plan_id)
    )
    sub_id = subscription.state.subscription_id
    print(f"subscription {sub_id}, period ends {subscription.state.period_end:%Y-%m-%d}")

    # The same idempotency key twice: the batch counts once.
    for _ in range(2):
        usage = await billhook.usage.record(
            sub_id,
            UsageInput(metric_id=metric.metric_id, quantity=Decimal(150), idempotency_key="r-1"),
        )
        print(f"usage accepted: {usage.accepted}, this period: {usage.usage}")
    try:
        await billhook.usage.record(
            sub_id, UsageInput(metric_id="metric_nope", quantity=Decimal(1), idempotency_key="r-2")
        )
    except InvalidInput as refused:  # every refusal is a billhook error with a one-line message
        print(f"refused: {refused}")

    # The flat fee is invoiced in advance by the invoice's own workflow, moments after the start.
    invoices = await billhook.invoices.list(subscription_id=sub_id)
    while not invoices:
        await asyncio.sleep(0.1)
        invoices = await billhook.invoices.list(subscription_id=sub_id)
    paid = await billhook.invoices.pay(
        invoices[0].invoice_id, PayInput(external_payment_obj_id="pi_123")
    )
    invoice = paid.invoice
    amount = f"{invoice.amount:.2f} {invoice.currency}"
    print(f"invoice {invoice.invoice_number} ({amount}) is {invoice.payment_status}")

    await billhook.subscriptions.cancel(sub_id)
    final = await billhook.subscriptions.wait_ended(sub_id)
    print(f"subscription {final.status}, {len(final.invoice_ids)} invoice(s)")


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except BillhookError as error:
        raise SystemExit(f"error: {error}") from None
