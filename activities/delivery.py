"""``DeliveryActivities``: first attempts in batches, then one attempt per activity run.

Every attempt is recorded ``in_flight`` before its request is sent and completed after
(``store.attempts``), so a worker killed at any point leaves a row, shown ``interrupted``; its
number comes from the store's counter, shared by scheduled and manual attempts.

``deliver_batch`` makes the first attempt of every delivery of a batch of events concurrently,
over the worker's keep-alive pool, with one store transaction before the requests and one after;
it returns the deliveries to retry, which ``DispatchWorkflow`` hands to a ``RetryWorkflow``
each. ``deliver_message`` makes exactly one attempt and, when it should be retried, raises an
``ApplicationError`` whose ``next_retry_delay`` is the schedule with jitter (or the receiver's
``Retry-After`` within bounds); such a failure is an expected outcome and is marked benign.
Both heartbeat, so a dead worker's attempt is noticed within seconds. Secrets are loaded here
by endpoint id and never leave this module: inputs and results carry ids only.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections import Counter
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import httpx
from temporalio import activity
from temporalio.exceptions import ApplicationError, ApplicationErrorCategory

from activities import faults, outcome, transport
from activities.metrics import DeliveryMetrics, attempt_result
from config import Settings
from errors import NotFound
from models.clock import utcnow
from models.delivery import (
    AttemptTrigger,
    DeliverBatchInput,
    DeliverBatchResult,
    DeliverInput,
    DeliverResult,
    DeliveryStatus,
    DisabledReason,
    Event,
    FailDeliveryInput,
    PlanDeliveriesInput,
    PlannedDeliveries,
    RetryDeliveryInput,
)
from models.events import envelope_body
from models.signing import webhook_headers
from models.urls import redact_url
from store import Store
from store.attempts import Claim, Deferred, Handoff, Settled
from store.outcomes import Finished

log = logging.getLogger(__name__)

USER_AGENT = "billhook/0.2 (+https://github.com/billhook/billhook)"
#: How often a running delivery activity tells Temporal it is alive (its timeout is 3 times it).
HEARTBEAT_EVERY = timedelta(seconds=1)

_STATUS_AFTER = {
    outcome.Action.SUCCEEDED: DeliveryStatus.SUCCEEDED,
    outcome.Action.RETRY: DeliveryStatus.PENDING,
    outcome.Action.FAIL: DeliveryStatus.FAILED,
    outcome.Action.DISABLE: DeliveryStatus.FAILED,
}


@dataclass(frozen=True)
class _Made:
    """One attempt made: its record and what to do next."""

    claim: Claim
    finished: Finished
    result: transport.HttpOutcome
    decision: outcome.Decision


@contextlib.asynccontextmanager
async def heartbeating() -> AsyncIterator[None]:
    """Heartbeat every ``HEARTBEAT_EVERY`` while the block runs (requests in flight)."""

    async def beat() -> None:
        while True:
            activity.heartbeat()
            await asyncio.sleep(HEARTBEAT_EVERY.total_seconds())

    task = asyncio.create_task(beat())
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


class DeliveryActivities:
    """Delivery's side effects, built once in ``worker.py`` with the process's resources."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        store: Store,
        settings: Settings,
        metrics: DeliveryMetrics | None = None,
    ) -> None:
        self.http, self.store, self.settings = http, store, settings
        self.metrics = metrics or DeliveryMetrics()
        # Per endpoint, across every batch and retry this worker runs at once.
        self._limits: dict[str, asyncio.Semaphore] = {}

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
        try:
            self.store.settle_delivery(
                input.message_id, input.endpoint_id, DeliveryStatus.FAILED, utcnow()
            )
        except NotFound:
            return  # deleted with its endpoint: nothing left to settle
        # Rare (attempts that died without recording): worth a read for the event type label.
        self.metrics.delivery(self.store.get_message(input.message_id).event_type, "failed")

    @activity.defn
    async def deliver_batch(self, input: DeliverBatchInput) -> DeliverBatchResult:
        """First attempts of a batch of events; returns the deliveries to retry."""
        now = activity.info().started_time
        async with heartbeating():
            accepted = await asyncio.to_thread(
                self.store.accept_batch, input.batch_id, input.events, now, redact_url
            )
            made = await asyncio.gather(*(self._attempt(claim) for claim in accepted.claims))
            disabled = await self._finish([m.finished for m in made])
        events = {event.message_id: event for event in input.events}
        result = DeliverBatchResult(skipped=len(accepted.skipped), duplicates=accepted.duplicates)
        for m in made:
            self._observe(m, disabled)
            status = await self._settle_if_disabled(m, disabled)
            if status is DeliveryStatus.PENDING:
                result.retries.append(self._retry(events[m.claim.message_id], m))
            elif status is DeliveryStatus.SUCCEEDED:
                result.succeeded += 1
            else:
                result.failed += 1
        result.retries.extend(self._handoff(events[h.message_id], h) for h in accepted.handoffs)
        for event_type, count in Counter(accepted.skipped).items():
            self.metrics.delivery(event_type, "skipped", count)
        return result

    @activity.defn
    async def deliver_message(self, input: DeliverInput) -> DeliverResult:
        """Make one signed attempt to one endpoint, record it, and return or ask for a retry."""
        info = activity.info()
        scheduled = input.trigger is AttemptTrigger.SCHEDULED
        # Temporal's start time of this attempt: the server's clock, which the time-skipping
        # test server advances, so recorded times follow the retry schedule in tests too.
        now = info.started_time if scheduled else utcnow()
        try:
            claimed = await asyncio.to_thread(
                self.store.claim_attempt,
                input.message_id,
                input.endpoint_id,
                input.trigger,
                now,
                redact=redact_url,
                due_after_interrupt=self._due_after_interrupt,
                max_scheduled=self.settings.max_attempts,
                stale_after=ATTEMPT_STALE_AFTER,
            )
        except NotFound as err:
            # Deleted since (the endpoint, with its deliveries): retrying cannot bring it back.
            raise ApplicationError(str(err), type="NotFound", non_retryable=True) from err
        if isinstance(claimed, Settled):
            return DeliverResult(status=claimed.status, attempt=0)
        if isinstance(claimed, Deferred):
            # The previous attempt died mid-flight: the schedule's delay applies from its start.
            raise _retry_error(
                f"attempt {claimed.interrupted} of {input.message_id} was interrupted; "
                f"next attempt in {claimed.wait.total_seconds():.1f} s",
                claimed.wait,
            )
        async with heartbeating():
            made = await self._attempt(claimed)
            disabled = await self._finish([made.finished])
        self._observe(made, disabled)
        status = await self._settle_if_disabled(made, disabled)
        if status is DeliveryStatus.PENDING:
            raise _retry_error(
                f"attempt {claimed.attempt} to {redact_url(claimed.url)} failed: "
                f"{made.decision.reason}",
                made.decision.delay,
            )
        return DeliverResult(
            status=status, attempt=claimed.attempt, response_status=made.result.status
        )

    async def _attempt(self, claim: Claim) -> _Made:
        """POST one claimed attempt and classify its outcome (nothing is recorded here)."""
        limit = self._limits.get(claim.endpoint_id)
        if limit is None:
            limit = self._limits[claim.endpoint_id] = asyncio.Semaphore(
                self.settings.endpoint_concurrency
            )
        async with limit:
            faults.reach(self.settings.failpoints, faults.BEFORE_POST)
            result = await self._post(claim)
            faults.reach(self.settings.failpoints, faults.AFTER_POST)
        manual = claim.trigger is AttemptTrigger.MANUAL
        decision = outcome.classify(
            status=result.status,
            error_kind=result.error_kind,
            retry_after=result.retry_after,
            # A manual attempt is made once: classified as the last one, it is never retried.
            attempt=self.settings.max_attempts if manual else claim.scheduled_index,
            schedule=self.settings.retry_schedule,
            jitter=self.settings.retry_jitter,
            draw=random.uniform(-1, 1),
            now=claim.started_at,
        )
        retry = decision.action is outcome.Action.RETRY
        finished_at = claim.started_at + timedelta(milliseconds=result.duration_ms)
        status = _STATUS_AFTER[decision.action]
        finished = Finished(
            message_id=claim.message_id,
            endpoint_id=claim.endpoint_id,
            attempt=claim.attempt,
            status=status,
            duration_ms=result.duration_ms,
            response_status=result.status,
            response_body=result.body,
            error_kind=result.error_kind,
            error=result.error,
            next_retry_at=finished_at + decision.delay if retry and decision.delay else None,
            disable_reason=DisabledReason.GONE
            if decision.action is outcome.Action.DISABLE
            else None,
        )
        log.info(
            "attempt %d of %s to %s: %s (%s)",
            claim.attempt,
            claim.message_id,
            claim.endpoint_id,
            decision.action.value,
            decision.reason,
        )
        return _Made(claim, finished, result, decision)

    async def _post(self, claim: Claim) -> transport.HttpOutcome:
        body = envelope_body(
            attempt=claim.attempt,
            created_at=claim.created_at,
            event_type=claim.event_type,
            payload=claim.payload,
        )
        # Signed afresh on every attempt: receivers reject timestamps older than 5 minutes.
        headers = webhook_headers(
            claim.secrets, claim.message_id, int(time.time()), body, USER_AGENT
        )
        return await transport.post(
            self.http,
            claim.url,
            body,
            headers,
            allowed=self.settings.allowed_networks,
            timeout=self.settings.request_timeout_seconds,
            max_bytes=self.settings.max_response_bytes,
            keep_bytes=self.settings.kept_response_bytes,
            allow_credentials=self.settings.environment == "development",
        )

    async def _finish(self, finished: Sequence[Finished]) -> set[str]:
        return await asyncio.to_thread(
            self.store.finish_attempts, finished, disable_after=self.settings.disable_after
        )

    async def _settle_if_disabled(self, made: _Made, disabled: set[str]) -> DeliveryStatus:
        """The delivery's status after an attempt; a retry stops when its endpoint was disabled.

        An endpoint disabled by this failure (failing for days) stops here, so
        ``billhook endpoint recover`` resends the message after it is re-enabled.
        """
        status = made.finished.status
        if status is DeliveryStatus.PENDING and made.claim.endpoint_id in disabled:
            await asyncio.to_thread(
                self.store.settle_delivery,
                made.claim.message_id,
                made.claim.endpoint_id,
                DeliveryStatus.FAILED,
                utcnow(),
            )
            return DeliveryStatus.FAILED
        return status

    def _retry(self, event: Event, made: _Made) -> RetryDeliveryInput:
        assert made.finished.next_retry_at is not None  # set on every retried outcome
        return RetryDeliveryInput(
            message_id=event.message_id,
            endpoint_id=made.claim.endpoint_id,
            event_type=event.event_type,
            not_before=made.finished.next_retry_at,
            search=event.search,
        )

    def _handoff(self, event: Event, handoff: Handoff) -> RetryDeliveryInput:
        due = handoff.next_retry_at or self._due_after_interrupt(
            handoff.started_at, handoff.scheduled_index
        )
        return RetryDeliveryInput(
            message_id=event.message_id,
            endpoint_id=handoff.endpoint_id,
            event_type=event.event_type,
            not_before=due,
            search=event.search,
        )

    def _due_after_interrupt(self, started_at: datetime, index: int) -> datetime:
        """When the attempt after interrupted scheduled attempt ``index`` is due, with jitter."""
        schedule = self.settings.retry_schedule
        if index > len(schedule):
            return started_at
        jitter = self.settings.retry_jitter * random.uniform(-1, 1)
        return started_at + schedule[max(index, 1) - 1] * (1 + jitter)

    def _observe(self, made: _Made, disabled: set[str]) -> None:
        """Count the attempt and what it made of the delivery (no-ops when metrics are off)."""
        claim, result, decision = made.claim, made.result, made.decision
        self.metrics.attempt(claim.trigger, attempt_result(result.status, result.error_kind))
        is_disabled = claim.endpoint_id in disabled
        if is_disabled:
            gone = decision.action is outcome.Action.DISABLE
            self.metrics.endpoint_disabled(DisabledReason.GONE if gone else DisabledReason.FAILING)
        if decision.action is outcome.Action.SUCCEEDED:
            finished_at = claim.started_at + timedelta(milliseconds=result.duration_ms)
            self.metrics.delivery(claim.event_type, "succeeded")
            self.metrics.latency(claim.event_type, finished_at - claim.created_at)
        elif decision.action is outcome.Action.RETRY and not is_disabled:
            self.metrics.delivery(claim.event_type, "retrying")
        else:
            self.metrics.delivery(claim.event_type, "failed")


#: An attempt in flight for longer than Temporal lets a delivery activity run is dead.
ATTEMPT_STALE_AFTER = timedelta(seconds=60)


def _retry_error(message: str, delay: timedelta | None) -> ApplicationError:
    """Ask Temporal for the next attempt after ``delay``: an expected outcome, logged benign."""
    return ApplicationError(
        message,
        type="DeliveryAttemptFailed",
        next_retry_delay=delay,
        category=ApplicationErrorCategory.BENIGN,
    )
