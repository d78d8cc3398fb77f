"""Throughput: N events to 2 endpoints through billhook vs 2N signed POSTs sent with httpx alone.

    .venv/bin/python bench/throughput.py [--events 1000] [--concurrency 64]

Both sides send to the same receivers, which run in a process of their own, in one run. The
pipeline side is everything a real event pays for: the emission (a signal to a dispatcher on
Temporal's dev server, persisted in a SQLite file as ``make run`` has it), the store writes
(message, deliveries, attempts recorded before and after), signing, the SSRF check and the POST,
made by ``python worker.py`` in its own process. Its time runs from the first emission until
the receivers have every request. The baseline signs and POSTs the same number of requests with
one ``httpx.AsyncClient``, ``--concurrency`` at once (by default what the worker allows: 32 per
endpoint). Prints both rates and their ratio last; writes bench/results/throughput.json.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from harness import dev_server, direct_posts, progress, write_results
from pipeline import emit_each, invoice_event, new_task_queue, open_store, worker_process
from receiver_process import ReceiverProcess

from client.publisher import Publisher
from models.events import EventType

ENDPOINTS = 2


async def pipeline(rx: ReceiverProcess, events: int, concurrency: int) -> float:
    """``events`` events emitted one by one and delivered to every endpoint; elapsed seconds."""
    with tempfile.TemporaryDirectory() as tmp:
        store = open_store(Path(tmp))
        for url in rx.urls:
            store.create_endpoint(url, [EventType.INVOICE_CREATED.value], now=datetime.now(UTC))
        print("starting Temporal dev server and a worker ...", file=sys.stderr, flush=True)
        async with dev_server(Path(tmp)) as env:
            queue = new_task_queue("throughput")
            with worker_process(env.client, store, queue):
                publisher = Publisher(env.client, queue, shards=4)
                await _warm_up(publisher, rx)
                batch = [invoice_event(f"bench:{i}:{queue}") for i in range(events)]
                start = time.perf_counter()
                emitting = asyncio.create_task(emit_each(publisher, batch, concurrency))
                await asyncio.to_thread(
                    rx.wait_for,
                    events * ENDPOINTS,
                    600,
                    lambda n: progress("pipeline", n, events * ENDPOINTS),
                )
                elapsed = time.perf_counter() - start
                await emitting
    return elapsed


async def _warm_up(publisher: Publisher, rx: ReceiverProcess) -> None:
    """One event first: the worker has polled, the dispatchers exist, connections are open."""
    await publisher.publish([invoice_event(f"warm-up:{time.time_ns()}")])
    await asyncio.to_thread(rx.wait_for, ENDPOINTS, 60)
    rx.reset()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=64)
    args = parser.parse_args()
    with ReceiverProcess(count=ENDPOINTS) as rx:
        piped = await pipeline(rx, args.events, args.concurrency)
        rx.reset()
        raw = await direct_posts(rx.urls, args.events, args.concurrency)
        stats = rx.stats()
    assert stats["received"] == args.events * ENDPOINTS, stats
    posts = args.events * ENDPOINTS
    figures = {
        "events": args.events,
        "endpoints": ENDPOINTS,
        "concurrency": args.concurrency,
        "pipeline_posts_per_second": round(posts / piped, 1),
        "direct_posts_per_second": round(posts / raw, 1),
        "ratio": round(raw / piped, 3),
    }
    path = write_results("throughput", figures)
    print(
        f"pipeline: {figures['pipeline_posts_per_second']} POSTs/s "
        f"({args.events} events x {ENDPOINTS} endpoints, emitted one by one)\n"
        f"direct:   {figures['direct_posts_per_second']} POSTs/s (httpx alone)\n"
        f"results:  {path}\n"
        f"ratio:    {figures['ratio']} (pipeline rate / direct rate; target >= 0.5)"
    )


if __name__ == "__main__":
    asyncio.run(main())
