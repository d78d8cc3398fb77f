"""What to do after one HTTP attempt: succeed, retry after a delay, fail, or disable (delivery.md).

``classify`` is pure: the caller passes the clock (``now``) and the random jitter draw, so the
whole retry policy is tested as a table.
"""

from __future__ import annotations

import email.utils
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from config import DEFAULT_RETRY_JITTER, DEFAULT_RETRY_SCHEDULE
from models.delivery import ErrorKind

#: Statuses whose ``Retry-After`` is honoured (within bounds), as the spec says.
_RETRY_AFTER_STATUSES = frozenset({429, 503})
_DELTA_SECONDS = re.compile(r"[0-9]+")
#: Far beyond any clamp bound, and small enough that ``timedelta`` never overflows.
_MAX_RETRY_AFTER_SECONDS = 10**9


class Action(StrEnum):
    """What the delivery does after an attempt."""

    SUCCEEDED = "succeeded"
    RETRY = "retry"  # schedule another attempt after ``Decision.delay``
    FAIL = "fail"  # stop: the schedule is exhausted or the failure is not retryable
    DISABLE = "disable"  # 410 Gone: disable the endpoint and stop


@dataclass(frozen=True, slots=True)
class Decision:
    """The classification of one attempt.

    Attributes:
        action: what to do next.
        delay: how long to wait before the next attempt; set for ``RETRY`` only.
        reason: a short, human-readable explanation for logs and the attempt record.
    """

    action: Action
    reason: str
    delay: timedelta | None = None


def parse_retry_after(value: str | None, now: datetime) -> timedelta | None:
    """The wait a ``Retry-After`` header asks for, or None when absent or unparseable.

    Args:
        value: delta-seconds (``"120"``) or an HTTP-date (``"Wed, 21 Oct 2015 07:28:00 GMT"``).
        now: the aware time the response arrived; an HTTP-date is taken relative to it, and a
            date in the past means no wait.
    """
    if value is None:
        return None
    value = value.strip()
    if _DELTA_SECONDS.fullmatch(value):
        return timedelta(seconds=min(int(value), _MAX_RETRY_AFTER_SECONDS))
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        # RFC 5322's "-0000" parses naive; HTTP-dates are always GMT.
        when = when.replace(tzinfo=UTC)
    return max(when - now, timedelta(0))


def classify(
    *,
    status: int | None,
    error_kind: ErrorKind | None,
    retry_after: str | None,
    attempt: int,
    now: datetime,
    schedule: Sequence[timedelta] = DEFAULT_RETRY_SCHEDULE,
    jitter: float = DEFAULT_RETRY_JITTER,
    draw: float = 0.0,
) -> Decision:
    """Classify one attempt's outcome.

    Args:
        status: the response status, or None when no response arrived.
        error_kind: why the attempt failed, or None when a response arrived.
        retry_after: the response's ``Retry-After`` header, if any.
        attempt: this attempt's number, 1-based.
        now: the aware time of the attempt, for an HTTP-date ``Retry-After``.
        schedule: the delays after attempt 1, 2, ...; ``len(schedule) + 1`` attempts in all.
        jitter: the jitter fraction: a delay varies by up to ± this share.
        draw: a random number in [-1, 1] (``random.uniform(-1, 1)``) scaling the jitter.

    Raises:
        ValueError: an attempt below 1, a draw outside [-1, 1], or neither status nor error.
    """
    _check(status, error_kind, attempt, draw)
    if error_kind is ErrorKind.BLOCKED:
        return Decision(Action.FAIL, "destination blocked; not retried")
    if status == 410:
        return Decision(Action.DISABLE, "410 Gone: the receiver asked to stop")
    if error_kind is None and status is not None and 200 <= status < 300:
        return Decision(Action.SUCCEEDED, f"HTTP {status}")
    failure = _failure(status, error_kind)
    if attempt > len(schedule):
        exhausted = f"retry schedule exhausted after {len(schedule) + 1} attempts"
        return Decision(Action.FAIL, f"{failure}; {exhausted}")
    scheduled = schedule[attempt - 1]
    wanted = parse_retry_after(retry_after, now) if status in _RETRY_AFTER_STATUSES else None
    if wanted is not None:
        # Honour the receiver within [scheduled, 2 x scheduled]: it may slow us, not stall us.
        delay = min(max(wanted, scheduled), 2 * scheduled)
        return Decision(Action.RETRY, f"{failure}; Retry-After honoured", delay)
    # Jitter spreads retries out, so an outage's backlog does not return all at once.
    return Decision(Action.RETRY, f"{failure}; scheduled retry", scheduled * (1 + jitter * draw))


def _check(status: int | None, error_kind: ErrorKind | None, attempt: int, draw: float) -> None:
    """Refuse arguments no attempt can have (a caller's bug, not a receiver's)."""
    if attempt < 1:
        raise ValueError(f"attempt numbers start at 1, got {attempt}")
    if not -1.0 <= draw <= 1.0:
        raise ValueError(f"the jitter draw must be in [-1, 1], got {draw}")
    if status is None and error_kind is None:
        raise ValueError("an attempt has a response status, an error kind, or both")


def _failure(status: int | None, error_kind: ErrorKind | None) -> str:
    """A short description of a failed attempt, e.g. ``HTTP 503`` or ``timeout``."""
    if error_kind in (None, ErrorKind.HTTP_STATUS, ErrorKind.REDIRECT) and status is not None:
        return f"HTTP {status}"
    kind = error_kind.value if error_kind else "error"
    return f"{kind} (HTTP {status})" if status is not None else kind
