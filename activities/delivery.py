"""``DeliveryActivities``: store the message, make one signed attempt, record it.

Retries belong to Temporal: ``deliver_message`` makes exactly one attempt and, when it should be
retried, raises an ``ApplicationError`` whose ``next_retry_delay`` is the spec's schedule with
jitter (or the receiver's ``Retry-After`` within bounds). Terminal outcomes (success, 410 Gone,
a blocked destination, the last scheduled attempt, a disabled endpoint) are returned, so the
workflow's result says what happened. Secrets are loaded here by endpoint id and never leave
this module: inputs and results carry ids only.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from datetime import UTC, datetime, timedelta

import httpx
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities import outcome, signing, transport
from activities.metrics import DeliveryMetrics, attempt_result
from config import Settings
from models.delivery import (
    AttemptTrigger,
    DeliverInput,
    DeliverResult,
    DeliveryStatus,
    DisabledReason,
    FailDeliveryInput,
    PlanDeliveriesInput,
    PlannedDeliveries,
)
from models.events import envelope_body
from store import Store
from store.store import DeliveryContext, NewAttempt

log = logging.getLogger(__name__)

USER_AGENT = "billhook/0.1 (+https://github.com/billhook/billhook)"

_STATUS_AFTER = {
    outcome.Action.SUCCEEDED: DeliveryStatus.SUCCEEDED,
    outcome.Action.RETRY: DeliveryStatus.PENDING,
    outcome.Action.FAIL: DeliveryStatus.FAILED,
    outcome.Action.DISABLE: DeliveryStatus.FAILED,
}


def utcnow() -> datetime:
    return datetime.now(UTC)


class DeliveryActivities:
    """Delivery's side effects, built once in ``worker.py`` with the process's resources."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        store: Store,
        settings: Settings,
        metrics: DeliveryMetrics | None = None,
    ) -> None:
        self.http = http
        self.store = store
        self.settings = settings
        self.metrics = metrics or DeliveryMetrics()

    @activity.defn
    def plan_deliveries(self, input: PlanDeliveriesInput) -> PlannedDeliveries:
        """Store the message and choose its endpoints: subscribed now; disabled ones skipped."""
        plan = self.store.plan_deliveries(
            message_id=input.message_id,
            event_type=input.event_type.value,
            business_key=input.business_key,
            payload=input.payload,
            created_at=input.created_at,
            now=utcnow(),
            max_attempts=self.settings.max_attempts,
        )
        if plan.skipped_endpoint_ids:
            self.metrics.delivery(input.event_type.value, "skipped", len(plan.skipped_endpoint_ids))
        return plan

    @activity.defn
    def fail_delivery(self, input: FailDeliveryInput) -> None:
        """Mark a delivery failed after Temporal gave up on it (no-op when already settled)."""
        self.store.settle_delivery(
            input.message_id, input.endpoint_id, DeliveryStatus.FAILED, utcnow()
        )
        # Rare (attempts that died without recording): worth a read for the event type label.
        self.metrics.delivery(self.store.get_message(input.message_id).event_type, "failed")

    @activity.defn
    async def deliver_message(self, input: DeliverInput) -> DeliverResult:
        """Make one signed attempt to one endpoint, record it, and return or ask for a retry."""
        info = activity.info()
        ctx = await asyncio.to_thread(
            self.store.delivery_context, input.message_id, input.endpoint_id, utcnow()
        )
        scheduled = input.trigger is AttemptTrigger.SCHEDULED
        number = info.attempt if scheduled else ctx.attempts_so_far + 1
        if not ctx.enabled:
            await asyncio.to_thread(
                self.store.settle_delivery,
                input.message_id,
                input.endpoint_id,
                DeliveryStatus.SKIPPED,
                utcnow(),
            )
            self.metrics.delivery(ctx.event_type, "skipped")
            return DeliverResult(status=DeliveryStatus.SKIPPED, attempt=number)
        # Temporal's start time of this attempt: the server's clock, which the time-skipping
        # test server advances, so recorded times follow the retry schedule in tests too.
        started_at = info.started_time if scheduled else utcnow()
        result = await self._post(ctx, number)
        decision = outcome.classify(
            status=result.status,
            error_kind=result.error_kind,
            retry_after=result.retry_after,
            # A manual attempt is made once: classified as the last one, it is never retried.
            attempt=number if scheduled else self.settings.max_attempts,
            schedule=self.settings.retry_schedule,
            jitter=self.settings.retry_jitter,
            draw=random.uniform(-1, 1),
            now=started_at,
        )
        return await self._record(input, ctx, number, started_at, result, decision)

    async def _post(self, ctx: DeliveryContext, number: int) -> transport.HttpOutcome:
        body = envelope_body(
            attempt=number,
            created_at=ctx.created_at,
            event_type=ctx.event_type,
            payload=ctx.payload,
        )
        # Signed afresh on every attempt: receivers reject timestamps older than 5 minutes.
        headers = signing.webhook_headers(
            ctx.secrets, ctx.message_id, int(time.time()), body, USER_AGENT
        )
        return await transport.post(
            self.http,
            ctx.url,
            body,
            headers,
            allowed=self.settings.allowed_networks,
            timeout=self.settings.request_timeout_seconds,
            max_bytes=self.settings.max_response_bytes,
            keep_bytes=self.settings.kept_response_bytes,
            allow_credentials=self.settings.environment == "development",
        )

    async def _record(
        self,
        input: DeliverInput,
        ctx: DeliveryContext,
        number: int,
        started_at: datetime,
        result: transport.HttpOutcome,
        decision: outcome.Decision,
    ) -> DeliverResult:
        retry = decision.action is outcome.Action.RETRY
        finished_at = started_at + timedelta(milliseconds=result.duration_ms)
        next_retry_at = finished_at + decision.delay if retry and decision.delay else None
        status = _STATUS_AFTER[decision.action]
        disabled = await asyncio.to_thread(
            self.store.record_attempt,
            NewAttempt(
                message_id=input.message_id,
                endpoint_id=input.endpoint_id,
                attempt=number,
                trigger=input.trigger,
                started_at=started_at,
                duration_ms=result.duration_ms,
                url=transport.redact_url(ctx.url),
                response_status=result.status,
                response_body=result.body,
                error_kind=result.error_kind,
                error=result.error,
                next_retry_at=next_retry_at,
            ),
            status,
            disable_after=self.settings.disable_after,
            disable_reason=DisabledReason.GONE
            if decision.action is outcome.Action.DISABLE
            else None,
        )
        log.info(
            "attempt %d of %s to %s: %s (%s)",
            number,
            input.message_id,
            input.endpoint_id,
            decision.action.value,
            decision.reason,
        )
        self._observe(input, ctx, result, decision, finished_at, disabled)
        if retry and not disabled:
            raise ApplicationError(
                f"attempt {number} to {transport.redact_url(ctx.url)} failed: {decision.reason}",
                type="DeliveryAttemptFailed",
                next_retry_delay=decision.delay,
            )
        if retry:
            # The endpoint was disabled by this failure (failing for days): stop here, so
            # `billhook endpoint recover` resends the message after it is re-enabled.
            await asyncio.to_thread(
                self.store.settle_delivery,
                input.message_id,
                input.endpoint_id,
                DeliveryStatus.FAILED,
                utcnow(),
            )
            status = DeliveryStatus.FAILED
        return DeliverResult(status=status, attempt=number, response_status=result.status)

    def _observe(
        self,
        input: DeliverInput,
        ctx: DeliveryContext,
        result: transport.HttpOutcome,
        decision: outcome.Decision,
        finished_at: datetime,
        disabled: bool,
    ) -> None:
        """Count the attempt and what it made of the delivery (no-ops when metrics are off)."""
        self.metrics.attempt(input.trigger, attempt_result(result.status, result.error_kind))
        if disabled:
            gone = decision.action is outcome.Action.DISABLE
            self.metrics.endpoint_disabled(DisabledReason.GONE if gone else DisabledReason.FAILING)
        if decision.action is outcome.Action.SUCCEEDED:
            self.metrics.delivery(ctx.event_type, "succeeded")
            self.metrics.latency(ctx.event_type, finished_at - ctx.created_at)
        elif decision.action is outcome.Action.RETRY and not disabled:
            self.metrics.delivery(ctx.event_type, "retrying")
        else:
            self.metrics.delivery(ctx.event_type, "failed")
