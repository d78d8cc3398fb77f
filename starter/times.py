"""``--since`` values: an ISO 8601 time (naive means UTC), or how long ago (``30m``, ``3d``)."""

from __future__ import annotations

import argparse
import re
from datetime import UTC, datetime, timedelta

_RELATIVE = re.compile(r"([0-9]{1,12})\s*([smhdw])", re.ASCII)
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_since(text: str, now: datetime | None = None) -> datetime:
    """The moment ``text`` names, timezone-aware in UTC.

    Args:
        text: ``2024-05-01``, ``2024-05-01T12:00:00+02:00`` (naive: UTC), or ``<n>s|m|h|d|w``
            meaning that long before ``now``.
        now: the reference for relative durations; the current time when omitted.

    Raises:
        argparse.ArgumentTypeError: neither form; argparse turns it into a usage error.
    """
    relative = _RELATIVE.fullmatch(text.strip().lower())
    if relative:
        amount, unit = relative.groups()
        try:
            return (now or datetime.now(UTC)) - timedelta(**{_UNITS[unit]: int(amount)})
        except OverflowError:
            raise argparse.ArgumentTypeError(
                f"{text[:40]!r} reaches before the year 1; give a shorter duration"
            ) from None
    try:
        moment = datetime.fromisoformat(text.strip())
        return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    except (ValueError, OverflowError):  # OverflowError: 0001-01-01T00:00+01:00 in UTC
        raise argparse.ArgumentTypeError(
            f"{text[:40]!r} is neither an ISO 8601 time (2024-05-01T12:00) nor a duration "
            "like 30m, 2h, 3d"
        ) from None
