"""Invoice PDFs: an Invoice payload rendered with reportlab, stored, and served at its URL.

The PDF shows what the invoice's newest event showed a receiver (``store.documents``): the
seller, the customer and its address, the issue and due dates, each line with its period,
quantity and amount, and the total; so a PDF never says other than the webhooks did. Amounts
are written with their currency code (the built-in fonts lack many currency symbols).
"""

from __future__ import annotations

import io
from typing import Any

from models.address import Address
from models.clock import utcnow
from models.money import minor_units
from store import Store


def invoice_pdf(store: Store, invoice_id: str) -> bytes:
    """The PDF of ``invoice_id`` as its newest event showed it: stored, or rendered and stored.

    Raises:
        NotFound: no event carries that invoice.
    """
    message_id, payload = store.latest_invoice_payload(invoice_id)
    pdf = store.stored_pdf(message_id)
    if pdf is None:
        pdf = render_invoice(payload)
        store.store_pdf(message_id, invoice_id, pdf, utcnow())
    return pdf


def _address_lines(address: dict[str, Any] | None) -> list[str]:
    if not address:
        return []
    shown = Address.model_validate(address)
    region = " ".join(p for p in (shown.postal_code, shown.city, shown.state) if p)
    return [line for line in (shown.line1, shown.line2, region, shown.country) if line]


def _party(title: str, party: dict[str, Any], name: str | None) -> str:
    """A seller or a customer as lines: name, address, phone, email (what it has)."""
    lines = [title, name, *_address_lines(party.get("address")), party.get("phone")]
    return "\n".join(line for line in [*lines, party.get("email")] if line)


def _money(amount: float, currency: str) -> str:
    return f"{amount:,.{minor_units(currency)}f} {currency}"


def render_invoice(payload: dict[str, Any]) -> bytes:
    """An Invoice payload (events.md) as a one-or-more-page A4 PDF."""
    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import getSampleStyleSheet
    from reportlab.lib.units import mm
    from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

    styles = getSampleStyleSheet()
    currency = payload["currency"]["code"]
    seller, customer = payload["seller"], payload["customer"]
    due = payload["due_date"][:10] if payload["due_date"] else "no due date"
    buffer = io.BytesIO()
    document = SimpleDocTemplate(
        buffer,
        pagesize=A4,
        title=f"Invoice {payload['invoice_number']}",
        author=seller["name"] or "billhook",
        leftMargin=18 * mm,
        rightMargin=18 * mm,
        invariant=True,  # the same bytes for the same payload
    )
    parties = Table(
        [
            [
                _party("From", seller, seller["name"]),
                _party("Bill to", customer, customer["customer_name"]),
            ]
        ],
        colWidths=[87 * mm, 87 * mm],
    )
    facts = Table(
        [
            ["Invoice number", payload["invoice_number"]],
            ["Issued", payload["issue_date"][:10]],
            ["Due", due],
            ["Period", f"{payload['start_date']} to {payload['end_date']}"],
            ["Status", payload["payment_status"]],
        ],
        colWidths=[40 * mm, 134 * mm],
    )
    rows: list[list[str]] = [["Item", "Period", "Quantity", "Amount"]]
    for line in payload["line_items"]:
        quantity = line["quantity"]
        rows.append(
            [
                line["name"],
                f"{line['start_date'][:10]} to {line['end_date'][:10]}",
                "" if quantity is None else f"{quantity:g}",
                _money(line["amount"], currency),
            ]
        )
    rows.append(["Total", "", "", _money(payload["amount"], currency)])
    lines = Table(rows, colWidths=[62 * mm, 50 * mm, 22 * mm, 40 * mm], repeatRows=1)
    lines.setStyle(
        TableStyle(
            [
                ("FONTNAME", (0, 0), (-1, 0), "Helvetica-Bold"),
                ("FONTNAME", (0, -1), (-1, -1), "Helvetica-Bold"),
                ("LINEBELOW", (0, 0), (-1, 0), 0.5, colors.black),
                ("LINEABOVE", (0, -1), (-1, -1), 0.5, colors.black),
                ("ALIGN", (2, 0), (-1, -1), "RIGHT"),
            ]
        )
    )
    for table in (parties, facts):
        table.setStyle(TableStyle([("VALIGN", (0, 0), (-1, -1), "TOP")]))
    story = [
        Paragraph(f"Invoice {payload['invoice_number']}", styles["Title"]),
        parties,
        Spacer(1, 6 * mm),
        facts,
        Spacer(1, 6 * mm),
        lines,
        Spacer(1, 6 * mm),
        Paragraph(f"Invoice id {payload['invoice_id']}", styles["Normal"]),
    ]
    document.build(story)
    return buffer.getvalue()
