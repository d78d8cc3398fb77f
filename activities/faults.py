"""Failpoints: where the crash tests kill a worker, named points of a delivery attempt.

``BILLHOOK_FAILPOINTS=attempt.before_post`` (or ``attempt.after_post``) makes the worker process
kill itself with SIGKILL when a delivery reaches that point: after the attempt is recorded in
flight and before its request is sent, or after the response and before it is recorded. The
crash tests (``tests/crash``) start a worker so, kill it there, and check what a receiver and
the attempt log saw. Unset, as in every deployment, a failpoint is one set lookup.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Collection

BEFORE_POST = "attempt.before_post"
AFTER_POST = "attempt.after_post"
POINTS = (BEFORE_POST, AFTER_POST)


def reach(armed: Collection[str], point: str) -> None:
    """Kill this process at once (no cleanup, as a crash would) when ``point`` is armed."""
    if point in armed:
        os.kill(os.getpid(), signal.SIGKILL)
