"""The wall clock of activities and commands: aware UTC, as the store requires.

Never for workflows: they take time from ``workflow.now()`` (the sandbox refuses ``datetime.now``).
"""

from __future__ import annotations

from datetime import UTC, datetime


def utcnow() -> datetime:
    """The current time, timezone-aware in UTC: the store refuses naive datetimes."""
    return datetime.now(UTC)
