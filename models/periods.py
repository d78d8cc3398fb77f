"""Billing periods: calendar periods in the customer's timezone and short ISO 8601 durations.

A plan version's period is ``monthly``, ``quarterly``, ``yearly`` or an ISO 8601 duration such as
``PT30S`` or ``P1M`` (lifecycle.md). Every period start is computed from the subscription's anchor
and the period's index, never from the previous period, so clamping a short month never shifts
the periods after it: Jan 31 -> Feb 29 -> Mar 31 -> Apr 30.

- Months and years follow the anchor's day of month, clamped to each month's length, at the
  anchor's local wall-clock time: a period starting at local midnight always starts at local
  midnight, whether daylight saving time is in effect or not.
- Days and weeks add local calendar days, at the same wall-clock time.
- Hours, minutes and seconds add absolute time.

Pure and deterministic: safe inside Temporal's workflow sandbox.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from decimal import Decimal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

_CALENDAR_MONTHS = {"monthly": 1, "quarterly": 3, "yearly": 12}
_DURATION = re.compile(
    r"P(?:(?P<years>\d+)Y)?(?:(?P<months>\d+)M)?(?:(?P<weeks>\d+)W)?(?:(?P<days>\d+)D)?"
    r"(?:T(?=\d)(?:(?P<hours>\d+)H)?(?:(?P<minutes>\d+)M)?(?:(?P<seconds>\d+(?:\.\d{1,6})?)S)?)?",
    re.ASCII,
)
_ONE_MICROSECOND = timedelta(microseconds=1)
#: The longest period: 10 years, as months or as days and time.
_MAX_MONTHS = 120
_MAX_DAYS = 3653


@dataclass(frozen=True)
class _Step:
    """One period's length, split by how each part is added to the anchor."""

    months: int  # calendar months, at the anchor's day of month (clamped)
    days: int  # local calendar days
    time: timedelta  # absolute time


def _parse(period: str) -> _Step:
    """The step of ``period``, or a ``ValueError`` saying what is accepted."""
    if period in _CALENDAR_MONTHS:
        return _Step(_CALENDAR_MONTHS[period], 0, timedelta())
    match = _DURATION.fullmatch(period)
    if match is None or match.group(0) == "P":
        raise ValueError(
            f"invalid billing period {period!r}: use monthly, quarterly, yearly or an ISO 8601 "
            "duration of whole years, months, weeks, days, hours, minutes and seconds "
            "(for example PT30S, P1D, P2W, P1M; only seconds may have a fraction)"
        )
    parts = {name: value or "0" for name, value in match.groupdict().items()}
    try:
        step = _Step(
            months=12 * int(parts["years"]) + int(parts["months"]),
            days=7 * int(parts["weeks"]) + int(parts["days"]),
            time=timedelta(
                hours=int(parts["hours"]),
                minutes=int(parts["minutes"]),
                microseconds=int(Decimal(parts["seconds"]) * 1_000_000),
            ),
        )
    except OverflowError as error:
        raise ValueError(f"billing period {period!r} is too long") from error
    if not (step.months or step.days or step.time):
        raise ValueError(f"billing period {period!r} must be longer than zero")
    if step.months > _MAX_MONTHS or step.days + step.time / timedelta(days=1) > _MAX_DAYS:
        # Periods this long are typos, and their ends would soon leave the calendar.
        raise ValueError(f"billing period {period!r} is too long; give at most 10 years")
    return step


def validate_period(period: str) -> None:
    """Check that ``period`` is a billing period this module can compute.

    Raises:
        ValueError: ``period`` is not ``monthly``, ``quarterly``, ``yearly`` or a positive ISO
            8601 duration of whole years, months, weeks, days, hours and minutes, and seconds
            (with at most six decimals).
    """
    _parse(period)


def zone(name: str) -> ZoneInfo:
    """The IANA timezone ``name``.

    Raises:
        ValueError: no timezone has that name.
    """
    try:
        found = ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError) as error:  # OSError: name too long
        raise ValueError(f"unknown timezone {name!r}: use an IANA name such as UTC") from error
    # Temporal's workflow sandbox wraps ZoneInfo in a proxy (to restrict ZoneInfo.from_file and
    # clear_cache) and datetime refuses the proxied instances as tzinfo. The proxy reports the
    # real class, whose instances are not wrapped; outside the sandbox this is ``found`` itself.
    return found if type(found) is ZoneInfo else found.__class__(name)


def in_timezone(moment: datetime, tz: str) -> datetime:
    """``moment`` as a wall-clock time of the IANA timezone ``tz``.

    Raises:
        ValueError: ``moment`` is naive, or ``tz`` is not a timezone.
    """
    return _aware(moment).astimezone(zone(tz))


def _aware(moment: datetime) -> datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{moment.isoformat()} has no timezone; billing times must be aware")
    return moment


def _shift(moment: datetime, delta: timedelta) -> datetime:
    """``moment`` plus absolute time; adding to an aware datetime directly adds wall-clock time."""
    return (moment.astimezone(UTC) + delta).astimezone(moment.tzinfo)


def _local(wall_clock: datetime, tz: tzinfo | None) -> datetime:
    """A naive wall-clock time in ``tz``; a time skipped by DST moves forward by the gap."""
    return wall_clock.replace(tzinfo=tz).astimezone(UTC).astimezone(tz)


def _add_calendar(anchor: datetime, months: int, days: int) -> datetime:
    """``anchor`` plus months (at its day of month, clamped) and local days, same wall clock."""
    total = anchor.month - 1 + months
    year, month = anchor.year + total // 12, total % 12 + 1
    day = min(anchor.day, calendar.monthrange(year, month)[1])
    wall_clock = anchor.replace(tzinfo=None, year=year, month=month, day=day)
    return _local(wall_clock + timedelta(days=days), anchor.tzinfo)


def period_start(
    anchor: datetime, period: str, index: int, *, timezone: str | None = None
) -> datetime:
    """The start of period ``index`` (0 is the anchor's) of a subscription anchored at ``anchor``.

    Args:
        anchor: start of period 0, aware; its timezone decides wall-clock times and days.
        period: a billing period (see ``validate_period``).
        index: periods since the anchor, 0 or more.
        timezone: an IANA name to read ``anchor`` in first. Pass the customer's timezone when
            the anchor went through JSON, which keeps only its UTC offset of the day.

    Raises:
        ValueError: invalid period, negative index, naive anchor or unknown timezone.
    """
    step = _parse(period)
    if index < 0:
        raise ValueError(f"period index must be 0 or more, not {index}")
    start = in_timezone(anchor, timezone) if timezone else _aware(anchor)
    if step.months or step.days:
        start = _add_calendar(start, step.months * index, step.days * index)
    return _shift(start, step.time * index) if step.time else start


def period_bounds(
    anchor: datetime, period: str, index: int, *, timezone: str | None = None
) -> tuple[datetime, datetime, datetime]:
    """The ``(start, end, next_start)`` of period ``index``, where ``end`` is its last microsecond.

    Args and errors are those of ``period_start``. ``end`` is the last microsecond before the
    next period starts (events.md, Value formats), e.g. ``2024-02-29T23:59:59.999999-05:00``.
    """
    start = period_start(anchor, period, index, timezone=timezone)
    next_start = period_start(anchor, period, index + 1, timezone=timezone)
    return start, _shift(next_start, -_ONE_MICROSECOND), next_start
