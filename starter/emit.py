"""The Temporal side of ``billhook trigger``: publish an event to its dispatcher and watch it.

Imported only by ``trigger``'s handler, since Temporal and the workflows are slow to load.
"""

from __future__ import annotations

import asyncio

from config import Settings
from errors import NotFound
from models.delivery import DeliveryStatus, DeliveryWorkflowResult, Event
from starter.runtime import Progress
from starter.temporal import temporal
from store import Store
from store.tables import Delivery
from temporal_client import Publisher

#: How often the store is read for progress while the deliveries run.
POLL_SECONDS = 0.2


async def emit_and_wait(
    settings: Settings, store: Store, input: Event, wait: float
) -> DeliveryWorkflowResult | None:
    """Emit the event and wait up to ``wait`` seconds for every endpoint's outcome.

    Returns:
        The outcome, or None when it is not done in time (what to do next is printed).
    """
    async with temporal(settings) as client:
        publisher = Publisher(client, settings.task_queue, settings.delivery_shards)
        await publisher.publish([input])
        print(f"emitted {input.event_type.value} as {input.message_id}", flush=True)
        watcher = _Watcher(store, input.message_id)
        try:
            async with asyncio.timeout(wait):
                return await watcher.settled()
        except TimeoutError:
            watcher.progress.done()  # end the status line before the explanation
            _print_still_running(input.message_id, watcher.planned, settings.task_queue)
            return None
        finally:
            watcher.progress.done()


class _Watcher:
    """Shows on stderr how far the deliveries got, from the store."""

    def __init__(self, store: Store, message_id: str) -> None:
        self.store = store
        self.message_id = message_id
        self.progress = Progress()
        #: Whether the worker stored the message and its deliveries; None until first asked.
        self.planned: bool | None = None

    async def settled(self) -> DeliveryWorkflowResult:
        """Every endpoint's outcome, once none is pending (the store read every 0.2 s)."""
        while True:
            if (result := await self.poll()) is not None:
                return result
            await asyncio.sleep(POLL_SECONDS)

    async def poll(self) -> DeliveryWorkflowResult | None:
        """Show progress; every endpoint's outcome once none is pending."""
        deliveries = await asyncio.to_thread(self._deliveries)
        self.planned = deliveries is not None
        if deliveries is None:
            self.progress.update("waiting for a worker to pick it up...")
            return None
        settled = sum(d.status != DeliveryStatus.PENDING for d in deliveries)
        self.progress.update(f"delivering to {len(deliveries)} endpoint(s): {settled} settled")
        if settled < len(deliveries):
            return None
        return DeliveryWorkflowResult(
            statuses={d.endpoint_id: DeliveryStatus(d.status) for d in deliveries}
        )

    def _deliveries(self) -> list[Delivery] | None:
        try:
            self.store.get_message(self.message_id)
        except NotFound:
            return None  # not stored yet: no worker has run the workflow's first activity
        return self.store.deliveries_for_message(self.message_id)


def _print_still_running(message_id: str, planned: bool | None, task_queue: str) -> None:
    if planned is False:
        print(f"no worker has picked up {message_id} yet: is `make run` up?")
        print(f"it is delivered once a worker polls task queue {task_queue!r}")
        return
    print(f"{message_id} is still being delivered (failed attempts are retried); follow it with")
    print(f"  billhook message show {message_id}")
