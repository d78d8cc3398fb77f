"""The retry policy as a table: one row per kind of attempt outcome (delivery.md, Retries)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from activities.outcome import Action, Decision, classify, parse_retry_after
from config import DEFAULT_RETRY_SCHEDULE
from models.delivery import ErrorKind

NOW = datetime(2024, 3, 1, 12, 0, 0, tzinfo=UTC)
S = timedelta(seconds=1)
M = timedelta(minutes=1)
HTTP = ErrorKind.HTTP_STATUS

# Attempt 2's scheduled delay is 5 min: a Retry-After is clamped into [5 min, 10 min].
ROWS = [
    # id, status, error kind, Retry-After, attempt, draw, action, delay
    ("200", 200, None, None, 1, 0.0, Action.SUCCEEDED, None),
    ("204", 204, None, None, 3, 0.0, Action.SUCCEEDED, None),
    ("301 not followed", 301, ErrorKind.REDIRECT, None, 1, 0.0, Action.RETRY, 5 * S),
    ("302 not followed", 302, ErrorKind.REDIRECT, None, 2, 0.0, Action.RETRY, 5 * M),
    ("400", 400, HTTP, None, 1, 0.0, Action.RETRY, 5 * S),
    ("404", 404, HTTP, None, 3, 0.0, Action.RETRY, 30 * M),
    ("410 disables", 410, HTTP, None, 1, 0.0, Action.DISABLE, None),
    ("410 on the last attempt", 410, HTTP, None, 8, 0.0, Action.DISABLE, None),
    ("429", 429, HTTP, None, 2, 0.0, Action.RETRY, 5 * M),
    ("429 Retry-After 1 clamped up", 429, HTTP, "1", 2, 0.0, Action.RETRY, 5 * M),
    ("429 Retry-After 420 kept", 429, HTTP, "420", 2, 0.0, Action.RETRY, 7 * M),
    ("429 Retry-After 100000 clamped", 429, HTTP, "100000", 2, 0.0, Action.RETRY, 10 * M),
    ("429 Retry-After huge", 429, HTTP, "9" * 40, 2, 0.0, Action.RETRY, 10 * M),
    (
        "429 Retry-After HTTP-date",
        429,
        HTTP,
        format_datetime(NOW + 8 * M, usegmt=True),
        2,
        0.0,
        Action.RETRY,
        8 * M,
    ),
    ("429 Retry-After ignores jitter", 429, HTTP, "420", 2, 1.0, Action.RETRY, 7 * M),
    ("429 Retry-After garbage", 429, HTTP, "soon", 2, 0.0, Action.RETRY, 5 * M),
    ("500", 500, HTTP, None, 1, 0.0, Action.RETRY, 5 * S),
    ("500 Retry-After not honoured", 500, HTTP, "420", 2, 0.0, Action.RETRY, 5 * M),
    ("503", 503, HTTP, None, 4, 0.0, Action.RETRY, 2 * 60 * M),
    ("503 Retry-After", 503, HTTP, "3000", 3, 0.0, Action.RETRY, 50 * M),
    ("timeout", None, ErrorKind.TIMEOUT, None, 5, 0.0, Action.RETRY, 5 * 60 * M),
    ("connection refused", None, ErrorKind.CONNECT, None, 6, 0.0, Action.RETRY, 10 * 60 * M),
    ("dns", None, ErrorKind.DNS, None, 7, 0.0, Action.RETRY, 10 * 60 * M),
    ("blocked never retried", None, ErrorKind.BLOCKED, None, 1, 0.0, Action.FAIL, None),
    ("too large", 200, ErrorKind.TOO_LARGE, None, 1, 0.0, Action.RETRY, 5 * S),
    ("last attempt fails", 500, HTTP, None, 8, 0.0, Action.FAIL, None),
    ("past the last attempt", None, ErrorKind.TIMEOUT, None, 9, 0.0, Action.FAIL, None),
    ("last attempt succeeds", 200, None, None, 8, 0.0, Action.SUCCEEDED, None),
    ("jitter -1", 500, HTTP, None, 1, -1.0, Action.RETRY, 4 * S),
    ("jitter +1", 500, HTTP, None, 1, 1.0, Action.RETRY, 6 * S),
    ("jitter +1 long", None, ErrorKind.TIMEOUT, None, 7, 1.0, Action.RETRY, 12 * 60 * M),
    ("jitter -0.5", 500, HTTP, None, 3, -0.5, Action.RETRY, 27 * M),
]


@pytest.mark.parametrize(
    ("status", "kind", "retry_after", "attempt", "draw", "action", "delay"),
    [pytest.param(*row[1:], id=row[0]) for row in ROWS],
)
def test_classify(
    status: int | None,
    kind: ErrorKind | None,
    retry_after: str | None,
    attempt: int,
    draw: float,
    action: Action,
    delay: timedelta | None,
) -> None:
    decision = classify(
        status=status, error_kind=kind, retry_after=retry_after, attempt=attempt, now=NOW, draw=draw
    )
    assert (decision.action, decision.delay) == (action, delay)
    assert decision.reason


def test_default_schedule_is_eight_attempts_over_about_27_6_hours() -> None:
    assert len(DEFAULT_RETRY_SCHEDULE) + 1 == 8
    hours = sum(DEFAULT_RETRY_SCHEDULE, timedelta()) / timedelta(hours=1)
    assert hours == pytest.approx(27.6, 0.01)


def test_exhausted_reason_names_the_attempts() -> None:
    decision = classify(status=500, error_kind=HTTP, retry_after=None, attempt=8, now=NOW)
    assert decision == Decision(
        Action.FAIL, "HTTP 500; retry schedule exhausted after 8 attempts", None
    )


def test_custom_schedule_and_jitter() -> None:
    schedule = [timedelta(seconds=10), timedelta(seconds=20)]
    first = classify(
        status=None,
        error_kind=ErrorKind.CONNECT,
        retry_after=None,
        attempt=2,
        now=NOW,
        schedule=schedule,
        jitter=0.5,
        draw=-1.0,
    )
    assert first.delay == timedelta(seconds=10)
    last = classify(
        status=None,
        error_kind=ErrorKind.CONNECT,
        retry_after=None,
        attempt=3,
        now=NOW,
        schedule=schedule,
    )
    assert last.action is Action.FAIL
    assert "after 3 attempts" in last.reason


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"status": 500, "error_kind": HTTP, "attempt": 0}, "attempt"),
        ({"status": 500, "error_kind": HTTP, "attempt": 1, "draw": 1.5}, "draw"),
        ({"status": None, "error_kind": None, "attempt": 1}, "status"),
    ],
)
def test_impossible_arguments_refused(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        classify(retry_after=None, now=NOW, **kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, None),
        ("0", timedelta(0)),
        (" 120 ", timedelta(seconds=120)),
        ("Fri, 01 Mar 2024 12:02:00 GMT", timedelta(minutes=2)),
        ("Fri, 01 Mar 2024 11:00:00 GMT", timedelta(0)),  # in the past: no wait
        ("Fri, 01 Mar 2024 12:00:30 -0000", timedelta(seconds=30)),
        ("-5", None),
        ("1.5", None),
        ("", None),
        ("tomorrow", None),
        ("Fri, 99 Foo 2024 12:02:00 GMT", None),
    ],
)
def test_parse_retry_after(value: str | None, expected: timedelta | None) -> None:
    assert parse_retry_after(value, NOW) == expected
