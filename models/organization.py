"""The organization that bills, as invoices show it (settings ``BILLHOOK_ORGANIZATION_*``).

Captured when an invoice is issued and carried with it (``InvoiceWorkflowInput.organization``),
so every event of one invoice shows the same values, whatever the settings say later.
"""

from __future__ import annotations

from pydantic import BaseModel

from models.address import Address


class Organization(BaseModel):
    """The issuer of invoices: the seller every invoice names, and the timezone of its lines."""

    #: IANA name; invoice line items' ``start_date`` and ``end_date`` are written in it.
    timezone: str = "UTC"
    #: The seller of every invoice (``seller`` in payloads); None: not configured, ``null``.
    name: str | None = None
    address: Address | None = None
    phone: str | None = None
    email: str | None = None
    #: Days to pay an invoice when neither its customer nor its plan says; None: no due date.
    net_terms_days: int | None = None
    #: Where invoices' PDFs are served (``billhook pdf-server``); None: ``invoice_pdf`` is null.
    pdf_base_url: str | None = None

    def pdf_url(self, invoice_id: str) -> str | None:
        """The ``invoice_pdf`` URL of ``invoice_id`` (``<base>/invoices/<id>.pdf``)."""
        return (
            None if self.pdf_base_url is None else f"{self.pdf_base_url}/invoices/{invoice_id}.pdf"
        )
