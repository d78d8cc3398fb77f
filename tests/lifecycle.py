"""Billing set-ups shared by the lifecycle tests: a catalog, a plan, a running subscription."""

from __future__ import annotations

import asyncio
import calendar
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from temporalio.client import Client, WorkflowHandle
from temporalio.testing import WorkflowEnvironment

from client.starts import start_subscription
from models.billing import (
    Aggregation,
    ChargeTiming,
    CustomerSnapshot,
    MetricSnapshot,
    PlanVersionSnapshot,
    SubscriptionState,
    SubscriptionWorkflowInput,
)
from models.periods import in_timezone, zone
from store import Store
from store.catalog import Catalog, ComponentSpec, PlanVersionSpec
from workflows.subscription import SubscriptionWorkflow

NEW_YORK = "America/New_York"


@dataclass
class Billing:
    """A customer in New York on a plan billing API calls: flat fee plus usage over 100 free."""

    catalog: Catalog
    customer: CustomerSnapshot
    metric: MetricSnapshot
    plan: PlanVersionSnapshot


def billing_setup(
    store: Store,
    *,
    period: str = "monthly",
    flat: str | None = "49.99",
    timing: ChargeTiming = ChargeTiming.IN_ARREARS,
    threshold: str | None = None,
    net_terms_days: int | None = 30,
) -> Billing:
    now = datetime.now(UTC)
    catalog = Catalog(store.engine)
    customer = catalog.create_customer(
        CustomerSnapshot(
            customer_id=f"cust-{uuid.uuid4().hex[:8]}",
            name="Acme Corp",
            email="billing@acme.test",
            timezone=NEW_YORK,
        ),
        now,
    )
    metric = catalog.create_metric("API calls", "api_call", Aggregation.COUNT, now)
    spec = PlanVersionSpec(
        period=period,
        flat_amount=Decimal(flat) if flat is not None else None,
        flat_timing=timing,
        components=[
            ComponentSpec(
                metric_id=metric.metric_id, unit_price=Decimal("0.01"), free_units=Decimal(100)
            )
        ],
        net_terms_days=net_terms_days,
    )
    plan = catalog.create_plan("Pro", spec, now)
    if threshold is not None:
        catalog.create_alert(metric.metric_id, plan.version_id, Decimal(threshold), now)
        plan = catalog.get_version(plan.version_id)
    return Billing(catalog, customer, metric, plan)


async def subscribe(
    client: Client, task_queue: str, billing: Billing, anchor: datetime, auto_renew: bool = True
) -> WorkflowHandle[SubscriptionWorkflow, SubscriptionState]:
    """Start a subscription for the set-up's customer, its first period starting at ``anchor``."""
    input = SubscriptionWorkflowInput(
        subscription_id=f"sub_{uuid.uuid4().hex}",
        customer=billing.customer,
        plan=billing.plan,
        anchor=anchor,
        auto_renew=auto_renew,
    )
    return await start_subscription(client, task_queue, input)


def local(*args: int) -> datetime:
    """A wall-clock time in New York."""
    return datetime(*args, tzinfo=zone(NEW_YORK))  # type: ignore[misc]


async def now_in_new_york(env: WorkflowEnvironment) -> datetime:
    """The test server's current time (which only moves forward) in New York, whole seconds."""
    return in_timezone(await env.get_current_time(), NEW_YORK).replace(microsecond=0)


async def next_leap_january_31(env: WorkflowEnvironment) -> datetime:
    """Local midnight of January 31 of the next leap year: a February 29 follows."""
    year = (await env.get_current_time()).year + 1
    while not calendar.isleap(year):
        year += 1
    return local(year, 1, 31)


def monthly_starts(first: datetime, count: int) -> list[datetime]:
    """Starts of monthly periods from ``first`` by the calendar: its day, clamped per month."""
    starts = []
    for i in range(count):
        year, month = divmod(first.month - 1 + i, 12)
        year += first.year
        day = min(first.day, calendar.monthrange(year, month + 1)[1])
        starts.append(local(year, month + 1, day))
    return starts


def messages(store: Store, event_type: str) -> list[dict[str, Any]]:
    """Messages of a type in a test's own store, oldest first, with their payload's fields."""
    found = sorted(
        store.list_messages(event_type=event_type, limit=10_000),
        key=lambda m: (m.created_at, m.business_key),
    )
    return [{"id": m.id, "key": m.business_key, **store.get_message(m.id).payload} for m in found]


async def settled(store: Store, event_type: str, count: int, wait: float = 15) -> None:
    """Wait (with the worker still running) until ``count`` messages of a type are stored.

    Children a workflow started just before it closed (its last invoice and that invoice's
    events) go on after ``handle.result()`` returns.
    """
    deadline = asyncio.get_running_loop().time() + wait
    while len(store.list_messages(event_type=event_type, limit=10_000)) < count:
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"fewer than {count} {event_type} messages after {wait} s")
        await asyncio.sleep(0.05)
