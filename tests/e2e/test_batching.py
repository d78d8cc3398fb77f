"""How a dispatcher batches: events that arrive behind a batch in flight wait and go together,
unless enough of them wait to fill a batch of their own or they have waited ``FILL_WAIT``."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlmodel import col
from temporalio.testing import WorkflowEnvironment

from config import Settings
from models.delivery import DeliveryStatus, Event, SearchKeys
from models.events import EventType
from store import Store
from store.tables import Message
from tests.conftest import RunWorker, dispatcher_handle, emit_events, record_history, settled
from tests.receiver import Receiver
from workflows.dispatch import FILL, FILL_WAIT

#: Every event of these tests concerns one subscription: one dispatcher takes them all.
KEYS = SearchKeys(customer_id="cus_batching", subscription_id="sub_batching")


def invoice(n: int) -> Event:
    key = f"invoice_{uuid.uuid4().hex}"
    return Event.for_event(EventType.INVOICE_CREATED, key, {"n": n}, datetime.now(UTC), KEYS)


def batches(store: Store, events: list[Event]) -> list[str]:
    """The batch that took each event, in the events' order."""
    ids = [event.message_id for event in events]
    query = sa.select(Message.id, Message.accepted_by).where(col(Message.id).in_(ids))
    with store.engine.connect() as connection:
        taken = {row.id: row.accepted_by for row in connection.execute(query)}
    return [str(taken[i]) for i in ids]


async def until(condition: Callable[[], bool], within: float = 30.0) -> None:
    """Return once ``condition()`` holds (polled: the receiver runs in its own threads)."""
    for _ in range(int(within / 0.05)):
        if condition():
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"not within {within} s")


def received(receiver: Receiver) -> list[int]:
    return [json.loads(r.body)["properties"]["payload"]["n"] for r in receiver.requests]


async def test_events_behind_a_batch_in_flight_wait_and_go_in_one_batch(
    dev_env: WorkflowEnvironment,
    store: Store,
    settings: Settings,
    run_worker: RunWorker,
    receiver: Receiver,
) -> None:
    store.create_endpoint(receiver.url, ["invoice.created"], datetime.now(UTC))
    events = [invoice(n) for n in range(6)]
    receiver.gate.clear()
    async with run_worker(dev_env.client, settings):
        await emit_events(dev_env.client, settings, events[0])
        await until(lambda: received(receiver) == [0])  # its batch is in flight, held
        # One signal each, as separate emitters send them (well within FILL_WAIT).
        await asyncio.gather(*(emit_events(dev_env.client, settings, e) for e in events[1:]))
        await asyncio.sleep(0.3)
        assert received(receiver) == [0]  # no batch started beside the one in flight
        receiver.gate.set()
        outcomes = await asyncio.gather(*(settled(store, e.message_id) for e in events))
        dispatcher = dispatcher_handle(dev_env.client, settings, events[0])
        await record_history(dispatcher, "dispatch-held-events-go-with-the-next-batch")

    assert all(set(o.values()) == {DeliveryStatus.SUCCEEDED} for o in outcomes)
    assert sorted(received(receiver)) == list(range(6))
    first, *rest = batches(store, events)
    assert len(set(rest)) == 1 and first not in rest  # the five went together, after the first


async def test_a_full_batch_waiting_starts_beside_the_one_in_flight(
    dev_env: WorkflowEnvironment,
    store: Store,
    settings: Settings,
    run_worker: RunWorker,
    receiver: Receiver,
) -> None:
    store.create_endpoint(receiver.url, ["invoice.created"], datetime.now(UTC))
    held, *full = [invoice(n) for n in range(FILL + 1)]
    receiver.gate.clear()
    async with run_worker(dev_env.client, settings):
        await emit_events(dev_env.client, settings, held)
        await until(lambda: received(receiver) == [0])
        await emit_events(dev_env.client, settings, *full)  # one signal: FILL events wait
        # They arrive while the first request is still held: a batch of their own started.
        await until(lambda: len(receiver.requests) > 1)
        receiver.gate.set()
        await asyncio.gather(*(settled(store, e.message_id) for e in [held, *full]))

    assert sorted(received(receiver)) == list(range(FILL + 1))
    first, *rest = batches(store, [held, *full])
    assert first not in rest


async def test_events_held_behind_a_slow_request_wait_fill_wait_at_most(
    dev_env: WorkflowEnvironment,
    store: Store,
    settings: Settings,
    run_worker: RunWorker,
    receiver: Receiver,
) -> None:
    store.create_endpoint(receiver.url, ["invoice.created"], datetime.now(UTC))
    held, late = invoice(0), invoice(1)
    receiver.gate.clear()  # the first request hangs, as at a slow receiver
    async with run_worker(dev_env.client, settings):
        await emit_events(dev_env.client, settings, held)
        await until(lambda: received(receiver) == [0])
        emitted = time.monotonic()
        await emit_events(dev_env.client, settings, late)
        # It goes while the first request still hangs (its timeout is 15 s), once it has waited
        # FILL_WAIT for it.
        await until(lambda: len(receiver.requests) == 2, within=10)
        waited = time.monotonic() - emitted
        receiver.gate.set()
        await asyncio.gather(*(settled(store, e.message_id) for e in (held, late)))
        await record_history(
            dispatcher_handle(dev_env.client, settings, held), "dispatch-held-events-wait"
        )

    assert received(receiver) == [0, 1]
    assert FILL_WAIT.total_seconds() - 0.1 <= waited
