"""``ManualDeliveryWorkflow``: resend messages to one endpoint as manual attempts."""

from __future__ import annotations

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from activities.delivery import DeliveryActivities
    from models.delivery import (
        AttemptTrigger,
        DeliverInput,
        DeliveryStatus,
        ManualDeliveryInput,
        ManualDeliveryProgress,
    )
    from models.search import ENDPOINT_ID

from workflows.attempt import heartbeating
from workflows.policies import ATTEMPT_TIMEOUT


@workflow.defn
class ManualDeliveryWorkflow:
    """One manual attempt per message, in order (``message resend``, ``endpoint recover``).

    A manual attempt is made once and not retried on the schedule, like Svix's resend: its
    ``attempt`` continues the count kept in the store. Long recoveries continue as new.
    """

    def __init__(self) -> None:
        self._progress = ManualDeliveryProgress()

    @workflow.run
    async def run(self, input: ManualDeliveryInput) -> ManualDeliveryProgress:
        workflow.upsert_search_attributes([ENDPOINT_ID.value_set(input.endpoint_id)])
        self._progress = input.progress.model_copy()
        self._progress.total = self._progress.total or len(input.message_ids)
        for index, message_id in enumerate(input.message_ids):
            if workflow.info().is_continue_as_new_suggested():
                workflow.continue_as_new(
                    input.model_copy(
                        update={
                            "message_ids": input.message_ids[index:],
                            "progress": self._progress,
                        }
                    )
                )
            self._progress.count(await self._resend(message_id, input.endpoint_id))
        return self._progress

    async def _resend(self, message_id: str, endpoint_id: str) -> DeliveryStatus:
        try:
            result = await heartbeating(
                DeliveryActivities.deliver_message,
                DeliverInput(
                    message_id=message_id, endpoint_id=endpoint_id, trigger=AttemptTrigger.MANUAL
                ),
                ATTEMPT_TIMEOUT,
                RetryPolicy(maximum_attempts=1),
            )
        except ActivityError:
            # Its worker died mid-attempt (or the message is gone): made once, it counts as
            # failed; the attempt log shows it interrupted once the next attempt finds it.
            return DeliveryStatus.FAILED
        return result.status

    @workflow.query
    def progress(self) -> ManualDeliveryProgress:
        """How many messages were resent so far, by outcome."""
        return self._progress
