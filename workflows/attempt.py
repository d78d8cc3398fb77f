"""One delivery made by a workflow: attempts until one settles it, the store told if none does;
and ``heartbeating``, how every workflow runs a delivery activity.

A module of functions only, passed through the workflow sandbox (``worker.PASSTHROUGH``) like
``workflows.policies``; it issues the same commands the workflows issued themselves, so recorded
histories still replay.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any, TypeVar

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from activities.delivery import DeliveryActivities
    from models.delivery import DeliverInput, DeliveryStatus, FailDeliveryInput

from workflows.policies import ATTEMPT_TIMEOUT, HEARTBEAT_TIMEOUT, STORE_RETRY, STORE_TIMEOUT

A = TypeVar("A")
R = TypeVar("R")


async def heartbeating(
    activity: Callable[[Any, A], Awaitable[R]], arg: A, limit: timedelta, policy: RetryPolicy
) -> R:
    """Run a delivery activity: it heartbeats, so a dead worker's attempt is retried soon."""
    return await workflow.execute_activity_method(
        activity,
        arg,
        start_to_close_timeout=limit,
        heartbeat_timeout=HEARTBEAT_TIMEOUT,
        retry_policy=policy,
    )


async def deliver_or_fail(message_id: str, endpoint_id: str, policy: RetryPolicy) -> DeliveryStatus:
    """Run ``deliver_message`` under ``policy``; when Temporal gives up, record the failure.

    Temporal gives up when the schedule is exhausted, on a non-retryable failure (the message or
    endpoint was deleted), or after attempts that died without recording: the store must still
    say the delivery failed.
    """
    try:
        result = await heartbeating(
            DeliveryActivities.deliver_message,
            DeliverInput(message_id=message_id, endpoint_id=endpoint_id),
            ATTEMPT_TIMEOUT,
            policy,
        )
        return result.status
    except ActivityError:
        await workflow.execute_activity_method(
            DeliveryActivities.fail_delivery,
            FailDeliveryInput(message_id=message_id, endpoint_id=endpoint_id),
            start_to_close_timeout=STORE_TIMEOUT,
            retry_policy=STORE_RETRY,
        )
        return DeliveryStatus.FAILED
