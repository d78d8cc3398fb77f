"""Throughput: N events through the whole pipeline vs N signed POSTs sent directly with httpx.

Both runs hit the same local receiver in the same process, one after the other, so the printed
ratio (pipeline / direct) is measured in one run and is what to compare across changes.

    .venv/bin/python bench/throughput.py [--events 300] [--concurrency 50]

The pipeline run is everything a real event pays for: a delivery workflow started on Temporal's
dev server (SQLite-backed), the store writes (message, delivery, attempt), signing, the SSRF
check, and the POST. Figures are also written to bench/results/throughput.json.
"""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
import json
import sys
import tempfile
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from activities.signing import generate_secret, webhook_headers
from config import Settings
from models.delivery import DeliveryWorkflowInput
from models.events import EventType, envelope_body
from models.search import ALL_KEYS
from store import Store
from worker import build_worker, http_client
from workflows.delivery import DeliveryWorkflow

PAYLOAD = {"invoice_id": "invoice_" + "0" * 32, "amount": 120.0, "currency": {"code": "USD"}}


class Counter(BaseHTTPRequestHandler):
    """Answers 204 to every POST and counts them (HTTP/1.1 keep-alive, like real receivers)."""

    protocol_version = "HTTP/1.1"
    count = 0
    lock = threading.Lock()

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("content-length", 0)))
        with Counter.lock:
            Counter.count += 1
        self.send_response(204)
        self.send_header("content-length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


def progress(label: str, done: int, total: int) -> None:
    if done == total or done % max(1, total // 10) == 0:
        print(f"{label}: {done}/{total}", file=sys.stderr, flush=True)


async def direct(url: str, n: int, concurrency: int) -> float:
    """N signed POSTs with httpx alone; returns elapsed seconds."""
    secret = generate_secret()
    limit = asyncio.Semaphore(concurrency)
    done = 0

    async def one(client: httpx.AsyncClient, i: int) -> None:
        nonlocal done
        async with limit:
            body = envelope_body(
                attempt=1,
                created_at=datetime.now(UTC),
                event_type="invoice.created",
                payload=PAYLOAD,
            )
            headers = webhook_headers([secret], f"msg_{i:032x}", int(time.time()), body, "bench")
            response = await client.post(url, content=body, headers=headers)
            response.raise_for_status()
            done += 1
            progress("direct  ", done, n)

    async with httpx.AsyncClient(timeout=15) as client:
        start = time.perf_counter()
        await asyncio.gather(*(one(client, i) for i in range(n)))
        elapsed = time.perf_counter() - start
    print(file=sys.stderr)
    return elapsed


async def pipeline(
    env: WorkflowEnvironment, store: Store, url: str, n: int, concurrency: int
) -> float:
    """N events emitted and delivered by billhook's worker; returns elapsed seconds."""
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        task_queue=f"bench-{uuid.uuid4().hex}",
        database_url=str(store.engine.url),
        allowed_networks=[ipaddress.ip_network("127.0.0.0/8")],
    )
    store.create_endpoint(url, ["invoice.created"], now=datetime.now(UTC))
    limit = asyncio.Semaphore(concurrency)
    done = 0

    async def one(i: int) -> None:
        nonlocal done
        event = DeliveryWorkflowInput.for_event(
            EventType.INVOICE_CREATED, f"bench:{i}:{uuid.uuid4().hex}", PAYLOAD, datetime.now(UTC)
        )
        async with limit:
            await env.client.execute_workflow(
                DeliveryWorkflow.run, event, id=event.message_id, task_queue=settings.task_queue
            )
        done += 1
        progress("pipeline", done, n)

    async with http_client() as http:
        with ThreadPoolExecutor(max_workers=32) as executor:
            async with build_worker(env.client, settings, store, http, executor):
                start = time.perf_counter()
                await asyncio.gather(*(one(i) for i in range(n)))
                elapsed = time.perf_counter() - start
    print(file=sys.stderr)
    return elapsed


async def main() -> None:
    parser = argparse.ArgumentParser(description="billhook delivery throughput vs raw httpx")
    parser.add_argument("--events", type=int, default=300)
    parser.add_argument("--concurrency", type=int, default=50)
    args = parser.parse_args()
    ThreadingHTTPServer.request_queue_size = 256  # 50 concurrent clients overflow the default 5
    server = ThreadingHTTPServer(("127.0.0.1", 0), Counter)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    bin_dir = Path(sys.executable).parent
    with tempfile.TemporaryDirectory() as tmp:
        store = Store.from_url(f"sqlite:///{tmp}/bench.db")
        store.upgrade()
        print("starting Temporal dev server ...", file=sys.stderr)
        env = await WorkflowEnvironment.start_local(
            dev_server_existing_path=str(bin_dir / "temporal"),
            data_converter=pydantic_data_converter,
            search_attributes=ALL_KEYS,
            dev_server_log_level="error",
        )
        try:
            piped = await pipeline(env, store, url, args.events, args.concurrency)
        finally:
            await env.shutdown()
    raw = await direct(url, args.events, args.concurrency)
    server.shutdown()
    assert Counter.count == 2 * args.events, Counter.count
    figures = {
        "events": args.events,
        "concurrency": args.concurrency,
        "pipeline_per_second": round(args.events / piped, 1),
        "direct_per_second": round(args.events / raw, 1),
        "ratio_pipeline_to_direct": round(raw / piped, 4),
    }
    print(
        f"pipeline: {figures['pipeline_per_second']} events/s "
        f"(workflow + store + signed POST, {args.events} events)\n"
        f"direct:   {figures['direct_per_second']} POSTs/s (httpx alone)\n"
        f"ratio:    {figures['ratio_pipeline_to_direct']} (pipeline rate / direct rate)"
    )
    out = Path(__file__).with_name("results")
    out.mkdir(exist_ok=True)
    (out / "throughput.json").write_text(json.dumps(figures, indent=2) + "\n")


if __name__ == "__main__":
    asyncio.run(main())
