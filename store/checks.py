"""Checks on catalog input that more than one of its aggregates applies before writing anything.

Each raises ``InvalidInput`` with a one-line message that says what is wrong and what to give.
"""

from __future__ import annotations

import re
from datetime import datetime
from decimal import Decimal

from errors import InvalidInput
from store.tables import MONEY_LIMIT, MONEY_QUANTUM

#: Ten years: longer terms are a typo, and due dates must stay within the calendar.
NET_TERMS_MAX_DAYS = 3650
_CURRENCY = re.compile(r"[A-Z]{3}")


def check_currency(currency: str) -> None:
    """Refuse a currency that is not an ISO 4217-shaped code (3 upper-case letters).

    Raises:
        InvalidInput: what is wrong, in one line.
    """
    if not _CURRENCY.fullmatch(currency):
        raise InvalidInput(f"currency {currency!r} must be 3 upper-case letters, like USD or EUR")


def check_net_terms(days: int | None) -> None:
    """Refuse net terms below 0 or above ``NET_TERMS_MAX_DAYS``; None (no terms) is fine.

    Raises:
        InvalidInput: what is wrong, in one line.
    """
    if days is not None and days < 0:
        raise InvalidInput(f"net terms of {days} days are negative; give 0 days or more")
    if days is not None and days > NET_TERMS_MAX_DAYS:
        raise InvalidInput(
            f"net terms of {days} days are too long; give at most {NET_TERMS_MAX_DAYS} days"
        )


def check_quantity(what: str, value: Decimal) -> None:
    """Refuse a quantity the catalog could not store: negative, 10^14 or more, over 6 decimals.

    Public so the command line can refuse usage before it reaches a subscription's workflow.

    Raises:
        InvalidInput: what is wrong, in one line.
    """
    check_decimal(what, value)


def check_decimal(what: str, value: Decimal, *, positive: bool = False) -> None:
    """Refuse negatives (0 too when ``positive``) and what ``NUMERIC(20, 6)`` cannot hold.

    Raises:
        InvalidInput: what is wrong, in one line.
    """
    if not value.is_finite() or value < 0 or (positive and value == 0):
        bound = "greater than 0" if positive else "0 or more"
        raise InvalidInput(f"the {what} is {value}; give a number {bound}")
    if value >= MONEY_LIMIT:
        raise InvalidInput(f"the {what} {value} is too large; give a number below 10^14")
    if value != value.quantize(MONEY_QUANTUM):
        raise InvalidInput(f"the {what} {value} has more than 6 decimal places; round it to 6")


def check_aware(what: str, value: datetime) -> None:
    """Refuse a datetime without a timezone: the store keeps UTC and needs the offset.

    Raises:
        InvalidInput: what is wrong, in one line.
    """
    if value.tzinfo is None or value.utcoffset() is None:
        raise InvalidInput(f"the {what} {value} has no timezone; give an aware datetime")
