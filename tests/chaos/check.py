"""What a chaos run must show: what was emitted, the attempt log and the receivers agree.

The emitted messages are read from Temporal: every ``publish`` signal in the history of every
run of the task queue's dispatchers (an emission is durable once its signal is accepted). The
attempt log and the deliveries are read from the store, and the requests from the receivers.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine
from sqlmodel import Session, select
from temporalio.api.enums.v1 import EventType as HistoryEventType
from temporalio.client import Client

from client.ids import dispatch_task_queue
from models.delivery import AttemptState, DeliveryStatus, PublishInput
from store.tables import Attempt, Delivery, Message
from tests.chaos.receiver import OK, payload_digest

#: The status billhook's log must show for each answer that was a response.
ANSWERED = {OK: 204, "500": 500, "429": 429, "large": 200}
SIGNALED = HistoryEventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED
#: Problems listed in full at most; the rest are counted.
SHOWN = 10


@dataclass
class Findings:
    """The figures of a run and every broken promise found (empty: it passed)."""

    figures: dict[str, Any] = field(default_factory=dict)
    problems: dict[str, list[str]] = field(default_factory=dict)

    def problem(self, kind: str, detail: str) -> None:
        self.problems.setdefault(kind, []).append(detail)

    def report(self) -> str:
        lines = []
        for kind, details in self.problems.items():
            lines.append(f"FAIL {kind}: {len(details)}")
            lines += [f"    {d}" for d in details[:SHOWN]]
        return "\n".join(lines)


async def emitted_messages(client: Client, task_queue: str) -> dict[str, str]:
    """Every message signalled to the queue's dispatchers, all runs: id -> event type."""
    emitted: dict[str, str] = {}
    query = f'WorkflowType="DispatchWorkflow" AND TaskQueue="{dispatch_task_queue(task_queue)}"'
    async for run in client.list_workflows(query):
        handle = client.get_workflow_handle(run.id, run_id=run.run_id)
        async for event in handle.fetch_history_events():
            if event.event_type != SIGNALED:
                continue
            signal = event.workflow_execution_signaled_event_attributes
            if signal.signal_name != "publish":
                continue
            [published] = await client.data_converter.decode(signal.input.payloads, [PublishInput])
            assert isinstance(published, PublishInput)
            for e in published.events:
                emitted[e.message_id] = e.event_type.value
    return emitted


async def running_retries(client: Client, task_queue: str) -> int:
    query = (
        f'WorkflowType="RetryWorkflow" AND TaskQueue="{task_queue}" AND ExecutionStatus="Running"'
    )
    return (await client.count_workflows(query)).count


@dataclass
class Rows:
    """The rows of the run's database."""

    messages: dict[str, Message]
    deliveries: dict[tuple[str, str], Delivery]
    attempts: dict[tuple[str, str], list[Attempt]]

    @classmethod
    def read(cls, engine: Engine) -> Rows:
        with Session(engine) as session:
            messages = {m.id: m for m in session.exec(select(Message))}
            deliveries = {(d.message_id, d.endpoint_id): d for d in session.exec(select(Delivery))}
            attempts: dict[tuple[str, str], list[Attempt]] = defaultdict(list)
            for a in session.exec(select(Attempt)):
                attempts[(a.message_id, a.endpoint_id)].append(a)
            session.expunge_all()
        for rows in attempts.values():
            rows.sort(key=lambda a: a.attempt)
        return cls(messages, deliveries, dict(attempts))


def check(
    emitted: dict[str, str],
    reported: set[str],
    store: Rows,
    records: list[dict[str, Any]],
    endpoints: dict[int, str],
    retries_running: int,
) -> Findings:
    """Every promise of the chaos suite, on what Temporal, the store and the receivers hold."""
    found = Findings()
    received = _received(records, endpoints, found)
    _check_emitted(emitted, reported, store, found)
    _check_delivered(store, received, list(endpoints.values()), found)
    _check_same_id(records, store, found)
    _check_attempts(store, received, found)
    pending = [k for k, d in store.deliveries.items() if d.status == DeliveryStatus.PENDING]
    in_flight = [
        (a.message_id, a.endpoint_id, a.attempt)
        for rows in store.attempts.values()
        for a in rows
        if a.state == AttemptState.IN_FLIGHT
    ]
    for key in pending:
        found.problem("left pending", f"{key}: {_rows(store, key)}")
    for attempt in in_flight:
        found.problem("attempt left in flight", str(attempt))
    if retries_running:
        found.problem("retry workflows still running", str(retries_running))
    accepted = [r for r in records if r["answer"] in (OK, "slow", "large")]
    unique = {(r["port"], r["msg_id"]) for r in accepted}
    all_attempts = [a for rows in store.attempts.values() for a in rows]
    answers = Counter(r["answer"] for r in records)
    found.figures |= {
        "events emitted": len(emitted),
        "deliveries": len(store.deliveries),
        "attempts": len(all_attempts),
        "retries": len(all_attempts) - len(store.attempts),
        "interrupted": sum(a.state == AttemptState.INTERRUPTED for a in all_attempts),
        "received": len(records),
        "faults": {k: v for k, v in sorted(answers.items()) if k != OK},
        "duplicates": len(accepted) - len(unique),
        "lost": len(found.problems.get("lost", [])),
        "pending": len(pending) + len(in_flight) + retries_running,
    }
    return found


Key = tuple[str, str, int]  # message, endpoint, attempt


def _received(
    records: list[dict[str, Any]], endpoints: dict[int, str], found: Findings
) -> dict[Key, list[dict[str, Any]]]:
    received: dict[Key, list[dict[str, Any]]] = defaultdict(list)
    for r in records:
        if not r.get("verified"):
            found.problem("invalid signature", str(r))
        received[(r["msg_id"], endpoints[r["port"]], r["attempt"])].append(r)
    for key, rs in received.items():
        if len(rs) > 1:
            found.problem("attempt number received twice", f"{key}: {[r['answer'] for r in rs]}")
    return received


def _check_emitted(
    emitted: dict[str, str], reported: set[str], store: Rows, found: Findings
) -> None:
    for message_id in sorted(reported - emitted.keys()):
        found.problem("reported emitted, not in any dispatcher", message_id)
    for message_id in sorted(emitted.keys() - store.messages.keys()):
        found.problem("lost", f"{message_id} ({emitted[message_id]}) emitted, never stored")
    for message_id in sorted(store.messages.keys() - emitted.keys()):
        found.problem("stored, never emitted", message_id)


def _check_delivered(
    store: Rows, received: dict[Key, list[dict[str, Any]]], endpoints: list[str], found: Findings
) -> None:
    """Every stored message reached every endpoint (they subscribe to every type), verified."""
    reached = {(m, e) for (m, e, _), rs in received.items() if any(r["answer"] == OK for r in rs)}
    for message_id in sorted(store.messages):
        for endpoint_id in endpoints:
            key = (message_id, endpoint_id)
            delivery = store.deliveries.get(key)
            if key not in reached:
                status = delivery.status if delivery else "no delivery"
                found.problem("lost", f"{key} never accepted by the receiver ({status})")
            elif delivery is None or delivery.status != DeliveryStatus.SUCCEEDED:
                found.problem("received but not succeeded", f"{key}: {_rows(store, key)}")


def _check_same_id(records: list[dict[str, Any]], store: Rows, found: Findings) -> None:
    """A message's every request carries its one ``svix-id``, and the body is the stored one's."""
    ids: dict[tuple[Any, ...], set[str]] = defaultdict(set)
    for r in records:
        ids[(r["port"], r["event_type"], r["created_at"], r["payload"])].add(r["msg_id"])
        message = store.messages.get(r["msg_id"])
        if message is None:
            found.problem("received a message the store does not have", str(r))
        elif (message.event_type, payload_digest(message.payload)) != (
            r["event_type"],
            r["payload"],
        ):
            found.problem("body differs from the stored message", str(r))
    for body, msg_ids in ids.items():
        if len(msg_ids) > 1:
            found.problem("one body under several svix-ids", f"{body}: {sorted(msg_ids)}")


def _check_attempts(
    store: Rows, received: dict[Key, list[dict[str, Any]]], found: Findings
) -> None:
    """Numbers 1..n per delivery; the log and the receivers agree on every request."""
    logged: set[Key] = set()
    for key, rows in store.attempts.items():
        numbers = [a.attempt for a in rows]
        delivery = store.deliveries.get(key)
        if numbers != list(range(1, len(numbers) + 1)) or (
            delivery is not None and delivery.attempts != len(numbers)
        ):
            found.problem("attempts not contiguous", f"{key}: {_rows(store, key)}")
        for a in rows:
            logged.add((a.message_id, a.endpoint_id, a.attempt))
            seen = received.get((a.message_id, a.endpoint_id, a.attempt), [])
            if a.response_status is None:
                continue
            if not seen:
                found.problem("logged a response the receiver never sent", _row(a))
            elif ANSWERED.get(seen[0]["answer"]) != a.response_status:
                found.problem("logged response differs", f"{_row(a)} receiver {seen[0]['answer']}")
    for unlogged in sorted(received.keys() - logged):
        found.problem("received but not in the attempt log", str(unlogged))


def _row(a: Attempt) -> str:
    return (
        f"{a.message_id}/{a.endpoint_id} #{a.attempt} {a.trigger} {a.state} "
        f"status={a.response_status} error={a.error_kind} started={a.started_at:%X.%f}"
    )


def _rows(store: Rows, key: tuple[str, str]) -> str:
    delivery = store.deliveries.get(key)
    head = f"delivery {delivery.status} attempts={delivery.attempts}" if delivery else "none"
    return head + "; " + "; ".join(_row(a) for a in store.attempts.get(key, []))
