"""``models.periods``: calendar periods clamp to the anchor's day and keep local time across DST."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

import pytest
from pydantic import BaseModel

from models.periods import in_timezone, period_bounds, period_start, validate_period

NEW_YORK = ZoneInfo("America/New_York")


def starts(anchor: datetime, period: str, count: int) -> list[str]:
    return [period_start(anchor, period, index).isoformat() for index in range(count)]


def test_monthly_from_jan_31_in_a_leap_year_clamps_and_keeps_local_midnight() -> None:
    anchor = datetime(2024, 1, 31, tzinfo=NEW_YORK)

    assert starts(anchor, "monthly", 13) == [
        "2024-01-31T00:00:00-05:00",
        "2024-02-29T00:00:00-05:00",
        "2024-03-31T00:00:00-04:00",  # daylight saving time started on Mar 10
        "2024-04-30T00:00:00-04:00",
        "2024-05-31T00:00:00-04:00",
        "2024-06-30T00:00:00-04:00",
        "2024-07-31T00:00:00-04:00",
        "2024-08-31T00:00:00-04:00",
        "2024-09-30T00:00:00-04:00",
        "2024-10-31T00:00:00-04:00",
        "2024-11-30T00:00:00-05:00",  # and ended on Nov 3
        "2024-12-31T00:00:00-05:00",
        "2025-01-31T00:00:00-05:00",
    ]


def test_monthly_bounds_end_on_the_last_microsecond_before_the_next_start() -> None:
    anchor = datetime(2024, 1, 31, tzinfo=NEW_YORK)

    bounds = [period_bounds(anchor, "monthly", index) for index in range(13)]

    assert [end.isoformat() for _, end, _ in bounds[:3]] == [
        "2024-02-28T23:59:59.999999-05:00",
        "2024-03-30T23:59:59.999999-04:00",
        "2024-04-29T23:59:59.999999-04:00",
    ]
    for (start, end, next_start), following in pairwise(bounds):
        assert next_start == following[0]
        assert next_start - end == timedelta(microseconds=1)
        assert start.tzinfo is NEW_YORK and end.tzinfo is NEW_YORK


def test_monthly_from_jan_31_in_a_common_year_clamps_to_feb_28() -> None:
    anchor = datetime(2023, 1, 31, 9, 30, tzinfo=NEW_YORK)

    assert starts(anchor, "monthly", 4) == [
        "2023-01-31T09:30:00-05:00",
        "2023-02-28T09:30:00-05:00",
        "2023-03-31T09:30:00-04:00",  # the anchor's day again: periods are never chained
        "2023-04-30T09:30:00-04:00",
    ]


def test_quarterly_from_nov_30() -> None:
    anchor = datetime(2023, 11, 30, tzinfo=UTC)

    assert [s[:10] for s in starts(anchor, "quarterly", 5)] == [
        "2023-11-30",
        "2024-02-29",
        "2024-05-30",
        "2024-08-30",
        "2024-11-30",
    ]


def test_yearly_from_feb_29() -> None:
    anchor = datetime(2024, 2, 29, tzinfo=NEW_YORK)

    assert [s[:10] for s in starts(anchor, "yearly", 5)] == [
        "2024-02-29",
        "2025-02-28",
        "2026-02-28",
        "2027-02-28",
        "2028-02-29",
    ]
    assert period_bounds(anchor, "yearly", 0)[1].isoformat() == "2025-02-27T23:59:59.999999-05:00"


@pytest.mark.parametrize(
    ("period", "calendar_period"), [("P1M", "monthly"), ("P3M", "quarterly"), ("P1Y", "yearly")]
)
def test_iso_months_and_years_are_calendar_periods(period: str, calendar_period: str) -> None:
    anchor = datetime(2024, 1, 31, tzinfo=NEW_YORK)

    assert starts(anchor, period, 13) == starts(anchor, calendar_period, 13)


def test_seconds_are_absolute_time() -> None:
    anchor = datetime(2024, 3, 10, 1, 59, 58, tzinfo=NEW_YORK)  # 2 s before DST starts

    start, end, next_start = period_bounds(anchor, "PT5S", 0)

    assert end.isoformat() == "2024-03-10T03:00:02.999999-04:00"
    assert next_start.astimezone(UTC) - start.astimezone(UTC) == timedelta(seconds=5)
    hour_later = period_start(anchor, "PT5S", 720)
    assert hour_later.astimezone(UTC) == anchor.astimezone(UTC) + timedelta(hours=1)
    assert hour_later.isoformat() == "2024-03-10T03:59:58-04:00"


def test_hours_are_absolute_time_across_the_fall_back_hour() -> None:
    anchor = datetime(2024, 11, 3, 0, 30, tzinfo=NEW_YORK)

    assert starts(anchor, "PT1H", 4) == [
        "2024-11-03T00:30:00-04:00",
        "2024-11-03T01:30:00-04:00",
        "2024-11-03T01:30:00-05:00",  # the same wall clock, an hour later
        "2024-11-03T02:30:00-05:00",
    ]
    _, end, _ = period_bounds(anchor, "PT1H", 1)
    assert end.isoformat() == "2024-11-03T01:29:59.999999-05:00"


def test_days_keep_local_time_across_dst() -> None:
    anchor = datetime(2024, 3, 9, tzinfo=NEW_YORK)

    assert starts(anchor, "P1D", 3) == [
        "2024-03-09T00:00:00-05:00",
        "2024-03-10T00:00:00-05:00",
        "2024-03-11T00:00:00-04:00",  # period 1 lasted 23 hours
    ]
    assert starts(anchor, "P2W", 2)[1] == "2024-03-23T00:00:00-04:00"


def test_a_local_time_skipped_by_dst_moves_forward() -> None:
    anchor = datetime(2024, 3, 9, 2, 30, tzinfo=NEW_YORK)

    assert starts(anchor, "P1D", 3)[1:] == [
        "2024-03-10T03:30:00-04:00",  # 02:30 does not exist that day
        "2024-03-11T02:30:00-04:00",
    ]


def test_timezone_restores_dst_of_an_anchor_that_went_through_json() -> None:
    class Input(BaseModel):
        anchor: datetime

    sent = Input(anchor=datetime(2024, 1, 31, tzinfo=NEW_YORK)).model_dump_json()
    anchor = Input.model_validate_json(sent).anchor  # a fixed -05:00 offset now

    assert period_start(anchor, "monthly", 2).isoformat() == "2024-03-31T00:00:00-05:00"
    start = period_start(anchor, "monthly", 2, timezone="America/New_York")
    assert start.isoformat() == "2024-03-31T00:00:00-04:00"


VALID = ["monthly", "quarterly", "yearly", "PT30S", "PT5S", "PT1M", "PT1H", "P1D", "P2W", "P1M"]
INVALID = ["PT0S", "P0D", "P0Y0M", "weekly", "Monthly", "P1.5M", "P0.5Y", "", "P", "PT", "P1MT"]
#: Not ISO 8601 either: no sign, lower case, surrounding space, a non-ASCII digit (U+0661).
MALFORMED = ["1M", "P-1M", "PT5", "PT1.1234567S", "pt5s", " PT5S", "PT5S\n", "P\u0661D"]


@pytest.mark.parametrize("period", [*VALID, "P1Y", "P1Y6M", "PT1.5S", "P1DT12H"])
def test_valid_periods(period: str) -> None:
    validate_period(period)


@pytest.mark.parametrize("period", [*INVALID, *MALFORMED])
def test_invalid_periods_raise_a_clear_error(period: str) -> None:
    with pytest.raises(ValueError, match="billing period"):
        validate_period(period)
    with pytest.raises(ValueError, match="billing period"):
        period_start(datetime(2024, 1, 1, tzinfo=UTC), period, 1)


def test_period_start_refuses_a_naive_anchor_and_a_negative_index() -> None:
    with pytest.raises(ValueError, match="no timezone"):
        period_start(datetime(2024, 1, 1), "monthly", 0)
    with pytest.raises(ValueError, match="0 or more"):
        period_start(datetime(2024, 1, 1, tzinfo=UTC), "monthly", -1)


def test_in_timezone() -> None:
    moment = datetime(2024, 7, 1, 12, tzinfo=UTC)

    local = in_timezone(moment, "America/New_York")

    assert local.isoformat() == "2024-07-01T08:00:00-04:00"
    assert local.tzinfo == NEW_YORK and local == moment


def test_in_timezone_refuses_unknown_zones_and_naive_times() -> None:
    with pytest.raises(ValueError, match="unknown timezone 'Mars/Olympus'"):
        in_timezone(datetime(2024, 1, 1, tzinfo=UTC), "Mars/Olympus")
    with pytest.raises(ValueError, match="no timezone"):
        in_timezone(datetime(2024, 1, 1), "UTC")
