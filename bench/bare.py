"""The bare-engine renewal pattern, the baseline of ``bench/renewals.py``.

What a team would write on Temporal with no billing logic at all: a workflow per subscription
sleeps on a timer until its period ends, starts a child workflow, whose one activity signs and
POSTs a webhook, then continues as new for the next period. No store, no invoice, one request
per renewal (billhook sends two: ``subscription.renewed`` and ``invoice.created``).
"""

from __future__ import annotations

import time
from datetime import datetime, timedelta

from pydantic import BaseModel
from temporalio import activity, workflow

with workflow.unsafe.imports_passed_through():
    import httpx

    from models.events import envelope_body
    from models.signing import webhook_headers


class BareInput(BaseModel):
    """A bare subscription: when its period ends, how long periods are, where renewals go."""

    subscription_id: str
    period_end: datetime
    period: timedelta
    url: str


class BarePost(BaseModel):
    """One renewal's webhook: the subscription, the period that ended, the receiver's URL."""

    subscription_id: str
    period_end: datetime
    url: str


class BareActivities:
    """The one side effect: a signed POST, over a shared keep-alive client."""

    def __init__(self, http: httpx.AsyncClient, secret: str) -> None:
        self.http = http
        self.secret = secret

    @activity.defn
    async def post_renewal(self, input: BarePost) -> None:
        body = envelope_body(
            attempt=activity.info().attempt,
            created_at=input.period_end,
            event_type="subscription.renewed",
            payload={"subscription_id": input.subscription_id},
        )
        message_id = f"msg_{input.subscription_id}{int(input.period_end.timestamp())}"
        headers = webhook_headers([self.secret], message_id, int(time.time()), body, "bare")
        response = await self.http.post(input.url, content=body, headers=headers)
        response.raise_for_status()


@workflow.defn
class BareRenewalWorkflow:
    """One renewal: its webhook posted by one activity."""

    @workflow.run
    async def run(self, input: BarePost) -> None:
        await workflow.execute_activity_method(
            BareActivities.post_renewal, input, start_to_close_timeout=timedelta(seconds=30)
        )


@workflow.defn
class BareSubscriptionWorkflow:
    """A subscription: sleeps until its period ends, renews, continues as new."""

    @workflow.run
    async def run(self, input: BareInput) -> None:
        await workflow.sleep(max(input.period_end - workflow.now(), timedelta(0)))
        await workflow.execute_child_workflow(
            BareRenewalWorkflow.run,
            BarePost(
                subscription_id=input.subscription_id,
                period_end=input.period_end,
                url=input.url,
            ),
            id=f"bare-renewal-{input.subscription_id}-{int(input.period_end.timestamp())}",
        )
        workflow.continue_as_new(
            input.model_copy(update={"period_end": input.period_end + input.period})
        )
