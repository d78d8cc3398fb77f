"""``DispatchWorkflow``: a long-lived dispatcher that delivers emitted events in batches."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError

with workflow.unsafe.imports_passed_through():
    from activities.delivery import DeliveryActivities
    from client.ids import dispatch_task_queue, retry_workflow_id
    from models.delivery import (
        DeliverBatchInput,
        DispatchInput,
        Event,
        PublishInput,
        RetryDeliveryInput,
    )
    from models.search import delivery_attributes

from workflows.attempt import heartbeating
from workflows.retry import RetryWorkflow

#: Events one batch activity takes: its first attempts run concurrently.
BATCH_SIZE = 200
#: Events a new run's input carries at most when continuing as new (payloads under 2 MB).
CARRIED_AT_MOST = BATCH_SIZE
#: Batch activities in flight at once per dispatcher.
BATCHES_IN_FLIGHT = 4
#: Events queued behind a batch in flight that start another one beside it (0.6). Fewer wait
#: for the one in flight (``FILL_WAIT`` at most) and go together then: a steady flow of events
#: (a burst of renewals) is taken in a few large batches instead of many of one or two, each
#: a store transaction and an activity; an idle dispatcher sends an event at once.
FILL = 50
#: How long events held behind a batch in flight wait for it at most: a request may take the
#: whole request timeout (15 s), and a slow receiver must not hold the other events back.
FILL_WAIT = timedelta(seconds=2)
#: A dispatcher fills its batches (``FILL``, ``FILL_WAIT``) since 0.6; a run started before
#: replays without.
FILL_BATCHES = "billhook-0.6-fill-batches"
#: A batch's requests run concurrently, each bounded by the request timeout (15 s), queued per
#: endpoint behind its concurrency limit; heartbeats, not this, detect a dead worker.
BATCH_TIMEOUT = timedelta(minutes=30)
#: A batch is retried until the store answers again: an emitted event is never dropped.
BATCH_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(seconds=30),
)


@workflow.defn
class DispatchWorkflow:
    """Id ``dispatch-<task queue>-<shard>``; receives events by signal and never ends.

    Emitters signal-with-start it (``client.publisher.Publisher``), so an event is durable in
    its history as soon as the signal is accepted. Events are taken in batches of up to
    ``BATCH_SIZE``: at once when no batch is in flight, else when one is done, ``FILL`` events
    wait or they have waited ``FILL_WAIT`` (``BATCHES_IN_FLIGHT`` at most). A batch activity
    makes every first attempt, and each delivery whose first attempt failed goes on to a
    ``RetryWorkflow`` of its own. The run continues as new when Temporal suggests it and the
    backlog is small, carrying the events not yet sent.

    It runs on the dispatch task queue of ``input.task_queue`` (``dispatch_task_queue``), its
    retries on ``input.task_queue`` itself. A dispatcher started before 0.6 on the main queue
    moves to the dispatch queue when it continues as new.
    """

    @workflow.init
    def __init__(self, input: DispatchInput) -> None:
        self.task_queue = input.task_queue
        self.pending: list[Event] = list(input.pending)
        self.queued = {event.message_id for event in self.pending}
        self.batches = input.batches
        self.in_flight = 0
        #: Whether this run fills its batches (``FILL_BATCHES``), asked as it starts.
        self.fills = False
        #: Events have waited ``FILL_WAIT`` behind the batches in flight: the next one starts.
        self.overdue = False

    @workflow.signal
    def publish(self, input: PublishInput) -> None:
        """Queue events for delivery; one already queued is not queued twice."""
        for event in input.events:
            if event.message_id not in self.queued:
                self.queued.add(event.message_id)
                self.pending.append(event)

    @workflow.run
    async def run(self, input: DispatchInput) -> None:
        running: set[asyncio.Task[None]] = set()
        self.fills = workflow.patched(FILL_BATCHES)
        while True:
            await self._until_batch_due()
            if self._should_continue():
                # No new batch while the ones in flight finish: their retries must start in
                # this run. Should the backlog outgrow what a new run's input may carry,
                # dispatch goes on and the next quiet moment is taken instead.
                await workflow.wait_condition(
                    lambda: self.in_flight == 0 or len(self.pending) > CARRIED_AT_MOST
                )
                if self.in_flight == 0 and len(self.pending) <= CARRIED_AT_MOST:
                    await workflow.wait_condition(workflow.all_handlers_finished)
                    workflow.continue_as_new(
                        input.model_copy(update={"pending": self.pending, "batches": self.batches}),
                        task_queue=dispatch_task_queue(self.task_queue),
                    )
                if not self._batch_due():
                    continue
            batch, self.pending = self.pending[:BATCH_SIZE], self.pending[BATCH_SIZE:]
            self.queued.difference_update(event.message_id for event in batch)
            self.batches += 1
            self.in_flight += 1
            self.overdue = False
            # Unique for good: the first run's id survives continue-as-new.
            batch_id = f"{workflow.info().first_execution_run_id}:{self.batches}"
            task = asyncio.create_task(self._deliver(batch, batch_id))
            running.add(task)
            task.add_done_callback(running.discard)

    async def _until_batch_due(self) -> None:
        """Wait until a batch is due (``_batch_due``) or continuing as new is.

        Events held behind a batch in flight wait for it ``FILL_WAIT`` at most (one timer, which
        the batch's end cancels), then go in a batch beside it.
        """

        def ready() -> bool:
            return self._batch_due() or self._should_continue()

        await workflow.wait_condition(lambda: self._can_start() or self._should_continue())
        if ready():
            return
        try:
            await workflow.wait_condition(ready, timeout=FILL_WAIT)
        except TimeoutError:
            self.overdue = True  # due now: a batch can start, as one could when held

    def _batch_due(self) -> bool:
        """Whether to start a batch now: none is in flight, or enough events wait beside those
        that are, or they have waited long enough."""
        if not self._can_start():
            return False
        return self.in_flight == 0 or len(self.pending) >= FILL or self.overdue or not self.fills

    def _can_start(self) -> bool:
        """Whether events wait and a batch slot is free (a batch may be due, or filling)."""
        return bool(self.pending) and self.in_flight < BATCHES_IN_FLIGHT

    def _should_continue(self) -> bool:
        # Not with a large backlog: the new run's input carries it, within a payload's limit.
        suggested = workflow.info().is_continue_as_new_suggested()
        return suggested and len(self.pending) <= CARRIED_AT_MOST

    async def _deliver(self, batch: list[Event], batch_id: str) -> None:
        try:
            input = DeliverBatchInput(batch_id=batch_id, events=batch)
            result = await heartbeating(
                DeliveryActivities.deliver_batch, input, BATCH_TIMEOUT, BATCH_RETRY
            )
            # Counted as in flight until every retry has started: continuing as new before
            # would lose them.
            await asyncio.gather(*(self._start_retries(retry) for retry in result.retries))
        finally:
            self.in_flight -= 1

    async def _start_retries(self, retry: RetryDeliveryInput) -> None:
        try:
            # Abandoned: a delivery's retries outlive this run, continue-as-new included.
            await workflow.start_child_workflow(
                RetryWorkflow.run,
                retry,
                id=retry_workflow_id(retry.message_id, retry.endpoint_id),
                task_queue=self.task_queue,
                parent_close_policy=workflow.ParentClosePolicy.ABANDON,
                id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
                search_attributes=delivery_attributes(
                    retry.event_type.value, retry.endpoint_id, retry.search
                ),
            )
        except WorkflowAlreadyStartedError:
            workflow.logger.info("retries of %s already started", retry.message_id)
