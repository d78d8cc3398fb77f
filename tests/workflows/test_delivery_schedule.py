"""The retry schedule on the time-skipping server: 27.6 hours of retries in seconds."""

from __future__ import annotations

import itertools
import json
import uuid
from datetime import UTC, datetime, timedelta

from temporalio.testing import WorkflowEnvironment

from config import DEFAULT_RETRY_SCHEDULE, Settings
from models.delivery import DeliveryStatus, ErrorKind, Event
from models.events import EventType
from store import Store
from tests.conftest import RunWorker, emit_events, retry_handle, started
from tests.receiver import Receiver


async def test_an_always_failing_receiver_gets_8_attempts_on_the_schedule(
    ts_env: WorkflowEnvironment,
    store: Store,
    settings: Settings,
    run_worker: RunWorker,
    receiver: Receiver,
) -> None:
    receiver.default = 500
    spec = settings.model_copy(update={"retry_schedule": list(DEFAULT_RETRY_SCHEDULE)})
    endpoint, _ = store.create_endpoint(receiver.url, ["invoice.created"], now=datetime.now(UTC))
    event = Event.for_event(
        EventType.INVOICE_CREATED, f"test:{uuid.uuid4().hex}", {"n": 1}, datetime.now(UTC)
    )
    async with run_worker(ts_env.client, spec):
        await emit_events(ts_env.client, spec, event)
        # The first attempt is the dispatcher's; the 7 retries run in their own workflow.
        retries = await started(retry_handle(ts_env.client, event.message_id, endpoint.id))
        # A handle got by id does not skip time on its own: sleep past the whole schedule.
        await ts_env.sleep(timedelta(hours=1.2 * 28))
        assert await retries.result() == DeliveryStatus.FAILED

    assert [json.loads(r.body)["attempt"] for r in receiver.requests] == list(range(1, 9))
    attempts = sorted(store.list_attempts(message_id=event.message_id), key=lambda a: a.attempt)
    assert [a.attempt for a in attempts] == list(range(1, 9))
    assert {a.error_kind for a in attempts} == {ErrorKind.HTTP_STATUS}
    gaps = [
        (later.started_at - earlier.started_at).total_seconds()
        for earlier, later in itertools.pairwise(attempts)
    ]
    scheduled = [delay.total_seconds() for delay in DEFAULT_RETRY_SCHEDULE]
    for gap, delay in zip(gaps, scheduled, strict=True):
        # ±20% jitter, plus the attempt's own duration and the server's scheduling slack.
        assert delay * 0.8 <= gap <= delay * 1.2 + 2, (gaps, scheduled)
    assert 0.8 * sum(scheduled) <= sum(gaps) <= 1.2 * sum(scheduled) + 16
    assert attempts[-1].next_retry_at is None
    [delivery] = store.deliveries_for_message(event.message_id)
    assert (delivery.status, delivery.attempts) == (DeliveryStatus.FAILED, 8)
