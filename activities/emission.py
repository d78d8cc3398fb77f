"""``EmitActivities``: how a workflow hands an event to its dispatcher (``workflows.emit``)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence

from temporalio import activity

from models.delivery import Event, PublishInput

#: Signals events to their dispatchers and returns once Temporal accepted them.
Publish = Callable[[Sequence[Event]], Awaitable[None]]


class EmitActivities:
    """Built in ``worker.py`` with the process's ``temporal_client.Publisher``."""

    def __init__(self, publish: Publish) -> None:
        self._publish = publish

    @activity.defn
    async def publish_events(self, input: PublishInput) -> None:
        """Signal-with-start the events' dispatchers; done once Temporal holds the events.

        Run as a local activity: concurrent emissions of the worker's workflows are coalesced
        into one signal per dispatcher, and a retried one is harmless (the dispatcher and the
        store ignore an event already emitted).
        """
        await self._publish(input.events)
