"""Routes of billing: subscriptions, usage (in batches: the hot path), invoices."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel, Field

from api.deps import Client
from api.routes import listing
from client.ingest import MAX_BATCH, IngestResult, UsageRecordInput
from client.inputs import SubscriptionInput
from client.results import (
    InvoiceDetails,
    PayResult,
    SubscriptionDetails,
    SubscriptionSummary,
    SubscriptionView,
)
from models.billing import CancelInput, InvoiceState, PayInput, PaymentStatus, SubscriptionStatus

router = APIRouter()


class UsageBatch(BaseModel):
    """Usage records, each with its own idempotency key (a key counts once per subscription)."""

    records: list[UsageRecordInput] = Field(max_length=MAX_BATCH)


@router.post("/subscriptions", status_code=201, tags=["subscriptions"])
async def create_subscription(billhook: Client, body: SubscriptionInput) -> SubscriptionView:
    """Subscribe a customer to a plan's newest version; answered once the first period is
    recorded."""
    return await billhook.subscriptions.create(body)


@listing(router, "/subscriptions", key="subscription_id", tag="subscriptions")
async def list_subscriptions(
    billhook: Client, customer_id: str | None = None, status: SubscriptionStatus | None = None
) -> list[SubscriptionSummary]:
    """Subscriptions newest first, of one customer and/or in one status."""
    return await billhook.subscriptions.list(customer_id, status)


@router.get("/subscriptions/{subscription_id}", tags=["subscriptions"])
async def get_subscription(billhook: Client, subscription_id: str) -> SubscriptionDetails:
    """A subscription as its workflow answers (usage, alerts fired), with its invoices."""
    return await billhook.subscriptions.show(subscription_id)


@router.post("/subscriptions/{subscription_id}/cancel", tags=["subscriptions"])
async def cancel_subscription(
    billhook: Client, subscription_id: str, body: CancelInput | None = None
) -> SubscriptionView:
    """Cancel now (a final invoice for the usage so far) or at the period's end."""
    return await billhook.subscriptions.cancel(subscription_id, body)


@router.post("/usage", tags=["usage"])
async def ingest_usage(billhook: Client, body: UsageBatch) -> IngestResult:
    """Take in a batch of usage records: all are checked first, and one bad record refuses the
    batch with nothing written; a key sent before is a ``duplicate`` and adds nothing."""
    return await billhook.usage_batches.ingest(body.records)


@listing(router, "/invoices", key="invoice_id", tag="invoices")
async def list_invoices(
    billhook: Client,
    customer_id: str | None = None,
    subscription_id: str | None = None,
    status: PaymentStatus | None = None,
) -> list[InvoiceState]:
    """Invoices newest first, of one customer and/or subscription and/or in one status."""
    return await billhook.invoices.list(customer_id, subscription_id, status)


@router.get("/invoices/{invoice_id}", tags=["invoices"])
async def get_invoice(billhook: Client, invoice_id: str) -> InvoiceDetails:
    """An invoice and its lines."""
    return await billhook.invoices.show(invoice_id)


@router.post("/invoices/{invoice_id}/pay", tags=["invoices"])
async def pay_invoice(billhook: Client, invoice_id: str, body: PayInput | None = None) -> PayResult:
    """Mark an invoice paid (``invoice.paid``); paying a paid one again changes nothing."""
    return await billhook.invoices.pay(invoice_id, body)


@router.post("/invoices/{invoice_id}/void", tags=["invoices"])
async def void_invoice(billhook: Client, invoice_id: str) -> InvoiceState:
    """Void an unpaid invoice (no event is emitted)."""
    return await billhook.invoices.void(invoice_id)
