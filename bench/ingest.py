"""Usage ingest: batches of records through the REST API against the command line's one record.

    .venv/bin/python bench/ingest.py [--records 1000] [--batches 5] [--single 50] [--commands 3]

The embedded default, as ``make run`` runs it: Temporal's dev server on its SQLite file, the
SQLite store, ``python worker.py`` and ``billhook serve`` in processes of their own. Ten
subscriptions bill one metric. Measured, in the same run:

- the API: ``--batches`` requests of ``--records`` records each (``POST /usage``, spread over
  the subscriptions, every record with its own key), from the request to its answer;
- the command line's single-record path: ``--single`` records one after another through
  ``BillhookClient.usage.record``, the call ``billhook usage record`` makes (one workflow update
  per record), and ``--commands`` runs of the command itself, process start included.

Then it checks every subscription's usage is the sum of what was sent. Prints records per second
of both paths and their ratio last (API / command line path); writes bench/results/ingest.json.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path

import httpx
from harness import ROOT, dev_server, progress, write_results
from pipeline import WORKER_ENV, new_task_queue, open_store, worker_process

from client import BillhookClient
from client.inputs import MetricInput, SubscriptionInput
from config import Settings
from models.billing import CustomerSnapshot, UsageInput
from store.catalog import ComponentSpec, PlanVersionSpec

SUBSCRIPTIONS = 10
BILLHOOK = Path(sys.executable).with_name("billhook")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def environment(settings: Settings) -> dict[str, str]:
    """The process environment of ``billhook`` commands on the benchmark's store and queue."""
    return {
        **{k: v for k, v in os.environ.items() if not k.startswith("BILLHOOK_")},
        **WORKER_ENV,
        "BILLHOOK_TEMPORAL_ADDRESS": settings.temporal_address,
        "BILLHOOK_DATABASE_URL": settings.database_url,
        "BILLHOOK_TASK_QUEUE": settings.task_queue,
    }


@contextmanager
def api_process(settings: Settings, port: int) -> Iterator[str]:
    """``billhook serve`` on ``port`` for the block, once it answers; its base URL."""
    process = subprocess.Popen(
        [str(BILLHOOK), "serve", "--port", str(port)], cwd=ROOT, env=environment(settings)
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(url + "/health", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise SystemExit("error: billhook serve did not start")
            time.sleep(0.2)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=30)


async def setup(billhook: BillhookClient) -> tuple[list[str], str]:
    """Subscriptions billing one metric: their ids and the metric's."""
    customer = f"bench-{uuid.uuid4().hex[:8]}"
    await billhook.customers.create(CustomerSnapshot(customer_id=customer))
    metric = await billhook.metrics.create(MetricInput(name="calls", event_name="call"))
    spec = PlanVersionSpec(
        components=[ComponentSpec(metric_id=metric.metric_id, unit_price=Decimal("0.001"))]
    )
    plan = await billhook.plans.create("Bench", spec)
    subs = []
    for _ in range(SUBSCRIPTIONS):
        view = await billhook.subscriptions.create(
            SubscriptionInput(customer_id=customer, plan_id=plan.plan_id)
        )
        subs.append(view.state.subscription_id)
    return subs, metric.metric_id


async def api_side(
    url: str, key: str, subs: list[str], metric: str, records: int, batches: int
) -> list[float]:
    """Seconds of each batch request, from sending it to its answer."""
    seconds = []
    headers = {"Authorization": f"Bearer {key}"}
    async with httpx.AsyncClient(base_url=url, headers=headers, timeout=120) as http:
        for batch in range(batches):
            body = {
                "records": [
                    {
                        "subscription_id": subs[n % len(subs)],
                        "metric_id": metric,
                        "quantity": "1",
                        "idempotency_key": f"api-{batch}-{n}",
                    }
                    for n in range(records)
                ]
            }
            started = time.perf_counter()
            answer = await http.post("/usage", json=body)
            seconds.append(time.perf_counter() - started)
            if answer.status_code != 200 or answer.json()["accepted"] != records:
                raise SystemExit(f"error: batch {batch}: {answer.status_code} {answer.text[:300]}")
            progress(f"API: batches of {records}", batch + 1, batches)
    return seconds


async def single_side(billhook: BillhookClient, subs: list[str], metric: str, count: int) -> float:
    """Seconds for ``count`` records one after another, as ``billhook usage record`` sends each."""
    started = time.perf_counter()
    for n in range(count):
        usage = UsageInput(metric_id=metric, quantity=Decimal(1), idempotency_key=f"one-{n}")
        await billhook.usage.record(subs[n % len(subs)], usage)
        progress("command line path: records", n + 1, count)
    return time.perf_counter() - started


def command_side(settings: Settings, sub: str, metric: str, count: int) -> list[float]:
    """Seconds of each ``billhook usage record`` run, process start included."""
    seconds = []
    for n in range(count):
        started = time.perf_counter()
        subprocess.run(
            [str(BILLHOOK), "usage", "record", sub, metric, "1", "--key", f"cmd-{n}"],
            cwd=ROOT,
            env=environment(settings),
            check=True,
            capture_output=True,
        )
        seconds.append(time.perf_counter() - started)
        progress("billhook usage record: runs", n + 1, count)
    return seconds


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=1000, help="records per API request")
    parser.add_argument("--batches", type=int, default=5, help="API requests")
    parser.add_argument("--single", type=int, default=50, help="records one by one")
    parser.add_argument("--commands", type=int, default=3, help="runs of the command itself")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        print("starting Temporal dev server ...", file=sys.stderr, flush=True)
        async with dev_server(Path(tmp)) as env:
            store = open_store(Path(tmp))
            settings = Settings(
                _env_file=None,  # type: ignore[call-arg]
                temporal_address=env.client.service_client.config.target_host,
                database_url=str(store.engine.url),
                task_queue=new_task_queue("ingest"),
            )
            billhook = BillhookClient(settings, store=store, temporal=env.client)
            with worker_process(env.client, store, settings.task_queue):
                print("setting up subscriptions ...", file=sys.stderr, flush=True)
                subs, metric = await setup(billhook)
                key = (await billhook.api_keys.create("bench")).secret
                with api_process(settings, free_port()) as url:
                    api = await api_side(url, key, subs, metric, args.records, args.batches)
                single = await single_side(billhook, subs, metric, args.single)
                commands = await asyncio.to_thread(
                    command_side, settings, subs[0], metric, args.commands
                )
                sent = args.records * args.batches + args.single + args.commands
                counted = sum(
                    [
                        (await billhook.subscriptions.show(s)).state.usage.get(metric, 0)
                        for s in subs
                    ]
                )
            if counted != sent:
                raise SystemExit(f"error: {sent} records sent, usage counts {counted}")
    median = statistics.median(api)
    api_rate = args.records / median
    single_rate = args.single / single
    figures = {
        "records_per_request": args.records,
        "requests": args.batches,
        "request_seconds": [round(s, 4) for s in api],
        "median_request_seconds": round(median, 4),
        "api_records_per_second": round(api_rate, 1),
        "single_records": args.single,
        "single_records_per_second": round(single_rate, 1),
        "command_seconds": [round(s, 3) for s in commands],
        "usage_counted": str(counted),
        "ratio": round(api_rate / single_rate, 1),
    }
    path = write_results("ingest", figures)
    print(
        "\n".join(
            [
                f"API:          {args.records} records in {median * 1000:.0f} ms per request "
                f"(median of {args.batches}): {api_rate:.0f} records/s",
                f"command line: {single_rate:.1f} records/s one by one (the update "
                "`billhook usage record` makes); the command itself "
                f"{statistics.median(commands):.2f} s a run with its process start",
                f"checked:      usage counted {counted} = {sent} records sent",
                f"results:      {path}",
                f"ratio:        {figures['ratio']} (API records/s / the command line's "
                "single-record path)",
            ]
        )
    )


if __name__ == "__main__":
    asyncio.run(main())
