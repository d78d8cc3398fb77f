"""``POST /integrations/stripe/webhook``: Stripe's payment events, which mark invoices paid.

Stripe signs its requests instead of sending an API key: the ``Stripe-Signature`` header is
checked with the ``stripe`` package (``stripe.Webhook.construct_event``) against
``BILLHOOK_STRIPE_WEBHOOK_SECRET``, over the request's exact bytes, within Stripe's 5-minute
tolerance. A bad or missing signature is 400 and nothing is recorded. A verified event is acted
on once (``client.payments``) and answered 200, an unknown invoice too (so that Stripe does not
retry it forever); only when billhook could not act (503) does Stripe retry.
"""

from __future__ import annotations

import json
from typing import Any

import stripe
from fastapi import APIRouter, Header, Request
from pydantic import BaseModel

from api.deps import Client
from api.pagination import BadRequest
from config import InvalidSettings

router = APIRouter()


class StripeAnswer(BaseModel):
    """What billhook did with a Stripe event."""

    event_id: str
    outcome: str
    invoice_id: str | None
    redelivered: bool


@router.post("/integrations/stripe/webhook", tags=["integrations"])
async def stripe_webhook(
    request: Request,
    billhook: Client,
    stripe_signature: str | None = Header(default=None, include_in_schema=False),
) -> StripeAnswer:
    """A Stripe event, signed by Stripe (``Stripe-Signature``; no API key)."""
    secret = billhook.settings.stripe_webhook_secret.get_secret_value()
    if not secret:
        raise InvalidSettings(
            "Stripe events are not taken in: BILLHOOK_STRIPE_WEBHOOK_SECRET is not set"
        )
    payload = await request.body()
    try:
        stripe.Webhook.construct_event(payload, stripe_signature, secret)
        event: dict[str, Any] = json.loads(payload)
    except (stripe.SignatureVerificationError, ValueError):
        # Stripe's own message may quote the header; ours names neither it nor the secret.
        raise BadRequest(
            "the Stripe-Signature header does not verify with BILLHOOK_STRIPE_WEBHOOK_SECRET "
            "(or is missing or too old); nothing was recorded"
        ) from None
    if not isinstance(event, dict):
        raise BadRequest("a Stripe event is a JSON object; nothing was recorded")
    outcome = await billhook.payments.stripe_event(event)
    return StripeAnswer(
        event_id=outcome.event.id,
        outcome=outcome.event.outcome,
        invoice_id=outcome.event.invoice_id,
        redelivered=outcome.redelivered,
    )
