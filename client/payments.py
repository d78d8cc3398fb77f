"""``BillhookClient.payments``: payments made at a provider that mark billhook invoices paid.

Stripe's events come verified (the REST API checks ``Stripe-Signature``, ``api.stripe``); here
they are acted on. ``payment_intent.succeeded``, ``invoice.paid`` and
``checkout.session.completed`` whose object's metadata holds ``billhook_invoice_id`` pay that
invoice through its workflow (``invoice.paid``, once), with the Stripe object's id, ``stripe``
and its status as the external payment. Every event taken in is recorded by its id, with what
was done, so a redelivered event changes nothing; an event for an unknown invoice is recorded
and answered, so that Stripe does not retry it forever. Only when billhook could not act (no
worker, Temporal or the store down) is nothing recorded, and Stripe's retry acts later.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel

from client.core import Async, Core, Group, Loop, M, operation
from client.lifecycle import Invoices
from errors import Conflict, InvalidInput, NotFound
from models.billing import PayInput
from store.api_records import ApiRecords, StripeEventInfo

#: The Stripe events that pay an invoice, when their object's metadata names one.
STRIPE_PAYMENT_EVENTS = frozenset(
    {"payment_intent.succeeded", "invoice.paid", "checkout.session.completed"}
)
#: The metadata key naming the billhook invoice a Stripe payment pays.
INVOICE_METADATA_KEY = "billhook_invoice_id"
#: A completed Checkout Session has paid only with one of these ``payment_status`` values.
_CHECKOUT_PAID = frozenset({"paid", "no_payment_required"})


class StripeOutcome(BaseModel):
    """What a Stripe event did; ``redelivered`` when it had been taken in before."""

    event: StripeEventInfo
    redelivered: bool


class Payments(Group[M]):
    """Payments from providers (Stripe) marking invoices paid; see the module docstring."""

    def __init__(self, core: Core, loop: Loop | None = None) -> None:
        super().__init__(core, loop)
        #: Awaited inside this group's operations, so always the coroutine kind.
        self._invoices: Invoices[Async] = Invoices(core)

    @operation
    async def stripe_event(self, event: Mapping[str, Any]) -> StripeOutcome:
        """Act on a verified Stripe event (its JSON as a mapping) once.

        Raises:
            InvalidInput: the event has no ``id``, ``type`` or ``data.object``.
            StoreNotReady, TemporalError: billhook could not act; nothing was recorded.
        """
        event_id, kind, obj = _parts(event)
        records = ApiRecords((await self._core.store()).engine)
        seen = await self._core.blocking(records.stripe_event, event_id)
        if seen is not None:
            return StripeOutcome(event=seen, redelivered=True)
        invoice_id, outcome, detail = await self._act(kind, obj)
        info = StripeEventInfo(
            id=event_id,
            type=kind,
            invoice_id=invoice_id,
            outcome=outcome,
            detail=detail,
            received_at=self._core.now(),
        )
        await self._core.blocking(records.record_stripe_event, info)
        return StripeOutcome(event=info, redelivered=False)

    async def _act(self, kind: str, obj: Mapping[str, Any]) -> tuple[str | None, str, str | None]:
        """Pay the invoice the event names: (invoice id, outcome, detail)."""
        if kind not in STRIPE_PAYMENT_EVENTS:
            return None, "ignored", f"{kind} does not pay invoices"
        metadata = obj.get("metadata") or {}
        invoice_id = metadata.get(INVOICE_METADATA_KEY) if isinstance(metadata, Mapping) else None
        if not isinstance(invoice_id, str) or not invoice_id:
            return None, "ignored", f"its metadata names no {INVOICE_METADATA_KEY}"
        checkout = kind == "checkout.session.completed"
        status = obj.get("payment_status" if checkout else "status")
        if checkout and status not in _CHECKOUT_PAID:
            return invoice_id, "not_paid", f"the session's payment_status is {status}"
        payment = PayInput(
            external_payment_obj_id=_text(obj.get("id")),
            external_payment_obj_type="stripe",
            external_payment_obj_status=_text(status),
        )
        try:
            paid = await self._invoices.pay(invoice_id, payment)
        except NotFound as exc:
            return invoice_id, "unknown_invoice", str(exc)
        except (Conflict, InvalidInput) as exc:
            return invoice_id, "refused", str(exc)
        return invoice_id, "already_paid" if paid.already_paid else "paid", None


def _parts(event: Mapping[str, Any]) -> tuple[str, str, Mapping[str, Any]]:
    event_id, kind = event.get("id"), event.get("type")
    data = event.get("data")
    obj = data.get("object") if isinstance(data, Mapping) else None
    if not isinstance(event_id, str) or not isinstance(kind, str) or not isinstance(obj, Mapping):
        raise InvalidInput("a Stripe event has an id, a type and data.object; this one does not")
    return event_id, kind, obj


def _text(value: object) -> str | None:
    return None if value is None else str(value)
