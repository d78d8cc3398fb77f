"""``DeliveryWorkflow``: billhook 0.1's workflow per event, kept for events emitted before 0.2.

Events are now delivered in batches by ``DispatchWorkflow`` (``workflows.emit``); this workflow
stays registered so that deliveries started by an older release finish, and so that their
histories still replay.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from activities.delivery import DeliveryActivities
    from models.delivery import (
        DeliveryStatus,
        DeliveryWorkflowInput,
        DeliveryWorkflowResult,
        PlanDeliveriesInput,
    )
    from models.search import EVENT_TYPE, business_attributes

from workflows.attempt import deliver_or_fail
from workflows.policies import STORE_RETRY, STORE_TIMEOUT


def attempt_retry_policy(max_attempts: int) -> RetryPolicy:
    """Retries of one delivery: the activity sets each delay (``next_retry_delay``) itself.

    The intervals here only apply when an attempt dies without answering (worker crash,
    timeout); ``max_attempts`` bounds those too.
    """
    return RetryPolicy(
        initial_interval=timedelta(seconds=5),
        backoff_coefficient=4.0,
        maximum_interval=timedelta(hours=10),
        maximum_attempts=max_attempts,
    )


@workflow.defn
class DeliveryWorkflow:
    """Stores the message, then runs one retried delivery activity per subscribed endpoint."""

    @workflow.run
    async def run(self, input: DeliveryWorkflowInput) -> DeliveryWorkflowResult:
        workflow.upsert_search_attributes(
            [EVENT_TYPE.value_set(input.event_type.value), *business_attributes(input.search)]
        )
        plan = await workflow.execute_activity_method(
            DeliveryActivities.plan_deliveries,
            # The event but its search keys: the message as the store keeps it.
            PlanDeliveriesInput(**input.model_dump(exclude={"search"})),
            start_to_close_timeout=STORE_TIMEOUT,
            retry_policy=STORE_RETRY,
        )
        policy = attempt_retry_policy(plan.max_attempts)
        outcomes = await asyncio.gather(
            *(deliver_or_fail(input.message_id, eid, policy) for eid in plan.endpoint_ids)
        )
        statuses = dict(zip(plan.endpoint_ids, outcomes, strict=True))
        statuses.update({eid: DeliveryStatus.SKIPPED for eid in plan.skipped_endpoint_ids})
        return DeliveryWorkflowResult(statuses=statuses)
