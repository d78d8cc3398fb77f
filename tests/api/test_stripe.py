"""Stripe's payment events, signed with the ``stripe`` package as Stripe's CLI signs them."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa
import stripe
from pydantic import SecretStr

from tests.api.conftest import STRIPE_SECRET, Api, error_of, ok, received, serving
from tests.api.test_billing import billing_setup, invoices_of
from tests.receiver import Receiver, serve

WEBHOOK = "/integrations/stripe/webhook"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    yield from serve(Receiver())


def stripe_event(kind: str, obj: dict[str, Any], event_id: str | None = None) -> bytes:
    """A Stripe event's body as Stripe sends it."""
    event = {
        "id": event_id or f"evt_{uuid.uuid4().hex}",
        "object": "event",
        "type": kind,
        "created": int(time.time()),
        "livemode": False,
        "data": {"object": obj},
    }
    return json.dumps(event).encode()


def signed(
    body: bytes, secret: str = STRIPE_SECRET, timestamp: int | None = None
) -> dict[str, str]:
    """Headers with ``Stripe-Signature`` made by the stripe package's own signing helper."""
    header = stripe.WebhookSignature.generate_signature_header(
        body.decode(), secret, timestamp=timestamp
    )
    return {"Stripe-Signature": header, "Content-Type": "application/json"}


def stripe_events(api: Api) -> list[tuple[str, str, str | None]]:
    with api.store.engine.connect() as connection:
        rows = connection.execute(sa.text("SELECT id, outcome, invoice_id FROM stripeevent"))
        return [(row.id, row.outcome, row.invoice_id) for row in rows]


async def unpaid_invoice(api: Api, customer_id: str) -> str:
    sub_id, _, _ = await billing_setup(api, customer_id)
    [invoice] = await invoices_of(api, sub_id, 1)
    assert invoice["payment_status"] == "unpaid"
    return str(invoice["invoice_id"])


async def test_a_payment_intent_pays_the_invoice_once(api: Api, receiver: Receiver) -> None:
    hook = {"url": receiver.url, "event_types": ["invoice.paid"]}
    secret = (await ok(await api.http.post("/endpoints", json=hook), 201))["secret"]
    invoice_id = await unpaid_invoice(api, "acme-stripe")
    intent = {
        "id": "pi_3Nabc",
        "object": "payment_intent",
        "status": "succeeded",
        "metadata": {"billhook_invoice_id": invoice_id},
    }
    body = stripe_event("payment_intent.succeeded", intent)
    async with api.anonymous() as stripe_client:  # Stripe sends no API key: it signs
        answer = await ok(await stripe_client.post(WEBHOOK, content=body, headers=signed(body)))
        assert (answer["outcome"], answer["invoice_id"], answer["redelivered"]) == (
            "paid",
            invoice_id,
            False,
        )
        [paid] = await received(receiver, secret, "invoice.paid")
        payload = paid["properties"]["payload"]
        assert (
            payload["external_payment_obj_id"],
            payload["external_payment_obj_type"],
            payload["external_payment_obj_status"],
        ) == ("pi_3Nabc", "stripe", "succeeded")
        shown = await ok(await api.http.get(f"/invoices/{invoice_id}"))
        assert shown["invoice"]["payment_status"] == "paid"

        # Stripe redelivers the same event: nothing changes.
        again = await ok(await stripe_client.post(WEBHOOK, content=body, headers=signed(body)))
        assert (again["outcome"], again["redelivered"]) == ("paid", True)
        # Another event for the same payment (invoice.paid): already paid, nothing sent.
        other = stripe_event(
            "invoice.paid",
            {"id": "in_1", "status": "paid", "metadata": {"billhook_invoice_id": invoice_id}},
        )
        late = await ok(await stripe_client.post(WEBHOOK, content=other, headers=signed(other)))
        assert late["outcome"] == "already_paid"
    await asyncio.sleep(0.5)
    assert len(await received(receiver, secret, "invoice.paid")) == 1
    assert len(receiver.requests) == 1


async def test_a_bad_signature_is_400_and_changes_nothing(api: Api) -> None:
    invoice_id = await unpaid_invoice(api, "acme-forged")
    intent = {"id": "pi_x", "status": "succeeded", "metadata": {"billhook_invoice_id": invoice_id}}
    body = stripe_event("payment_intent.succeeded", intent)
    stale = int(time.time()) - 3600
    async with api.anonymous() as forger:
        for headers in (
            signed(body, secret="whsec_not_ours"),
            signed(body, timestamp=stale),
            {"Content-Type": "application/json"},
            {"Stripe-Signature": "t=1,v1=00", "Content-Type": "application/json"},
        ):
            response = await forger.post(WEBHOOK, content=body, headers=headers)
            error = error_of(response, 400)
            assert error["message"].startswith("the Stripe-Signature header does not verify")
            assert STRIPE_SECRET not in error["message"]
        tampered = body.replace(b"pi_x", b"pi_y")
        forged = await forger.post(WEBHOOK, content=tampered, headers=signed(body))
        error_of(forged, 400)
    assert stripe_events(api) == []
    shown = await ok(await api.http.get(f"/invoices/{invoice_id}"))
    assert shown["invoice"]["payment_status"] == "unpaid"


async def test_unknown_invoices_and_other_events_are_recorded_and_answered(api: Api) -> None:
    events = [
        (
            "payment_intent.succeeded",
            {"id": "pi_1", "metadata": {"billhook_invoice_id": "invoice_nope"}},
        ),
        ("payment_intent.succeeded", {"id": "pi_2", "metadata": {}}),
        ("customer.created", {"id": "cus_1"}),
        (
            "checkout.session.completed",
            {"id": "cs_1", "payment_status": "unpaid", "metadata": {"billhook_invoice_id": "x"}},
        ),
    ]
    outcomes = []
    async with api.anonymous() as stripe_client:
        for kind, obj in events:
            body = stripe_event(kind, obj)
            answer = await ok(await stripe_client.post(WEBHOOK, content=body, headers=signed(body)))
            outcomes.append(answer["outcome"])
    assert outcomes == ["unknown_invoice", "ignored", "ignored", "not_paid"]
    assert sorted(outcome for _, outcome, _ in stripe_events(api)) == sorted(outcomes)


async def test_a_completed_checkout_session_pays(api: Api) -> None:
    invoice_id = await unpaid_invoice(api, "acme-checkout")
    session = {
        "id": "cs_test_1",
        "object": "checkout.session",
        "status": "complete",
        "payment_status": "paid",
        "metadata": {"billhook_invoice_id": invoice_id},
    }
    body = stripe_event("checkout.session.completed", session)
    async with api.anonymous() as stripe_client:
        answer = await ok(await stripe_client.post(WEBHOOK, content=body, headers=signed(body)))
    assert answer["outcome"] == "paid"
    invoice = (await ok(await api.http.get(f"/invoices/{invoice_id}")))["invoice"]
    assert (
        invoice["payment_status"],
        invoice["external_payment_obj_id"],
        invoice["external_payment_obj_type"],
        invoice["external_payment_obj_status"],
    ) == ("paid", "cs_test_1", "stripe", "paid")


async def test_without_a_signing_secret_stripe_events_are_refused(api: Api) -> None:
    unset = api.settings.model_copy(update={"stripe_webhook_secret": SecretStr("")})
    body = stripe_event("payment_intent.succeeded", {"id": "pi_1"})
    with serving(unset, api.store) as url:
        async with api.anonymous() as stripe_client:
            response = await stripe_client.post(url + WEBHOOK, content=body, headers=signed(body))
    error = error_of(response, 503)
    assert error["message"].endswith("BILLHOOK_STRIPE_WEBHOOK_SECRET is not set")
    assert stripe_events(api) == []
