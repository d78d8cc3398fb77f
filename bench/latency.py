"""Latency: events emitted at a steady rate, from emission (``created_at``) to the receiver.

    .venv/bin/python bench/latency.py [--rate 20] [--seconds 60]

One event every 1/rate seconds is emitted (a signal to its dispatcher, as a billing workflow or
an application emits), delivered by ``python worker.py`` in its own process to a receiver in
another; the receiver notes when each request arrived. The latency of an event is that time
minus the event's ``created_at`` (set as it is emitted), on the same machine's clock. Prints
p50, p95, p99 and max, p95 last against its target (100 ms); writes bench/results/latency.json.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from harness import dev_server, progress, write_results
from pipeline import invoice_event, new_task_queue, open_store, worker_process
from receiver_process import ReceiverProcess

from client.publisher import Publisher
from models.events import EventType

TARGET_P95_MS = 100.0


async def run(rx: ReceiverProcess, rate: float, seconds: float) -> list[float]:
    """Emit at ``rate`` for ``seconds``; each event's latency in milliseconds."""
    total = int(rate * seconds)
    with tempfile.TemporaryDirectory() as tmp:
        store = open_store(Path(tmp))
        store.create_endpoint(rx.urls[0], [EventType.INVOICE_CREATED.value], datetime.now(UTC))
        print("starting Temporal dev server and a worker ...", file=sys.stderr, flush=True)
        async with dev_server(Path(tmp)) as env:
            queue = new_task_queue("latency")
            with worker_process(env.client, store, queue):
                publisher = Publisher(env.client, queue, shards=4)
                for n in range(5):  # warm up every dispatcher shard and the connection pool
                    await publisher.publish([invoice_event(f"warm-up:{n}:{queue}")])
                await asyncio.to_thread(rx.wait_for, 5, 60)
                rx.reset()
                await _emit_steadily(publisher, queue, total, rate)
                await asyncio.to_thread(rx.wait_for, total, 60)
    return [_latency_ms(record) for record in rx.records()]


async def _emit_steadily(publisher: Publisher, queue: str, total: int, rate: float) -> None:
    start = time.perf_counter()
    sends: list[asyncio.Task[None]] = []
    for n in range(total):
        await asyncio.sleep(max(0.0, start + n / rate - time.perf_counter()))
        sends.append(asyncio.create_task(publisher.publish([invoice_event(f"lat:{n}:{queue}")])))
        progress("emitted", n + 1, total)
    await asyncio.gather(*sends)


def _latency_ms(record: dict[str, object]) -> float:
    created = datetime.fromisoformat(str(record["created_at"]))
    return (float(str(record["received_at"])) - created.timestamp()) * 1000


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=20.0, help="events per second")
    parser.add_argument("--seconds", type=float, default=60.0)
    args = parser.parse_args()
    with ReceiverProcess(count=1) as rx:
        latencies = await run(rx, args.rate, args.seconds)
    figures = {
        "rate_per_second": args.rate,
        "seconds": args.seconds,
        "events": len(latencies),
        "p50_ms": round(statistics.median(latencies), 1),
        "p95_ms": round(percentile(latencies, 0.95), 1),
        "p99_ms": round(percentile(latencies, 0.99), 1),
        "max_ms": round(max(latencies), 1),
        "target_p95_ms": TARGET_P95_MS,
    }
    path = write_results("latency", figures)
    print(
        f"events:  {figures['events']} at {args.rate:g}/s for {args.seconds:g} s\n"
        f"p50:     {figures['p50_ms']} ms   p99: {figures['p99_ms']} ms   "
        f"max: {figures['max_ms']} ms\n"
        f"results: {path}\n"
        f"p95:     {figures['p95_ms']} ms (emission to receipt; target <= {TARGET_P95_MS:g} ms)"
    )


if __name__ == "__main__":
    asyncio.run(main())
