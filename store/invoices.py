"""Invoices: ``Catalog``'s part for them, numbered per issue day and issued once.

The records that listings read and payments update; the invoice's workflow owns the truth.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from errors import InvalidInput
from models.billing import (
    InvoiceState,
    InvoiceWorkflowInput,
    IssueInvoiceInput,
    LineItemData,
    PaymentStatus,
)
from store.checks import check_aware, check_decimal
from store.persist import (
    Repository,
    get_or_not_found,
    insert_ignore,
    insert_statement,
    not_found,
    to_model,
    where_equal,
)
from store.tables import MONEY_LIMIT, MONEY_QUANTUM, Invoice, InvoiceSequence

#: The fields of an invoice that ``update_invoice`` records; the others are fixed at issue.
_PAYMENT_FIELDS = {
    "payment_status",
    "past_due",
    "external_payment_obj_id",
    "external_payment_obj_type",
    "external_payment_obj_status",
}


class _AlreadyIssued(Exception):
    """A concurrent call issued the invoice first: roll back, then return the stored one."""


class Invoices(Repository):
    """``Catalog``'s invoice methods: issue, record payments, read and list invoices."""

    def issue_invoice(
        self, invoice: InvoiceWorkflowInput, issue_date: datetime, due_date: datetime | None
    ) -> InvoiceState:
        """Store an invoice and give it the next number of its issue day, once.

        The number is ``YYMMDD-NNNNNN``: the issue date's UTC day and a sequence within it,
        starting at 1. An invoice of amount 0 is paid at once. The amount is stored rounded
        (half up) to 6 decimal places; the lines are stored whole. Calling again with the same
        ``invoice_id`` (an activity retry) writes nothing and returns the stored invoice.

        Raises:
            InvalidInput: a negative or too large amount, a date without a timezone, or a due
                date before the issue date; nothing was written.
        """
        return self._issue_with(
            IssueInvoiceInput(invoice=invoice, issue_date=issue_date, due_date=due_date)
        )

    def _issue_with(
        self,
        issue: IssueInvoiceInput,
        also: Callable[[Session], None] = lambda session: None,
    ) -> InvoiceState:
        """Issue ``issue``'s invoice, running ``also`` in the same transaction.

        When the invoice is stored already (a retry of a call that committed), nothing is
        written, ``also`` included: it was committed with the invoice.
        """
        invoice = issue.invoice
        row = _invoice_row(invoice, issue.issue_date, issue.due_date)
        try:
            with self._session() as session:
                if session.get(Invoice, invoice.invoice_id) is not None:
                    raise _AlreadyIssued
                also(session)
                row["invoice_number"] = _next_invoice_number(session, issue.issue_date)
                if not insert_ignore(session, Invoice, [row], key_only=True):
                    # Rolling back returns the number just taken, so the day's sequence has no gap.
                    raise _AlreadyIssued
                # Read back as stored (the amount's scale, the dates' zone), like get_invoice.
                return _state(get_or_not_found(session, Invoice, invoice.invoice_id, "invoice"))
        except _AlreadyIssued:
            return self.get_invoice(invoice.invoice_id)

    def update_invoice(self, state: InvoiceState, now: datetime) -> None:
        """Record an invoice's payment status, past-due flag and external payment fields.

        Raises:
            NotFound: no such invoice.
        """
        changes = state.model_dump(include=_PAYMENT_FIELDS)
        with self._session() as session:
            result = session.exec(
                sa.update(Invoice)
                .where(col(Invoice.id) == state.invoice_id)
                .values(updated_at=now, **changes)
            )
            if result.rowcount == 0:
                raise not_found("invoice", state.invoice_id)

    def get_invoice(self, invoice_id: str) -> InvoiceState:
        """The invoice ``invoice_id``.

        Raises:
            NotFound: no such invoice.
        """
        with self._session() as session:
            return _state(get_or_not_found(session, Invoice, invoice_id, "invoice"))

    def invoice_lines(self, invoice_id: str) -> list[LineItemData]:
        """The line items of an invoice, as issued.

        Raises:
            NotFound: no such invoice.
        """
        with self._session() as session:
            row = get_or_not_found(session, Invoice, invoice_id, "invoice")
            return [LineItemData.model_validate(line) for line in row.line_items]

    def list_invoices(
        self,
        customer_id: str | None = None,
        subscription_id: str | None = None,
        status: PaymentStatus | None = None,
    ) -> list[InvoiceState]:
        """Invoices newest first, of one customer, subscription and/or payment status when given."""
        query = select(Invoice).order_by(
            col(Invoice.issue_date).desc(), col(Invoice.invoice_number).desc()
        )
        query = where_equal(
            query,
            Invoice,
            customer_id=customer_id,
            subscription_id=subscription_id,
            payment_status=status,
        )
        with self._session() as session:
            return [_state(row) for row in session.exec(query).all()]


def _next_invoice_number(session: Session, issue_date: datetime) -> str:
    """Take the next number of the issue date's UTC day: ``YYMMDD-NNNNNN``.

    The upsert locks the day's counter row until the transaction ends, so concurrent issuers
    queue on it and each gets the next number; a rollback gives its number back.
    """
    day = issue_date.astimezone(UTC).date()
    insert = insert_statement(session, InvoiceSequence).values(day=day, last_number=1)
    upsert = insert.on_conflict_do_update(
        index_elements=["day"], set_={"last_number": col(InvoiceSequence.last_number) + 1}
    ).returning(col(InvoiceSequence.last_number))
    number: int = session.exec(upsert).scalar_one()
    # Six digits; a day past 999999 invoices gets seven rather than a repeated number.
    return f"{day:%y%m%d}-{number:06d}"


def _invoice_row(
    invoice: InvoiceWorkflowInput, issue_date: datetime, due_date: datetime | None
) -> dict[str, Any]:
    """The row of a new invoice, without its number.

    Raises:
        InvalidInput: see ``Catalog.issue_invoice``.
    """
    check_aware("issue date", issue_date)
    if due_date is not None:
        check_aware("due date", due_date)
    if due_date is not None and due_date < issue_date:
        raise InvalidInput(
            f"invoice {invoice.invoice_id} is due ({due_date}) before it is issued ({issue_date}); "
            "give a due date on or after the issue date"
        )
    amount = invoice.amount
    if amount.is_finite() and abs(amount) < MONEY_LIMIT:
        # Rounded here, half up like models.money, so both databases store the same value.
        rounded = amount.quantize(MONEY_QUANTUM, rounding=ROUND_HALF_UP)
        amount = amount if rounded == amount else rounded
    check_decimal(f"amount of invoice {invoice.invoice_id}", amount)
    return {
        "id": invoice.invoice_id,
        "subscription_id": invoice.subscription_id,
        "customer_id": invoice.customer.customer_id,
        "amount": amount,
        "currency": invoice.plan.currency,
        "issue_date": issue_date,
        "due_date": due_date,
        "payment_status": PaymentStatus.PAID if amount == 0 else PaymentStatus.UNPAID,
        "past_due": False,
        "line_items": [line.model_dump(mode="json") for line in invoice.line_items],
        "updated_at": issue_date,
    }


def _state(row: Invoice) -> InvoiceState:
    return to_model(InvoiceState, row, invoice_id=row.id)
