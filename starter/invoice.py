"""``billhook invoice ...``: inspect invoices, pay them, void them (through their workflows)."""

from __future__ import annotations

import argparse
from pathlib import Path

from config import Settings
from errors import InvalidInput
from models.billing import InvoiceState, PayInput, PaymentStatus
from starter.billing import invoice_status, money, number, render_invoices
from starter.runtime import Subcommands, add_id_command, open_client
from starter.table import render, render_fields
from store.validation import check_text

#: The invoice a subcommand acts on (``add_id_command``).
_ID = ("invoice_id", "INVOICE_ID")


def register(commands: Subcommands) -> None:
    """Add ``invoice`` and its subcommands to the command line."""
    group = commands.add_parser("invoice", help="inspect, pay and void invoices")
    sub = group.add_subparsers(dest="invoice_command", required=True, metavar="COMMAND")
    add_id_command(sub, "show", show_invoice, _ID, "show an invoice and its lines")
    listing = sub.add_parser("list", help="list invoices, newest first")
    listing.add_argument("--customer", metavar="C", help="only this customer's")
    listing.add_argument("--subscription", metavar="S", help="only this subscription's")
    listing.add_argument("--status", choices=[s.value for s in PaymentStatus])
    listing.set_defaults(handler=list_invoices)
    pay = add_id_command(sub, "pay", pay_invoice, _ID, "mark an invoice paid and emit invoice.paid")
    pay.add_argument("--external-id", help="the payment's id at your payment provider")
    pay.add_argument("--external-type", help="the payment provider, like stripe")
    pay.add_argument("--external-status", help="the payment's status at the provider")
    pdf = add_id_command(
        sub, "pdf", write_pdf, _ID, "write an invoice's PDF (as its invoice_pdf URL serves it)"
    )
    pdf.add_argument("-o", "--output", metavar="FILE", help="where to write it (INVOICE_ID.pdf)")
    add_id_command(sub, "void", void_invoice, _ID, "void an unpaid invoice (no event is emitted)")


def show_invoice(args: argparse.Namespace, settings: Settings) -> None:
    """Print an invoice's state and its lines."""
    with open_client(settings) as billhook:
        details = billhook.invoices.show(args.invoice_id)
    invoice = details.invoice
    print(render_fields(_fields(invoice)))
    lines = [
        (
            line.name,
            line.billing_type,
            None if line.quantity is None else number(line.quantity),
            money(line.base, invoice.currency),
            line.start,
            line.end,
        )
        for line in details.lines
    ]
    print("\nlines")
    print(render(["name", "billing", "quantity", "amount", "from", "to"], lines))


def _fields(invoice: InvoiceState) -> list[tuple[str, object]]:
    return [
        ("id", invoice.invoice_id),
        ("number", invoice.invoice_number),
        ("customer", invoice.customer_id),
        ("subscription", invoice.subscription_id),
        ("amount", money(invoice.amount, invoice.currency)),
        ("status", invoice_status(invoice)),
        ("issued", invoice.issue_date),
        ("due", invoice.due_date),
        ("payment id", invoice.external_payment_obj_id),
        ("payment type", invoice.external_payment_obj_type),
        ("payment status", invoice.external_payment_obj_status),
    ]


def list_invoices(args: argparse.Namespace, settings: Settings) -> None:
    """Print invoices, newest first, filtered by customer, subscription and status."""
    status = PaymentStatus(args.status) if args.status else None
    with open_client(settings) as billhook:
        invoices = billhook.invoices.list(
            customer_id=args.customer, subscription_id=args.subscription, status=status
        )
    print(render_invoices(invoices))


def write_pdf(args: argparse.Namespace, settings: Settings) -> None:
    """Write an invoice's PDF to a file; nothing is written when the invoice is unknown."""
    path = Path(args.output or f"{args.invoice_id}.pdf")
    if path.is_dir():
        raise InvalidInput(f"--output {path} is a directory; give a file name")
    with open_client(settings) as billhook:
        pdf = billhook.invoices.pdf(args.invoice_id)
    try:
        path.write_bytes(pdf)
    except OSError as exc:
        raise InvalidInput(f"cannot write {path}: {exc.strerror}") from None
    print(f"wrote {path} ({len(pdf):,} bytes): invoice {args.invoice_id}")


def pay_invoice(args: argparse.Namespace, settings: Settings) -> None:
    """Pay an unpaid invoice; paying a paid one again changes nothing and succeeds."""
    for option, value in (
        ("--external-id", args.external_id),
        ("--external-type", args.external_type),
        ("--external-status", args.external_status),
    ):
        if value is not None:
            check_text(option, value)
    payment = PayInput(
        external_payment_obj_id=args.external_id,
        external_payment_obj_type=args.external_type,
        external_payment_obj_status=args.external_status,
    )
    with open_client(settings) as billhook:
        result = billhook.invoices.pay(args.invoice_id, payment)
    paid = result.invoice
    amount = money(paid.amount, paid.currency)
    if result.already_paid:
        print(f"invoice {paid.invoice_id} ({amount}) is already paid; nothing changed")
    else:
        print(f"paid invoice {paid.invoice_id} ({amount}); invoice.paid is emitted")


def void_invoice(args: argparse.Namespace, settings: Settings) -> None:
    """Void an unpaid invoice through its workflow."""
    with open_client(settings) as billhook:
        voided = billhook.invoices.void(args.invoice_id)
    amount = money(voided.amount, voided.currency)
    print(f"voided invoice {voided.invoice_id} ({amount}); it can no longer be paid")
