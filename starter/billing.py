"""What the billing commands share: parsing of numbers, and how amounts and records read.

Numbers are parsed here rather than by argparse types so that a bad one is refused like any
other bad input: one ``error:`` line and exit 1, with nothing written or started.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal, InvalidOperation

from client.results import SubscriptionSummary
from errors import InvalidInput
from models.billing import InvoiceState, PaymentStatus
from models.money import round_money
from models.periods import in_timezone
from starter.table import render

#: A decimal number as people write one: ``12``, ``-0.5``, ``.25``, ``1e3``.
_DECIMAL = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?", re.ASCII)
#: Longer than any amount the catalog stores (14 digits, a point, 6 decimals) with room to spare.
_MAX_NUMBER_LENGTH = 100
_DAYS = re.compile(r"[0-9]{1,9}", re.ASCII)


def parse_decimal(what: str, text: str) -> Decimal:
    """``text`` as an exact decimal; the catalog and the workflows judge its range.

    Raises:
        InvalidInput: ``text`` is not a finite number.
    """
    value = Decimal("NaN")
    # ASCII digits only: Decimal alone would take "1_000", full-width digits and "NaN".
    if len(text) <= _MAX_NUMBER_LENGTH and _DECIMAL.fullmatch(text.strip()):
        with contextlib.suppress(InvalidOperation):
            value = Decimal(text.strip())
    if not value.is_finite():
        raise InvalidInput(f"the {what} {text[:40]!r} is not a number; give one like 12.50")
    return value


def parse_days(text: str | None) -> int | None:
    """``--net-terms``: a whole number of days, 0 or more; None when not given.

    Raises:
        InvalidInput: not a whole number, or negative.
    """
    if text is None:
        return None
    days = int(text) if _DAYS.fullmatch(text.strip()) else -1
    if days < 0:
        raise InvalidInput(f"net terms {text!r} must be a whole number of days, 0 or more")
    return days


def money(amount: Decimal, currency: str) -> str:
    """``12.50 USD``: the currency's minor unit, or more digits when the amount has them."""
    rounded = round_money(amount, currency)
    shown = rounded if rounded == amount else amount.normalize()
    return f"{shown:f} {currency}"


def terms_text(days: int | None) -> str | None:
    """``30 days``, or None (an empty cell) when none are set."""
    return None if days is None else f"{days} days"


def number(value: Decimal) -> str:
    """A quantity without trailing zeros: ``120``, ``0.5``."""
    return f"{value.normalize():f}"


def local_time(moment: datetime, timezone: str) -> str:
    """``2024-01-31 00:00:00-05:00``: a billing time as the customer's clock reads it."""
    return in_timezone(moment, timezone).isoformat(sep=" ", timespec="seconds")


def invoice_status(invoice: InvoiceState) -> str:
    """``paid``, ``voided``, ``unpaid``, or ``unpaid, past due``."""
    if invoice.payment_status is PaymentStatus.UNPAID and invoice.past_due:
        return "unpaid, past due"
    return invoice.payment_status.value


def render_invoices(invoices: Sequence[InvoiceState]) -> str:
    """Invoices as a table, in the order given."""
    rows = [
        (
            i.invoice_id,
            i.invoice_number,
            i.customer_id,
            money(i.amount, i.currency),
            invoice_status(i),
            i.issue_date,
            i.due_date,
        )
        for i in invoices
    ]
    headers = ["invoice", "number", "customer", "amount", "status", "issued", "due"]
    return render(headers, rows)


def render_subscriptions(subscriptions: Sequence[SubscriptionSummary]) -> str:
    """Subscription records as a table, in the order given."""
    rows = [
        (
            s.subscription_id,
            s.customer_id,
            s.plan_name,
            s.status,
            "yes" if s.auto_renew else "no",
            s.sequence + 1,
            s.period_start,
            s.period_end,
        )
        for s in subscriptions
    ]
    headers = ["subscription", "customer", "plan", "status", "renews", "period", "start", "end"]
    return render(headers, rows)
