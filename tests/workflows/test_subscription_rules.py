"""Lifecycle rules of ``SubscriptionWorkflow``, tested the way temporalio's samples test workflows.

The time-skipping server runs the workflow; every activity it calls is replaced by a plain
function registered under the same name, which records what it was called with. No store, no
dispatchers: the end-to-end lifecycle tests (``tests/workflows/test_subscription.py``,
``tests/e2e``) cover those.
"""

from __future__ import annotations

import itertools
import json
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from temporalio import activity
from temporalio.client import WorkflowHandle
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from client.starts import start_subscription
from models.billing import (
    Aggregation,
    AlertSnapshot,
    CancelInput,
    ChargeTiming,
    CustomerSnapshot,
    FlatCharge,
    InvoiceWorkflowInput,
    LifecycleStep,
    MetricSnapshot,
    PlanRef,
    PlanVersionSnapshot,
    SubscriptionState,
    SubscriptionStatus,
    SubscriptionWorkflowInput,
    UsageComponent,
    UsageInput,
)
from models.delivery import Event, PublishInput
from models.events import EventType, business_key
from models.periods import zone
from tests.conftest import record_history
from tests.lifecycle import NEW_YORK, monthly_starts, next_leap_january_31, now_in_new_york
from workflows.subscription import SubscriptionWorkflow

METRIC = MetricSnapshot(
    metric_id="metric_api", name="API calls", event_name="api_call", aggregation=Aggregation.COUNT
)
CUSTOMER = CustomerSnapshot(customer_id="cust_rules", name="Acme Corp", timezone=NEW_YORK)
NEW_YORK_ZONE = zone(NEW_YORK)


def plan(version: int = 1, *, period: str = "monthly", flat: str = "49.99") -> PlanVersionSnapshot:
    """Plan Pro: a flat fee in arrears plus API calls over 100 free at 0.01, alert at 100."""
    return PlanVersionSnapshot(
        plan_id="plan_pro",
        plan_name="Pro",
        version_id=f"plan_version_{version}",
        version=version,
        period=period,
        flat_charge=FlatCharge(amount=Decimal(flat), timing=ChargeTiming.IN_ARREARS),
        components=[
            UsageComponent(metric=METRIC, unit_price=Decimal("0.01"), free_units=Decimal(100))
        ],
        alerts=[AlertSnapshot(alert_id="usg_alert_1", metric_id="metric_api", threshold=100)],
    )


@dataclass
class Calls:
    """What the workflow called its activities with, by the run that called them."""

    newest: PlanVersionSnapshot  # what ``latest_plan_version`` answers
    records: list[tuple[str, SubscriptionState]] = field(default_factory=list)
    invoices: list[tuple[str, InvoiceWorkflowInput]] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)
    steps: list[tuple[str, LifecycleStep]] = field(default_factory=list)

    def activities(self) -> list[Callable[..., Any]]:
        """Stand-ins for every activity the workflow calls (all local), under their names."""

        @activity.defn(name="commit_step")
        async def commit_step(step: LifecycleStep) -> None:
            run = activity.info().workflow_run_id
            self.steps.append((run, step))
            if step.record is not None:
                self.records.append((run, step.record))
            if step.invoice is not None:
                self.invoices.append((run, step.invoice))
            self.events.extend(step.events)

        @activity.defn(name="latest_plan_version")
        async def latest_plan_version(ref: PlanRef) -> PlanVersionSnapshot:
            assert ref.plan_id == self.newest.plan_id
            return self.newest

        @activity.defn(name="publish_events")
        async def publish_events(input: PublishInput) -> None:
            self.events.extend(input.events)

        return [commit_step, latest_plan_version, publish_events]

    def keys(self, event_type: EventType) -> list[str]:
        return [e.business_key for e in self.events if e.event_type is event_type]


async def period_of(env: WorkflowEnvironment, workflow_id: str, run_id: str) -> int:
    """The period a run of a subscription bills: its input's ``sequence``."""
    run = env.client.get_workflow_handle(workflow_id, run_id=run_id)
    async for event in run.fetch_history_events():
        payload = event.workflow_execution_started_event_attributes.input.payloads[0]
        return int(json.loads(payload.data)["sequence"])
    raise AssertionError(f"run {run_id} has no history")


Handle = WorkflowHandle[SubscriptionWorkflow, SubscriptionState]


@asynccontextmanager
async def subscription(
    env: WorkflowEnvironment, calls: Calls, anchor: datetime, first: PlanVersionSnapshot
) -> AsyncIterator[Handle]:
    """A subscription to ``first`` from ``anchor``, on a worker running the stand-ins."""
    task_queue = f"rules-{uuid.uuid4().hex}"
    input = SubscriptionWorkflowInput(
        subscription_id=f"sub_{uuid.uuid4().hex}", customer=CUSTOMER, plan=first, anchor=anchor
    )
    async with Worker(
        env.client,
        task_queue=task_queue,
        workflows=[SubscriptionWorkflow],
        activities=calls.activities(),
    ):
        yield await start_subscription(env.client, task_queue, input)


async def advance_to(env: WorkflowEnvironment, moment: datetime) -> None:
    """Skip time to ``moment``, a week at a time: one sleep RPC must finish within its timeout."""
    while (now := await env.get_current_time()) < moment:
        await env.sleep(min(moment - now, timedelta(days=7)))


def usage(quantity: int, key: str) -> UsageInput:
    return UsageInput(metric_id=METRIC.metric_id, quantity=Decimal(quantity), idempotency_key=key)


async def test_the_run_that_closes_a_period_issues_its_invoice(ts_env: WorkflowEnvironment) -> None:
    calls = Calls(newest=plan(2, flat="59.99"))
    starts = monthly_starts(await next_leap_january_31(ts_env), 4)
    async with subscription(ts_env, calls, starts[0], plan(1)) as handle:
        first_run = (await handle.describe()).run_id
        await handle.execute_update(SubscriptionWorkflow.record_usage, usage(150, "k1"))
        await advance_to(ts_env, starts[2] + timedelta(days=3))
        await handle.execute_update(SubscriptionWorkflow.cancel, CancelInput(at_period_end=True))
        final = await handle.result()
        assert first_run is not None
        first = ts_env.client.get_workflow_handle(handle.id, run_id=first_run)
        await record_history(first, "subscription-renewal-in-one-step")

    assert (final.status, final.sequence) == (SubscriptionStatus.ENDED, 2)
    # Periods follow the calendar from January 31 in New York, clamped, never chained.
    periods = sorted({(s.sequence, s.period_start, s.period_end) for _, s in calls.records})
    assert periods == [
        (i, start, end - timedelta(microseconds=1))
        for i, (start, end) in enumerate(itertools.pairwise(starts))
    ]
    # The renewal moves onto the newest plan version.
    assert {s.sequence: s.plan_version_id for _, s in calls.records} == {
        0: "plan_version_1",
        1: "plan_version_2",
        2: "plan_version_2",
    }
    # One invoice a period, issued by the run of the period it bills, on that period's plan.
    periods_billed = [await period_of(ts_env, handle.id, run) for run, _ in calls.invoices]
    assert [
        (n, i.plan.version) for n, (_, i) in zip(periods_billed, calls.invoices, strict=True)
    ] == [
        (0, 1),
        (1, 2),
        (2, 2),
    ]
    lines = [
        [(line.name, line.base, line.start) for line in i.line_items] for _, i in calls.invoices
    ]
    assert lines == [
        [("API calls", Decimal("0.50"), starts[0]), ("Pro Flat Fee", Decimal("49.99"), starts[0])],
        [("API calls", Decimal(0), starts[1]), ("Pro Flat Fee", Decimal("59.99"), starts[1])],
        [("API calls", Decimal(0), starts[2]), ("Pro Flat Fee", Decimal("59.99"), starts[2])],
    ]
    sub = final.subscription_id
    assert calls.keys(EventType.SUBSCRIPTION_CREATED) == [f"subscription.created:{sub}"]
    assert calls.keys(EventType.SUBSCRIPTION_RENEWED) == [
        f"subscription.renewed:{sub}:period:1",
        f"subscription.renewed:{sub}:period:2",
    ]
    assert calls.keys(EventType.SUBSCRIPTION_CANCELLED) == [f"subscription.cancelled:{sub}"]


async def test_usage_keys_hold_across_one_renewal(ts_env: WorkflowEnvironment) -> None:
    calls = Calls(newest=plan(period="P1D"))
    start = await now_in_new_york(ts_env)
    async with subscription(ts_env, calls, start, plan(period="P1D")) as handle:
        assert (
            await handle.execute_update(SubscriptionWorkflow.record_usage, usage(5, "a"))
        ).accepted
        await advance_to(ts_env, start + timedelta(days=1, hours=1))
        again = await handle.execute_update(SubscriptionWorkflow.record_usage, usage(5, "a"))
        fresh = await handle.execute_update(SubscriptionWorkflow.record_usage, usage(7, "b"))
        state = await handle.query(SubscriptionWorkflow.state)
        assert (again.accepted, again.usage, fresh.accepted, fresh.usage) == (
            False,
            Decimal(0),
            True,
            Decimal(7),
        )
        assert (state.sequence, state.previous_keys, state.keys) == (1, {"a"}, {"b"})
        assert state.usage == {METRIC.metric_id: Decimal(7)}
        # Only the previous period's keys are kept: two periods on, "a" counts again.
        await advance_to(ts_env, start + timedelta(days=2, hours=1))
        late = await handle.execute_update(SubscriptionWorkflow.record_usage, usage(3, "a"))
        assert (late.accepted, late.usage) == (True, Decimal(3))
        await handle.execute_update(SubscriptionWorkflow.cancel, CancelInput())
        await handle.result()


async def test_an_alert_fires_once_a_period(ts_env: WorkflowEnvironment) -> None:
    calls = Calls(newest=plan(period="P1D"))
    start = await now_in_new_york(ts_env)
    async with subscription(ts_env, calls, start, plan(period="P1D")) as handle:
        fired = [
            (
                await handle.execute_update(SubscriptionWorkflow.record_usage, usage(60, k))
            ).alerts_triggered
            for k in "abc"
        ]
        await advance_to(ts_env, start + timedelta(days=1, hours=1))
        next_period = await handle.execute_update(
            SubscriptionWorkflow.record_usage, usage(150, "d")
        )
        await handle.execute_update(SubscriptionWorkflow.cancel, CancelInput())
        final = await handle.result()
    assert fired == [[], ["usg_alert_1"], []]
    assert next_period.alerts_triggered == ["usg_alert_1"]
    sub = final.subscription_id
    assert calls.keys(EventType.USAGE_ALERT_TRIGGERED) == [
        business_key(EventType.USAGE_ALERT_TRIGGERED, f"usg_alert_1:{sub}:{day.isoformat()}")
        for day in (start, start + timedelta(days=1))
    ]


async def test_cancel_now_bills_usage_so_far_and_ends_the_period_at_once(
    ts_env: WorkflowEnvironment,
) -> None:
    calls = Calls(newest=plan())
    start = await now_in_new_york(ts_env)
    async with subscription(ts_env, calls, start, plan()) as handle:
        await handle.execute_update(SubscriptionWorkflow.record_usage, usage(300, "u"))
        await advance_to(ts_env, start + timedelta(days=2))
        cancelled = await handle.execute_update(SubscriptionWorkflow.cancel, CancelInput())
        final = await handle.result()
        await record_history(handle, "subscription-cancelled-now")
    assert (cancelled.status, cancelled.auto_renew, cancelled.cancelled_now) == (
        SubscriptionStatus.ENDED,
        False,
        True,
    )
    assert start + timedelta(days=2) <= final.period_end < start + timedelta(days=2, minutes=1)
    [(run, invoice)] = calls.invoices
    assert await period_of(ts_env, handle.id, run) == 0
    assert final.invoice_ids == [invoice.invoice_id]
    # Usage only: a flat fee in arrears is not billed for a period cut short.
    assert [(line.name, line.base, line.end) for line in invoice.line_items] == [
        ("API calls", Decimal("2.00"), final.period_end)
    ]
    assert calls.keys(EventType.SUBSCRIPTION_RENEWED) == []
    # Announced by the step that ends it, with its final invoice (as Lotus): not before.
    cancel_step, end_step = (step for _, step in calls.steps[1:])
    assert (cancel_step.events, cancel_step.invoice) == ([], None)
    [event] = end_step.events
    assert event.business_key == f"subscription.cancelled:{final.subscription_id}"
    assert end_step.invoice is not None and end_step.invoice.invoice_id == invoice.invoice_id
    payload = event.payload
    assert (payload["is_new"], payload["fully_billed"], payload["auto_renew"]) == (
        True,  # cancelled in its first period
        True,
        False,
    )
    assert payload["end_date"] == final.period_end.astimezone(NEW_YORK_ZONE).isoformat()


async def test_cancel_at_period_end_bills_the_whole_period_and_does_not_renew(
    ts_env: WorkflowEnvironment,
) -> None:
    calls = Calls(newest=plan(2))
    starts = monthly_starts(await next_leap_january_31(ts_env), 2)
    async with subscription(ts_env, calls, starts[0], plan()) as handle:
        cancelled = await handle.execute_update(
            SubscriptionWorkflow.cancel, CancelInput(at_period_end=True)
        )
        assert (cancelled.status, cancelled.period_end) == (
            SubscriptionStatus.CANCELLED,
            starts[1] - timedelta(microseconds=1),
        )
        await handle.execute_update(SubscriptionWorkflow.record_usage, usage(150, "after"))
        final = await handle.result()
    assert (final.status, final.sequence) == (SubscriptionStatus.ENDED, 0)
    [(run, invoice)] = calls.invoices
    assert await period_of(ts_env, handle.id, run) == 0 and invoice.plan.version == 1
    assert invoice.amount == Decimal("50.49")  # the flat fee and 50 calls beyond the free 100
    assert [s.status for _, s in calls.records] == [
        SubscriptionStatus.ACTIVE,
        SubscriptionStatus.CANCELLED,
        SubscriptionStatus.ENDED,
    ]
    assert [s.auto_renew for _, s in calls.records] == [True, False, False]
    assert calls.keys(EventType.SUBSCRIPTION_RENEWED) == []
    # Nothing announced at the cancellation: usage after it still fires the alert, and its
    # subscription shows it will not renew. subscription.cancelled comes as the period ends,
    # with the final invoice, its end date the period's.
    _, cancel_step, end_step = (step for _, step in calls.steps)
    assert cancel_step.events == []
    [alert] = [e for e in calls.events if e.event_type is EventType.USAGE_ALERT_TRIGGERED]
    assert alert.payload["subscription"]["auto_renew"] is False
    [event] = end_step.events
    assert event.event_type is EventType.SUBSCRIPTION_CANCELLED
    assert starts[1] <= end_step.at < starts[1] + timedelta(seconds=1)  # at the period's end
    assert end_step.invoice == invoice
    assert (event.payload["is_new"], event.payload["fully_billed"]) == (True, True)
    assert event.payload["end_date"] == (starts[1] - timedelta(microseconds=1)).isoformat()
