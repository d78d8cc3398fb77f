"""Invoice PDFs: ``Store``'s part for them (the ``invoice_pdf`` URL, ``billhook invoice pdf``).

An invoice's PDF shows the invoice as its newest event showed it (``invoice.created``, then
``invoice.past_due`` or ``invoice.paid``): rendered once per such message and stored, so every
request after the first is a read. Rendering is the caller's (``client.pdf``): the store only
finds the payload and keeps the bytes.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlmodel import col, select

from errors import NotFound
from models.events import EventType, business_key
from store.persist import Repository, insert_ignore
from store.tables import InvoicePdf, Message

#: The events that carry an Invoice payload, in which an invoice's PDF is rendered.
INVOICE_EVENTS = (EventType.INVOICE_CREATED, EventType.INVOICE_PAST_DUE, EventType.INVOICE_PAID)


class Documents(Repository):
    """``Store``'s invoice PDF methods."""

    def latest_invoice_payload(self, invoice_id: str) -> tuple[str, dict[str, Any]]:
        """The id and Invoice payload of the newest message about ``invoice_id``.

        Raises:
            NotFound: no message carries that invoice (no such invoice, or its
                ``invoice.created`` is still on its way to the store).
        """
        keys = [business_key(event_type, invoice_id) for event_type in INVOICE_EVENTS]
        query = (
            select(Message)
            .where(col(Message.business_key).in_(keys))
            .order_by(col(Message.created_at).desc(), col(Message.id).desc())
            .limit(1)
        )
        with self._session() as session:
            message = session.exec(query).first()
        if message is None:
            raise NotFound(
                f"no invoice {invoice_id} among the events; list invoices with: "
                "billhook invoice list"
            )
        return message.id, message.payload

    def stored_pdf(self, message_id: str) -> bytes | None:
        """The PDF rendered from message ``message_id``, if stored."""
        with self._session() as session:
            row = session.get(InvoicePdf, message_id)
            return None if row is None else bytes(row.pdf)

    def store_pdf(self, message_id: str, invoice_id: str, pdf: bytes, now: datetime) -> None:
        """Keep the PDF rendered from ``message_id``; a second render of it is not stored."""
        row = {"message_id": message_id, "invoice_id": invoice_id, "pdf": pdf, "created_at": now}
        with self._session() as session:
            insert_ignore(session, InvoicePdf, [row])
