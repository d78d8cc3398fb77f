"""The organization that bills, as invoices show it (settings ``BILLHOOK_ORGANIZATION_*``).

Captured when an invoice is issued and carried with it (``InvoiceWorkflowInput.organization``),
so every event of one invoice shows the same values, whatever the settings say later.
"""

from __future__ import annotations

from pydantic import BaseModel


class Organization(BaseModel):
    """The issuer of invoices: the timezone their lines' date-times are written in."""

    #: IANA name; invoice line items' ``start_date`` and ``end_date`` are written in it.
    timezone: str = "UTC"
