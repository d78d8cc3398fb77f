"""Renewals in a burst: N subscriptions whose periods end at the same instant.

    .venv/bin/python bench/renewals.py [--count 1000] [--scale 5000]

billhook's side: N subscription workflows on one plan (a flat fee in arrears) start with the
same anchor, so every period ends at the same instant; at that instant each one invoices the
period (an ``InvoiceWorkflow``, ``invoice.created``), renews (``subscription.renewed``) and
continues as new. Measured: from that instant until the receiver, in its own process, has
every ``subscription.renewed`` and ``invoice.created``, each verified with the endpoint's
secret. Beside it, in the same run and on the same dev server, the bare-engine pattern
(``bench/bare.py``: timer, child workflow, one signed POST activity, continue-as-new) for the
same count. Prints renewals per second of both and their ratio (target >= 1.0). With
``--scale M`` it runs billhook's side again with M subscriptions and prints the cost per
renewal at M against N (target within 1.2x). Also prints, for each side, the CPU time the
dev server and the worker spent per renewal in the measured window: a figure that machine
noise moves far less than a rate. Writes bench/results/renewals.json.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import uuid
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import sqlalchemy as sa
from bare import BareActivities, BareInput, BareRenewalWorkflow, BareSubscriptionWorkflow
from harness import cpu_seconds, dev_server, dev_server_pid, progress, write_results
from pipeline import new_task_queue, open_store, worker_process
from receiver_process import ReceiverProcess
from temporalio.client import Client
from temporalio.worker import Worker

from client.starts import start_subscription
from models.billing import ChargeTiming, CustomerSnapshot, SubscriptionWorkflowInput
from models.events import EventType
from models.signing import generate_secret
from store import Store
from store.catalog import Catalog, PlanVersionSpec
from store.tables import Message
from worker import http_client

#: Subscriptions started at once while setting up.
STARTERS = 50


def period_for(count: int) -> timedelta:
    """A first period long enough to start ``count`` subscriptions before it ends.

    Starting takes about 20 ms a subscription here (50 at once); the margin covers a loaded
    machine. Setting up past the period end stops the run with a message to raise it.
    """
    return timedelta(seconds=20 + count * 0.04)


async def start_all(count: int, label: str, start: Callable[[int], Awaitable[object]]) -> None:
    limit = asyncio.Semaphore(STARTERS)
    done = 0

    async def one(i: int) -> None:
        nonlocal done
        async with limit:
            await start(i)
        done += 1
        progress(label, done, count)

    await asyncio.gather(*(one(i) for i in range(count)))


def ends_at(period: timedelta) -> datetime:
    return (datetime.now(UTC) + period).replace(microsecond=0)


@dataclass
class Burst:
    """One side's burst: seconds from the period end until the last event was received, and
    the CPU seconds the dev server and the worker spent in that window."""

    seconds: float
    server_cpu: float
    worker_cpu: float
    #: Dispatcher batches that delivered the events (billhook's side only).
    batches: int = 0

    def figures(self, side: str, count: int) -> dict[str, float]:
        return {
            f"{side}_renewals_per_second": round(count / self.seconds, 1),
            f"{side}_server_cpu_ms_per_renewal": round(1000 * self.server_cpu / count, 2),
            f"{side}_worker_cpu_ms_per_renewal": round(1000 * self.worker_cpu / count, 2),
        }


def batches_since(store: Store, since: datetime) -> int:
    """Dispatcher batches that accepted the messages created since ``since``."""
    query = sa.select(sa.func.count(sa.distinct(Message.accepted_by))).where(
        Message.created_at >= since  # type: ignore[arg-type]
    )
    with store.engine.connect() as connection:
        return int(connection.execute(query).scalar_one())


async def billhook_side(
    client: Client, store: Store, rx: ReceiverProcess, secret: str, count: int
) -> Burst:
    """From the shared period end until every renewal's two events were received."""
    catalog = Catalog(store.engine)
    now = datetime.now(UTC)
    customer = catalog.create_customer(
        CustomerSnapshot(customer_id=f"bench-{uuid.uuid4().hex[:8]}", name="Bench"), now
    )
    period = period_for(count)
    plan = catalog.create_plan(
        "Bench",
        PlanVersionSpec(
            period=f"PT{int(period.total_seconds())}S",
            flat_amount=Decimal(10),
            flat_timing=ChargeTiming.IN_ARREARS,
        ),
        now,
    )
    types = [EventType.SUBSCRIPTION_RENEWED.value, EventType.INVOICE_CREATED.value]
    endpoint, _ = store.create_endpoint(rx.urls[0], types, now, secret=secret)
    queue = new_task_queue("renewals")
    end = ends_at(period)
    anchor = end - period

    async def subscribe(i: int) -> None:
        input = SubscriptionWorkflowInput(
            subscription_id=f"sub_{uuid.uuid4().hex}", customer=customer, plan=plan, anchor=anchor
        )
        await start_subscription(client, queue, input)

    try:
        with worker_process(client, store, queue) as worker:
            await start_all(count, "billhook: subscriptions started", subscribe)
            # They renew onto the plan's newest version: a monthly one, so one wave is measured.
            monthly = PlanVersionSpec(flat_amount=Decimal(10), flat_timing=ChargeTiming.IN_ARREARS)
            catalog.new_plan_version(plan.plan_id, monthly, datetime.now(UTC))
            label = f"billhook: events at {count} renewals"
            burst = await _measure(rx, end, 2 * count, label, worker)
            burst.batches = batches_since(store, end)
            return burst
    finally:
        # A second run (--scale) has an endpoint of its own at the same receiver: this one
        # would receive its events too, every message twice.
        store.delete_endpoint(endpoint.id)


async def bare_side(client: Client, rx: ReceiverProcess, secret: str, count: int) -> Burst:
    """The same burst in the bare-engine pattern (one POST per renewal)."""
    queue = new_task_queue("bare")
    period = period_for(count)
    end = ends_at(period)

    async def subscribe(i: int) -> None:
        input = BareInput(
            subscription_id=f"{i:08d}", period_end=end, period=timedelta(days=1), url=rx.urls[1]
        )
        await client.start_workflow(
            BareSubscriptionWorkflow.run, input, id=f"bare-{queue}-{i}", task_queue=queue
        )

    async with http_client() as http:
        with ThreadPoolExecutor(4) as executor:
            worker = Worker(
                client,
                task_queue=queue,
                workflows=[BareSubscriptionWorkflow, BareRenewalWorkflow],
                activities=[BareActivities(http, secret).post_renewal],
                activity_executor=executor,
            )
            async with worker:
                await start_all(count, "bare: subscriptions started", subscribe)
                # Its worker is this process's (which otherwise only waits for the receiver).
                label = f"bare: POSTs at {count} renewals"
                return await _measure(rx, end, count, label, os.getpid())


async def _measure(
    rx: ReceiverProcess, end: datetime, expected: int, label: str, worker: int
) -> Burst:
    if datetime.now(UTC) >= end - timedelta(seconds=2):
        raise SystemExit("error: setting up took past the period end; raise period_for()")
    print(
        f"{label}: set up; waiting {(end - datetime.now(UTC)).total_seconds():.0f} s "
        "for the period end",
        file=sys.stderr,
        flush=True,
    )
    rx.reset()
    await asyncio.sleep((end - datetime.now(UTC)).total_seconds())
    server = dev_server_pid()
    cpu = cpu_seconds(server, children=True), cpu_seconds(worker)
    # Generous: a slow run should print its figure, not time out.
    within = 120 + expected * 0.5
    await asyncio.to_thread(rx.wait_for, expected, within, lambda n: progress(label, n, expected))
    records = rx.records()
    stats = rx.stats()
    if stats["verified"] != expected or stats["unique"] != expected:
        raise SystemExit(f"error: {label}: {stats}")
    return Burst(
        seconds=max(float(r["received_at"]) for r in records) - end.timestamp(),
        server_cpu=cpu_seconds(server, children=True) - cpu[0],
        worker_cpu=cpu_seconds(worker) - cpu[1],
    )


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--scale", type=int, default=0, help="also run billhook at this count")
    args = parser.parse_args()
    secret = generate_secret()
    figures: dict[str, object] = {"count": args.count}
    with (
        ReceiverProcess(count=2, secrets=[secret, secret]) as rx,
        tempfile.TemporaryDirectory() as tmp,
    ):
        print("starting Temporal dev server ...", file=sys.stderr, flush=True)
        async with dev_server(Path(tmp)) as env:
            store = open_store(Path(tmp))
            bare = await bare_side(env.client, rx, secret, args.count)
            ours = await billhook_side(env.client, store, rx, secret, args.count)
            scaled = (
                await billhook_side(env.client, store, rx, secret, args.scale)
                if args.scale
                else None
            )
    figures |= ours.figures("billhook", args.count) | bare.figures("bare", args.count)
    figures["billhook_batches"] = ours.batches
    figures["ratio"] = round(bare.seconds / ours.seconds, 3)
    lines = [
        f"billhook: {figures['billhook_renewals_per_second']} renewals/s ({args.count} at once; "
        "2 verified events each: subscription.renewed, invoice.created)",
        f"          events delivered in {ours.batches} dispatcher batches",
        f"bare:     {figures['bare_renewals_per_second']} renewals/s "
        "(timer, child workflow, one signed POST, continue-as-new)",
        f"CPU per renewal: billhook server {figures['billhook_server_cpu_ms_per_renewal']} ms, "
        f"worker {figures['billhook_worker_cpu_ms_per_renewal']} ms; "
        f"bare server {figures['bare_server_cpu_ms_per_renewal']} ms, "
        f"worker {figures['bare_worker_cpu_ms_per_renewal']} ms",
    ]
    if scaled is not None:
        cost = (scaled.seconds / args.scale) / (ours.seconds / args.count)
        figures.update(
            scale=args.scale,
            scaled_renewals_per_second=round(args.scale / scaled.seconds, 1),
            cost_ratio_at_scale=round(cost, 3),
        )
        lines.append(
            f"scale:    {figures['scaled_renewals_per_second']} renewals/s at {args.scale}; "
            f"cost per renewal {cost:.2f}x that at {args.count} (target <= 1.2)"
        )
    path = write_results("renewals", figures)
    lines.append(f"results:  {path}")
    lines.append(f"ratio:    {figures['ratio']} (billhook renewals/s / bare; target >= 1.0)")
    print("\n".join(lines))


if __name__ == "__main__":
    asyncio.run(main())
