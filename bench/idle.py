"""Idle cost: N active monthly subscriptions asleep on their timers.

    .venv/bin/python bench/idle.py [--count 10000] [--seconds 60]

Starts N subscriptions on a monthly plan (each emits ``subscription.created`` on the way, to one
endpoint), waits until every one has reached its timer, then measures, over ``--seconds`` of
idleness, the resident memory of the dev server plus the worker (``python worker.py`` in its
own process) and their CPU use. Targets at 10,000: under 1 GiB, under 2 % of one core. Prints
the per-subscription memory, from which the README extrapolates, and the CPU share last;
writes bench/results/idle.json.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

from harness import cpu_seconds, dev_server, dev_server_pid, progress, rss_bytes, write_results
from pipeline import new_task_queue, open_store, worker_process
from receiver_process import ReceiverProcess

from client.starts import start_subscription
from models.billing import ChargeTiming, CustomerSnapshot, SubscriptionWorkflowInput
from models.events import EventType
from store.catalog import Catalog, PlanVersionSpec

STARTERS = 50
MiB = 1024 * 1024


async def run(rx: ReceiverProcess, count: int, seconds: float) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        store = open_store(Path(tmp))
        catalog = Catalog(store.engine)
        now = datetime.now(UTC)
        customer = catalog.create_customer(
            CustomerSnapshot(customer_id=f"idle-{uuid.uuid4().hex[:8]}", name="Idle"), now
        )
        spec = PlanVersionSpec(flat_amount=Decimal(10), flat_timing=ChargeTiming.IN_ARREARS)
        plan = catalog.create_plan("Monthly", spec, now)
        store.create_endpoint(rx.urls[0], [EventType.SUBSCRIPTION_CREATED.value], now)
        print("starting Temporal dev server and a worker ...", file=sys.stderr, flush=True)
        async with dev_server(Path(tmp)) as env:
            server = dev_server_pid()
            queue = new_task_queue("idle")
            with worker_process(env.client, store, queue) as worker:
                limit = asyncio.Semaphore(STARTERS)
                started = 0

                async def subscribe() -> None:
                    nonlocal started
                    input = SubscriptionWorkflowInput(
                        subscription_id=f"sub_{uuid.uuid4().hex}",
                        customer=customer,
                        plan=plan,
                        anchor=datetime.now(UTC),
                    )
                    async with limit:
                        await start_subscription(env.client, queue, input)
                    started += 1
                    progress("subscriptions started", started, count)

                setup = time.perf_counter()
                await asyncio.gather(*(subscribe() for _ in range(count)))
                await asyncio.to_thread(
                    rx.wait_for, count, 3600, lambda n: progress("asleep", n, count)
                )
                setup = time.perf_counter() - setup
                await asyncio.sleep(5)  # let the last workflow tasks and batches finish
                return _measure(server, worker, seconds) | {"setup_seconds": setup}


def _measure(server: int, worker: int, seconds: float) -> dict[str, float]:
    print(f"idle: measuring for {seconds:g} s ...", file=sys.stderr, flush=True)
    before = cpu_seconds(server, children=True) + cpu_seconds(worker)
    start = time.perf_counter()
    peak = 0
    while time.perf_counter() - start < seconds:
        peak = max(peak, rss_bytes(server, children=True) + rss_bytes(worker))
        time.sleep(1)
    used = cpu_seconds(server, children=True) + cpu_seconds(worker) - before
    return {
        "rss_mib": round(peak / MiB, 1),
        "server_rss_mib": round(rss_bytes(server, children=True) / MiB, 1),
        "worker_rss_mib": round(rss_bytes(worker) / MiB, 1),
        "cpu_percent_of_one_core": round(100 * used / (time.perf_counter() - start), 2),
    }


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=10_000)
    parser.add_argument("--seconds", type=float, default=60.0)
    args = parser.parse_args()
    with ReceiverProcess(count=1) as rx:
        figures = {"count": args.count, "seconds": args.seconds}
        figures |= await run(rx, args.count, args.seconds)
    per_sub_kib = figures["rss_mib"] * 1024 / args.count
    figures["kib_per_subscription"] = round(per_sub_kib, 1)
    path = write_results("idle", figures)
    print(
        f"setup:   {args.count} subscriptions asleep after {figures['setup_seconds']:.0f} s\n"
        f"memory:  {figures['rss_mib']} MiB (dev server {figures['server_rss_mib']}, "
        f"worker {figures['worker_rss_mib']}; target < 1024 at 10,000)\n"
        f"results: {path}\n"
        f"cpu:     {figures['cpu_percent_of_one_core']} % of one core while idle "
        "(target < 2 %)"
    )


if __name__ == "__main__":
    asyncio.run(main())
