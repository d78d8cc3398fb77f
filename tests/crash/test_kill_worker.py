"""Crash tests: a worker killed with SIGKILL at each point of an attempt, on the dev server.

Each scenario runs ``python worker.py`` as worker A, emits one event to one endpoint, kills A
(by a failpoint, ``activities.faults``, or from here while the receiver holds the request),
then starts worker B, waits for the delivery to settle and stops B with SIGTERM. What the
receiver recorded is then checked against the attempt log for the three promises:

(a) every request that may have reached the receiver is in the attempt log, and no attempt is
    left ``in_flight`` once its delivery settled;
(b) attempt numbers are never reused: 1..n in the log, never twice at the receiver, and a
    number the receiver did not get is one the log calls ``interrupted``;
(c) a dead attempt is retried in seconds: from the worker's death to the next attempt's
    arrival within heartbeat timeout + activity retry + the schedule's delay + slack.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
import threading
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pytest
from svix.webhooks import Webhook
from temporalio.api.enums.v1 import EventType as HistoryEventType
from temporalio.client import WorkflowHandle
from temporalio.testing import WorkflowEnvironment

from activities import faults
from client.ids import resend_workflow_id
from client.temporal import run_manual
from config import Settings
from models.delivery import (
    AttemptState,
    AttemptTrigger,
    DeliveryStatus,
    Event,
    ManualDeliveryInput,
)
from models.events import EventType
from store import Store
from store.tables import Attempt
from tests.conftest import dispatcher_handle, emit_events, retry_handle, settled, started
from tests.ops.conftest import address_of
from tests.receiver import Received, Receiver, serve
from workflows.policies import ATTEMPT_RETRY, HEARTBEAT_TIMEOUT

WORKER = Path(__file__).parents[2] / "worker.py"
#: The worker's retry schedule (seconds): every delay 1 s, so retries come quickly.
DELAY_SECONDS = 1.0
SCHEDULE = ",".join([f"{DELAY_SECONDS:g}"] * 7)
JITTER = 0.2  # Settings.retry_jitter's default
#: Promise (c): heartbeat timeout + the activity's first retry + the schedule's delay + slack.
RETRIED_WITHIN = (
    HEARTBEAT_TIMEOUT.total_seconds()
    + ATTEMPT_RETRY.initial_interval.total_seconds()
    + DELAY_SECONDS * (1 + JITTER)
    + 5.0
)
#: Bounds of the waits: a worker's start and first attempt, its death, the settling.
ARRIVAL_TIMEOUT = 30.0
DEATH_TIMEOUT = 30.0
SETTLE_TIMEOUT = 30.0
STOP_TIMEOUT = 30.0


@dataclass
class CrashReceiver(Receiver):
    """Records each request's arrival time; holds request number ``hold`` until released."""

    hold: int | None = None
    held: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)
    arrivals: list[float] = field(default_factory=list)

    def answer(self, received: Received) -> int:
        with self.lock:
            self.requests.append(received)
            self.arrivals.append(time.monotonic())
            number = len(self.requests)
            status = self.statuses.pop(0) if self.statuses else self.default
        if number == self.hold:
            self.held.set()
            self.release.wait(ARRIVAL_TIMEOUT + DEATH_TIMEOUT)
        return status


@pytest.fixture
def crash_receiver() -> Iterator[CrashReceiver]:
    receiver = CrashReceiver()
    try:
        yield from serve(receiver)  # type: ignore[misc]
    finally:
        receiver.release.set()  # no handler thread stays parked


@dataclass
class Workers:
    """The worker processes of one test, each logging to its own file."""

    env: WorkflowEnvironment
    settings: Settings
    directory: Path
    started: dict[str, asyncio.subprocess.Process] = field(default_factory=dict)

    async def start(self, name: str, failpoint: str | None = None) -> asyncio.subprocess.Process:
        environ = {k: v for k, v in os.environ.items() if not k.startswith("BILLHOOK_")}
        environ |= {
            "BILLHOOK_TEMPORAL_ADDRESS": address_of(self.env),
            "BILLHOOK_DATABASE_URL": self.settings.database_url,
            "BILLHOOK_TASK_QUEUE": self.settings.task_queue,
            "BILLHOOK_ALLOWED_NETWORKS": "127.0.0.0/8",
            "BILLHOOK_ENVIRONMENT": "development",
            "BILLHOOK_RETRY_SCHEDULE": SCHEDULE,
            "BILLHOOK_LOG_LEVEL": "INFO",
        }
        if failpoint is not None:
            environ["BILLHOOK_FAILPOINTS"] = failpoint
        with self.log(name).open("wb") as sink:
            process = await asyncio.create_subprocess_exec(
                sys.executable,
                str(WORKER),
                cwd=self.directory,  # no stray .env file is read
                env=environ,
                stdout=sink,
                stderr=asyncio.subprocess.STDOUT,
            )
        self.started[name] = process
        return process

    def log(self, name: str) -> Path:
        return self.directory / f"worker-{name}.log"

    def output(self) -> str:
        return "\n".join(
            f"--- worker {name} (exit {process.returncode}):\n{self.log(name).read_text()}"
            for name, process in self.started.items()
        )

    async def kill_leftovers(self) -> None:
        for process in self.started.values():
            if process.returncode is None:
                process.kill()
                await process.wait()


@asynccontextmanager
async def workers_of(
    env: WorkflowEnvironment, settings: Settings, directory: Path
) -> AsyncIterator[Workers]:
    workers = Workers(env, settings, directory)
    try:
        yield workers
    finally:
        await workers.kill_leftovers()


@dataclass(frozen=True)
class Scenario:
    """Where worker A dies, and what the receiver and the attempt log must show after."""

    failpoint: str | None  # armed in worker A; None: killed from here while a request is held
    hold: int | None  # the receiver holds this request (1 = the first) while A is killed
    statuses: tuple[int, ...]  # the receiver's answers in order, then 204
    log: tuple[tuple[int, AttemptState, int | None], ...]  # (attempt, state, response status)
    received: tuple[int, ...]  # the ``attempt`` of each request the receiver got, in order
    dead: int  # the attempt whose worker died


SCENARIOS = {
    "before-post": Scenario(
        failpoint=faults.BEFORE_POST,
        hold=None,
        statuses=(),
        log=((1, AttemptState.INTERRUPTED, None), (2, AttemptState.COMPLETED, 204)),
        received=(2,),
        dead=1,
    ),
    "during-post": Scenario(
        failpoint=None,
        hold=1,
        statuses=(),
        log=((1, AttemptState.INTERRUPTED, None), (2, AttemptState.COMPLETED, 204)),
        received=(1, 2),
        dead=1,
    ),
    "after-post": Scenario(
        failpoint=faults.AFTER_POST,
        hold=None,
        statuses=(),
        log=((1, AttemptState.INTERRUPTED, None), (2, AttemptState.COMPLETED, 204)),
        received=(1, 2),
        dead=1,
    ),
    "retry-during-post": Scenario(
        failpoint=None,
        hold=2,
        statuses=(500,),
        log=(
            (1, AttemptState.COMPLETED, 500),
            (2, AttemptState.INTERRUPTED, None),
            (3, AttemptState.COMPLETED, 204),
        ),
        received=(1, 2, 3),
        dead=2,
    ),
}


@dataclass
class Crash:
    """One delivery whose worker A was killed, and what to look at afterwards."""

    store: Store
    receiver: CrashReceiver
    workers: Workers
    event: Event
    endpoint_id: str
    secret: str
    died_at: float = 0.0
    histories: str = ""  # the dispatcher's and the retry workflow's, once settled

    def requests(self) -> list[tuple[int, float, Received]]:
        """(attempt, arrival, request) of each request of this message the receiver got."""
        return [
            (json.loads(r.body)["attempt"], at, r)
            for r, at in zip(self.receiver.requests, self.receiver.arrivals, strict=True)
            if r.headers["svix-id"] == self.event.message_id
        ]

    def log(self) -> list[tuple[int, AttemptState, int | None]]:
        return [(a.attempt, AttemptState(a.state), a.response_status) for a in self.rows()]

    def rows(self) -> list[Attempt]:
        attempts = self.store.list_attempts(
            message_id=self.event.message_id, endpoint_id=self.endpoint_id
        )
        return sorted(attempts, key=lambda a: a.attempt)

    def context(self) -> str:
        """What was seen, for an assertion's message: the log, the receiver, the workers."""
        lines = [f"message {self.event.message_id} to {self.endpoint_id}", "attempt log:"]
        lines += [
            f"  {a.attempt} {a.trigger} {a.state} status={a.response_status} "
            f"error={a.error_kind} started={a.started_at:%H:%M:%S.%f}"
            for a in self.rows()
        ]
        lines.append(f"receiver (seconds after worker A died, {self.died_at or 'not yet'}):")
        lines += [
            f"  {at - self.died_at:+.2f} s svix-id={r.headers.get('svix-id')} attempt={n}"
            for n, at, r in self.requests()
        ]
        return "\n".join(lines) + "\n" + self.histories + self.workers.output()


async def crash_and_recover(
    env: WorkflowEnvironment,
    store: Store,
    settings: Settings,
    receiver: CrashReceiver,
    workers: Workers,
    scenario: Scenario,
) -> Crash:
    """Kill worker A as ``scenario`` says, let worker B finish the delivery; B keeps running."""
    receiver.statuses = list(scenario.statuses)
    receiver.hold = scenario.hold
    endpoint, secret = store.create_endpoint(receiver.url, ["invoice.created"], datetime.now(UTC))
    event = Event.for_event(
        EventType.INVOICE_CREATED, f"crash:{uuid.uuid4().hex}", {"n": 1}, datetime.now(UTC)
    )
    crash = Crash(store, receiver, workers, event, endpoint.id, secret)
    a = await workers.start("a", scenario.failpoint)
    await emit_events(env.client, settings, event)
    if scenario.hold is not None:
        if scenario.dead > 1:  # the retry path: attempt 1 failed, its retries took over
            retries = retry_handle(env.client, event.message_id, endpoint.id)
            try:
                await started(retries, ARRIVAL_TIMEOUT)
            except TimeoutError:
                pytest.fail(f"no retry workflow after a 500 answer\n{crash.context()}")
        held = await asyncio.to_thread(receiver.held.wait, ARRIVAL_TIMEOUT)
        assert held, f"request {scenario.hold} never reached the receiver\n{crash.context()}"
        a.send_signal(signal.SIGKILL)
    try:
        code = await asyncio.wait_for(a.wait(), DEATH_TIMEOUT)
    except TimeoutError:
        pytest.fail(f"worker A still alive after {DEATH_TIMEOUT} s\n{crash.context()}")
    crash.died_at = time.monotonic()
    receiver.release.set()
    assert code == -signal.SIGKILL, f"worker A exited {code}, not killed\n{crash.context()}"

    await workers.start("b")
    try:
        statuses = await settled(store, event.message_id, SETTLE_TIMEOUT)
    except TimeoutError:
        pytest.fail(f"not settled within {SETTLE_TIMEOUT} s\n{crash.context()}")
    crash.histories = "".join(
        [
            await history(dispatcher_handle(env.client, settings, event)),
            await history(retry_handle(env.client, event.message_id, endpoint.id)),
        ]
    )
    assert statuses == {endpoint.id: DeliveryStatus.SUCCEEDED}, crash.context()
    return crash


async def history(handle: WorkflowHandle[object, object]) -> str:
    """A workflow's history, one event a line with its time, for an assertion's message."""
    lines = [f"--- history of {handle.id}:"]
    async for event in handle.fetch_history_events():
        name = HistoryEventType.Name(event.event_type).removeprefix("EVENT_TYPE_")
        lines.append(f"  {event.event_time.ToDatetime():%H:%M:%S.%f} {name}")
    return "\n".join(lines) + "\n"


async def stop(workers: Workers, name: str, crash: Crash) -> None:
    """SIGTERM a worker: it stops gracefully, exit code 0."""
    process = workers.started[name]
    process.send_signal(signal.SIGTERM)
    try:
        code = await asyncio.wait_for(process.wait(), STOP_TIMEOUT)
    except TimeoutError:
        pytest.fail(f"worker {name} did not stop on SIGTERM\n{crash.context()}")
    assert code == 0, f"worker {name} exited {code} on SIGTERM\n{crash.context()}"


def assert_promises(crash: Crash) -> None:
    """Promises (a), (b) and (c), and valid signatures, on what the receiver got."""
    context = crash.context()
    requests = crash.requests()
    rows = crash.rows()
    numbers = [a.attempt for a in rows]
    states = {a.attempt: AttemptState(a.state) for a in rows}
    got = [n for n, _, _ in requests]
    # (a) every request that may have reached the receiver is in the log; none left in flight.
    assert set(got) <= set(numbers), f"attempts received but not logged\n{context}"
    assert AttemptState.IN_FLIGHT not in states.values(), f"left in flight\n{context}"
    # (b) numbers 1..n, each at most once at the receiver, gaps only where interrupted.
    assert numbers == list(range(1, len(numbers) + 1)), f"numbers not 1..n\n{context}"
    assert len(got) == len(set(got)), f"an attempt number reached the receiver twice\n{context}"
    missing = set(numbers) - set(got)
    assert all(states[n] is AttemptState.INTERRUPTED for n in missing), (
        f"attempts {sorted(missing)} never reached the receiver yet are not interrupted\n{context}"
    )
    # Every request is signed with the endpoint's secret, the retries and duplicates too.
    webhook = Webhook(crash.secret)
    for _, _, r in requests:
        webhook.verify(r.body, r.headers)  # raises when the signature is not valid
    # (c) the next attempt after the death arrived in seconds.
    after = [(n, at) for n, at, _ in requests if at > crash.died_at]
    assert after, f"no attempt arrived after worker A died\n{context}"
    waited = after[0][1] - crash.died_at
    assert waited < RETRIED_WITHIN, (
        f"the next attempt came {waited:.1f} s after the death (limit {RETRIED_WITHIN:.1f} s)\n"
        f"{context}"
    )


@pytest.mark.parametrize("scenario", SCENARIOS.values(), ids=SCENARIOS.keys())
async def test_a_killed_worker_loses_no_attempt_and_reuses_no_number(
    dev_env: WorkflowEnvironment,
    store: Store,
    settings: Settings,
    crash_receiver: CrashReceiver,
    tmp_path: Path,
    scenario: Scenario,
) -> None:
    async with workers_of(dev_env, settings, tmp_path) as workers:
        crash = await crash_and_recover(dev_env, store, settings, crash_receiver, workers, scenario)
        await stop(workers, "b", crash)

    context = crash.context()
    assert tuple(n for n, _, _ in crash.requests()) == scenario.received, context
    assert {r.headers["svix-id"] for _, _, r in crash.requests()} == {crash.event.message_id}
    assert tuple(crash.log()) == scenario.log, context
    [delivery] = store.deliveries_for_message(crash.event.message_id)
    assert (delivery.status, delivery.attempts) == (
        DeliveryStatus.SUCCEEDED,
        len(scenario.log),
    ), context
    assert_promises(crash)


async def test_a_resend_after_a_crash_takes_the_next_number(
    dev_env: WorkflowEnvironment,
    store: Store,
    settings: Settings,
    crash_receiver: CrashReceiver,
    tmp_path: Path,
) -> None:
    async with workers_of(dev_env, settings, tmp_path) as workers:
        crash = await crash_and_recover(
            dev_env, store, settings, crash_receiver, workers, SCENARIOS["after-post"]
        )
        message_id = crash.event.message_id
        # What `billhook message resend MSG` runs.
        try:
            async with asyncio.timeout(ARRIVAL_TIMEOUT):
                progress = await run_manual(
                    dev_env.client,
                    settings.task_queue,
                    resend_workflow_id(message_id, crash.endpoint_id),
                    ManualDeliveryInput(endpoint_id=crash.endpoint_id, message_ids=[message_id]),
                )
        except TimeoutError:
            pytest.fail(f"the resend did not finish in {ARRIVAL_TIMEOUT} s\n{crash.context()}")
        await stop(workers, "b", crash)

    context = crash.context()
    assert (progress.total, progress.succeeded) == (1, 1), context
    assert [n for n, _, _ in crash.requests()] == [1, 2, 3], context
    rows = crash.rows()
    assert [(a.attempt, a.trigger, a.state, a.response_status) for a in rows] == [
        (1, AttemptTrigger.SCHEDULED, AttemptState.INTERRUPTED, None),
        (2, AttemptTrigger.SCHEDULED, AttemptState.COMPLETED, 204),
        (3, AttemptTrigger.MANUAL, AttemptState.COMPLETED, 204),
    ], context
    [delivery] = store.deliveries_for_message(message_id)
    assert (delivery.status, delivery.attempts) == (DeliveryStatus.SUCCEEDED, 3), context
    assert_promises(crash)
