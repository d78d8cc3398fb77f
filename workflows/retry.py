"""``RetryWorkflow``: the retries of one delivery whose first attempt failed."""

from __future__ import annotations

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from models.delivery import DeliveryStatus, RetryDeliveryInput

from workflows.attempt import deliver_or_fail
from workflows.policies import ATTEMPT_RETRY


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
        return await deliver_or_fail(input.message_id, input.endpoint_id, ATTEMPT_RETRY)
