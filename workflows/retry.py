"""``RetryWorkflow``: the retries of one delivery whose first attempt failed."""

from __future__ import annotations

from temporalio import workflow
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from activities.delivery import DeliveryActivities
    from models.delivery import (
        DeliverInput,
        DeliveryStatus,
        FailDeliveryInput,
        RetryDeliveryInput,
    )

from workflows.policies import (
    ATTEMPT_RETRY,
    ATTEMPT_TIMEOUT,
    HEARTBEAT_TIMEOUT,
    STORE_RETRY,
    STORE_TIMEOUT,
)


@workflow.defn
class RetryWorkflow:
    """Id ``retry-<message id>-<endpoint id>``; in the Web UI by ``EventType``, ``EndpointId``,
    ``CustomerId``, ``SubscriptionId`` and ``InvoiceId``.

    Sleeps until the next attempt is due, then runs the delivery activity, which makes one
    attempt per run and asks Temporal for the next one after the schedule's delay. The store
    decides when the schedule is spent, so attempt numbers and the schedule's place survive
    worker crashes, and a recorded success ends the retries.
    """

    @workflow.run
    async def run(self, input: RetryDeliveryInput) -> DeliveryStatus:
        wait = input.not_before - workflow.now()
        if wait.total_seconds() > 0:
            await workflow.sleep(wait)
        try:
            result = await workflow.execute_activity_method(
                DeliveryActivities.deliver_message,
                DeliverInput(message_id=input.message_id, endpoint_id=input.endpoint_id),
                start_to_close_timeout=ATTEMPT_TIMEOUT,
                heartbeat_timeout=HEARTBEAT_TIMEOUT,
                retry_policy=ATTEMPT_RETRY,
            )
            return result.status
        except ActivityError:
            # A non-retryable failure (the message or endpoint was deleted): say it failed.
            await workflow.execute_activity_method(
                DeliveryActivities.fail_delivery,
                FailDeliveryInput(message_id=input.message_id, endpoint_id=input.endpoint_id),
                start_to_close_timeout=STORE_TIMEOUT,
                retry_policy=STORE_RETRY,
            )
            return DeliveryStatus.FAILED
