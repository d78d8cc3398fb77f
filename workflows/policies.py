"""The timeouts and retry policies every billhook workflow shares.

A module of constants only, passed through the workflow sandbox (``worker.PASSTHROUGH``) with
``workflows.emit`` and ``workflows.versions``: loaded once per process, not once per run.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio.common import RetryPolicy

#: Store calls retry until the database answers: an emitted event must never be dropped.
STORE_TIMEOUT = timedelta(seconds=30)
STORE_RETRY = RetryPolicy(maximum_interval=timedelta(minutes=1))
#: One HTTP attempt is bounded by the request timeout (15 s); this covers it and the store writes.
ATTEMPT_TIMEOUT = timedelta(seconds=60)
#: A delivery activity heartbeats every second: a dead worker's attempt is retried this soon. Not
#: less: on a saturated machine a busy event loop can miss a few seconds of heartbeats.
HEARTBEAT_TIMEOUT = timedelta(seconds=10)
#: Retries of an attempt whose worker died or whose store write failed: soon, and for good. A
#: failed request sets its own delay (``next_retry_delay``); the store decides when to stop.
ATTEMPT_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(minutes=1),
)
