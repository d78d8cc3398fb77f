"""The table renderer and ``--since`` parsing."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime, timedelta, timezone

import pytest

from models.delivery import DeliveryStatus
from starter.table import render, render_fields
from starter.times import parse_since

NOW = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


def test_columns_aligned_under_an_underlined_header() -> None:
    table = render(["id", "status", "at"], [("a", DeliveryStatus.FAILED, NOW), ("bbbb", None, [])])

    assert table.splitlines() == [
        "id    status  at",
        "----  ------  -------------------",
        "a     failed  2024-05-01 12:00:00",
        "bbbb  -       -",
    ]


def test_times_shown_in_utc_and_long_cells_cut() -> None:
    paris = datetime(2024, 5, 1, 14, 0, tzinfo=timezone(timedelta(hours=2)))

    table = render(["when", "what"], [(paris, "x" * 60)], max_width=10)

    assert table.splitlines()[2] == "2024-05-01 12:00:00  xxxxxxxxx…"


def test_empty_listing() -> None:
    assert render(["id"], []) == "(none)"


def test_fields() -> None:
    assert (
        render_fields([("id", "x"), ("created", NOW)]) == "id       x\ncreated  2024-05-01 12:00:00"
    )


@pytest.mark.parametrize(
    "text,expected",
    [
        ("30m", NOW - timedelta(minutes=30)),
        ("2h", NOW - timedelta(hours=2)),
        ("3d", NOW - timedelta(days=3)),
        ("2024-04-30", datetime(2024, 4, 30, tzinfo=UTC)),
        ("2024-04-30T08:15:00", datetime(2024, 4, 30, 8, 15, tzinfo=UTC)),
        ("2024-04-30T10:15:00+02:00", datetime(2024, 4, 30, 8, 15, tzinfo=UTC)),
        ("2024-04-30T08:15:00Z", datetime(2024, 4, 30, 8, 15, tzinfo=UTC)),
    ],
)
def test_since(text: str, expected: datetime) -> None:
    assert parse_since(text, NOW) == expected


@pytest.mark.parametrize("text", ["yesterday", "3 days", "-2h", ""])
def test_since_refused(text: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError):
        parse_since(text, NOW)
