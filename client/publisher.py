"""``Publisher``: emits events to their dispatchers, durably, concurrent emissions coalesced."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field

from temporalio.client import Client

from client.ids import dispatch_task_queue, dispatcher_workflow_id
from models.delivery import DispatchInput, Event, PublishInput, shard_of
from workflows.dispatch import DispatchWorkflow

#: Events one signal carries at most: well under Temporal's payload size limit.
EVENTS_PER_SIGNAL = 100


class Publisher:
    """Emits events: signal-with-start of their dispatchers, concurrent emissions coalesced.

    ``publish`` returns once Temporal accepted a signal carrying the events, so they are
    durable. While one signal to a dispatcher is on its way, the events emitted meanwhile wait
    and go together in the next one: no delay when idle, few signals under load. The worker
    shares one publisher among its workflows (``activities.emission``); the command line and
    applications use one of their own.
    """

    def __init__(self, client: Client, task_queue: str, shards: int) -> None:
        self.client = client
        self.task_queue = task_queue
        self.shards = shards
        self._lanes: dict[int, _Lane] = {}

    async def publish(self, events: Sequence[Event]) -> None:
        """Emit ``events``; an event already emitted is delivered once all the same."""
        by_shard: dict[int, list[Event]] = {}
        for event in events:
            by_shard.setdefault(shard_of(event, self.shards), []).append(event)
        await asyncio.gather(*(self._lane(s).send(evs) for s, evs in by_shard.items()))

    def _lane(self, shard: int) -> _Lane:
        if shard not in self._lanes:
            self._lanes[shard] = _Lane(self, shard)
        return self._lanes[shard]

    async def signal(self, shard: int, events: list[Event]) -> None:
        """One signal-with-start of dispatcher ``shard`` carrying ``events``."""
        await self.client.start_workflow(
            DispatchWorkflow.run,
            DispatchInput(task_queue=self.task_queue, shard=shard),
            id=dispatcher_workflow_id(self.task_queue, shard),
            task_queue=dispatch_task_queue(self.task_queue),
            start_signal="publish",
            start_signal_args=[PublishInput(events=events)],
        )


@dataclass
class _Lane:
    """The signals to one dispatcher: one on its way at a time, the next one filling up."""

    publisher: Publisher
    shard: int
    waiting: list[tuple[list[Event], asyncio.Future[None]]] = field(default_factory=list)
    sending: asyncio.Task[None] | None = None

    async def send(self, events: list[Event]) -> None:
        done = asyncio.get_running_loop().create_future()
        self.waiting.append((events, done))
        if self.sending is None:
            self.sending = asyncio.create_task(self._drain())
        await done

    async def _drain(self) -> None:
        try:
            while self.waiting:
                taken: list[tuple[list[Event], asyncio.Future[None]]] = []
                count = 0
                while self.waiting and count < EVENTS_PER_SIGNAL:
                    taken.append(self.waiting.pop(0))
                    count += len(taken[-1][0])
                await self._signal(taken)
        except BaseException as exc:
            for _, done in self.waiting:  # not sent: their emitters must not wait for good
                if not done.done():
                    done.set_exception(exc)
            self.waiting.clear()
            raise
        finally:
            self.sending = None

    async def _signal(self, taken: list[tuple[list[Event], asyncio.Future[None]]]) -> None:
        try:
            await self.publisher.signal(self.shard, [e for events, _ in taken for e in events])
        except BaseException as exc:  # handed to every emitter of this signal, which raises it
            for _, done in taken:
                if not done.done():
                    done.set_exception(exc)
            if not isinstance(exc, Exception):
                raise  # cancelled (the process is stopping): the emitters were told
            return
        for _, done in taken:
            if not done.done():
                done.set_result(None)
