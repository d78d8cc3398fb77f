"""The composition root: settings -> store, Temporal client, HTTP client -> a billhook worker.

``python worker.py`` runs a worker against the configured Temporal server.
``python worker.py --dev`` (what ``make run`` does) first starts Temporal's dev server, persisted
under ``.data/``, with the Web UI on :8233 and billhook's search attributes registered.

With ``BILLHOOK_METRICS_PORT`` set, the worker serves Prometheus metrics there (Temporal's SDK
metrics and billhook's, see ``activities.metrics``). SIGTERM or SIGINT stops polling, lets the
attempts in flight finish and record themselves, then exits 0.
"""

from __future__ import annotations

import argparse
import asyncio
import compileall
import contextlib
import logging
import os
import signal
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
from temporalio.client import Client
from temporalio.runtime import Runtime, TelemetryConfig
from temporalio.worker import UnsandboxedWorkflowRunner, Worker, WorkflowRunner
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

import logs
from activities.billing import BillingActivities
from activities.delivery import DeliveryActivities
from activities.engine import EngineActivities
from activities.lifecycle import LifecycleActivities
from activities.metrics import DeliveryMetrics, prometheus_config
from client.ids import dispatch_task_queue
from client.publisher import Publisher
from client.starts import start_invoice
from config import Settings, get_settings
from dev_server import dev_server
from errors import BillhookError, StoreUnreachable
from models.billing import InvoiceWorkflowInput
from store import Store
from store.catalog import Catalog
from temporal_client import CONNECT_BACKOFF, connect_when_up
from workflows.customer import CustomerWorkflow
from workflows.delivery import DeliveryWorkflow
from workflows.dispatch import DispatchWorkflow
from workflows.invoice import InvoiceWorkflow
from workflows.manual import ManualDeliveryWorkflow
from workflows.retry import RetryWorkflow
from workflows.subscription import SubscriptionWorkflow

log = logging.getLogger("billhook.worker")

#: Loaded once, outside the workflow sandbox: only ``workflows.*`` is imported afresh for each
#: workflow run. The sandbox re-imports every other module a workflow reaches unless told
#: not to, and a renewal starts two runs (continue-as-new and its invoice): re-importing
#: pydantic models and their libraries cost more CPU than the rest of the renewal. These are
#: side-effect-free at import and deterministic where workflows use them (models), or only
#: referenced (activities, as activity types).
PASSTHROUGH = (
    "models",
    "activities",
    "store",
    "config",
    "errors",
    "pydantic",
    "pydantic_core",
    "pydantic_settings",
    "sqlalchemy",
    "sqlmodel",
    "httpx",
    "httpcore",
    "svix",
    "alembic",
    "zoneinfo",
    # The workflows' shared helpers (constants and functions, no state); each workflow's own
    # module is still imported afresh for each of its runs.
    "workflows.attempt",
    "workflows.emit",
    "workflows.policies",
    "workflows.versions",
)

WORKFLOWS = [
    DispatchWorkflow,
    RetryWorkflow,
    DeliveryWorkflow,
    ManualDeliveryWorkflow,
    CustomerWorkflow,
    SubscriptionWorkflow,
    InvoiceWorkflow,
]


def activities_of(
    delivery: DeliveryActivities,
    billing: BillingActivities,
    engine: EngineActivities,
    lifecycle: LifecycleActivities,
) -> list[Callable[..., Any]]:
    """Every activity the worker runs, bound to their resources."""
    return [
        lifecycle.commit_step,
        engine.publish_events,
        engine.start_invoice,
        delivery.deliver_batch,
        delivery.plan_deliveries,
        delivery.deliver_message,
        delivery.fail_delivery,
        billing.create_customer,
        billing.issue_invoice,
        billing.update_invoice,
        billing.record_subscription,
        billing.latest_plan_version,
    ]


def build_worker(
    client: Client,
    settings: Settings,
    store: Store,
    http: httpx.AsyncClient,
    executor: ThreadPoolExecutor,
    extra_workflows: Sequence[type] = (),
) -> Workers:
    """The workers of one process: used by ``main`` and by the tests alike.

    Two Temporal workers on one client: one for ``settings.task_queue`` (the lifecycle
    workflows, retries, every activity) and one for its dispatch queue
    (``client.ids.dispatch_task_queue``: the few long-lived ``DispatchWorkflow`` runs and their
    batch activity). Apart, the dispatchers keep their own cache and task slots: a burst of
    thousands of renewals neither queues their workflow tasks behind its own nor evicts them
    from the cache, where each eviction made the next task replay a history of megabytes.

    billhook's metrics go to the client's runtime, the one exporting Temporal's own: they are
    served on the same port, and cost nothing when that runtime exports no metrics.
    """
    metrics = DeliveryMetrics.of(client, settings.task_queue)
    delivery = DeliveryActivities(http, store, settings, metrics)
    publisher = Publisher(client, settings.task_queue, settings.delivery_shards)

    async def start(invoice: InvoiceWorkflowInput) -> None:
        await start_invoice(client, settings.task_queue, invoice, eager=True)

    engine = EngineActivities(publisher.publish, start)
    catalog = Catalog(store.engine)
    lifecycle = LifecycleActivities(catalog, publisher.publish, start, settings.organization())
    runner = workflow_runner(settings)
    shutdown = graceful_shutdown_timeout(settings)
    main = Worker(
        client,
        task_queue=settings.task_queue,
        # DispatchWorkflow too: a dispatcher started before 0.6 runs here until it continues
        # as new onto the dispatch queue.
        workflows=[*WORKFLOWS, *extra_workflows],
        activities=activities_of(delivery, BillingActivities(catalog), engine, lifecycle),
        activity_executor=executor,
        max_cached_workflows=settings.workflow_cache,
        max_concurrent_workflow_tasks=settings.workflow_task_slots,
        max_concurrent_local_activities=settings.workflow_task_slots,
        workflow_runner=runner,
        graceful_shutdown_timeout=shutdown,
    )
    dispatch = Worker(
        client,
        task_queue=dispatch_task_queue(settings.task_queue),
        workflows=[DispatchWorkflow],
        activities=[delivery.deliver_batch],
        # Every dispatcher stays cached: one per shard, and a margin for runs being replaced.
        max_cached_workflows=2 * settings.delivery_shards + 2,
        max_concurrent_workflow_tasks=settings.delivery_shards + 1,
        workflow_runner=runner,
        graceful_shutdown_timeout=shutdown,
    )
    return Workers(main, dispatch)


class Workers:
    """Temporal workers run together: ``async with`` starts them all and stops them all.

    Stopping asks every worker at once, so attempts in flight on each finish within one grace
    period (``graceful_shutdown_timeout``), not one after the other.
    """

    def __init__(self, *workers: Worker) -> None:
        self.workers = workers

    async def __aenter__(self) -> Workers:
        async with contextlib.AsyncExitStack() as started:
            for worker in self.workers:
                await started.enter_async_context(worker)
            started.pop_all()  # every worker runs: ``__aexit__`` stops them
        return self

    async def __aexit__(self, *exc_info: Any) -> None:
        await asyncio.gather(*(worker.__aexit__(*exc_info) for worker in self.workers))


def workflow_runner(settings: Settings) -> WorkflowRunner:
    """Temporal's sandbox when ``settings.workflow_sandbox`` (the tests), else plain runs.

    Unsandboxed, a run's workflow code is the worker's own imported module: a new run costs
    an object, not a re-import, and its payloads' serialization context is read directly.
    What the sandbox would catch, the test suite catches, since it runs every workflow
    sandboxed and replays recorded histories.
    """
    if not settings.workflow_sandbox:
        return UnsandboxedWorkflowRunner()
    compile_workflows()
    return SandboxedWorkflowRunner(
        restrictions=SandboxRestrictions.default.with_passthrough_modules(*PASSTHROUGH)
    )


def compile_workflows() -> None:
    """Write the bytecode of ``workflows/`` if it is missing or stale.

    The sandbox imports a workflow's module afresh for each of its runs: without a ``.pyc``
    (``PYTHONDONTWRITEBYTECODE``, set in many container images, or a fresh checkout) Python
    compiles the source every time, a fifth of the worker's CPU in a burst of renewals. Written
    where Python would write it; a read-only tree (the image, which compiles at build) is left
    as it is.
    """
    with contextlib.suppress(OSError):
        compileall.compile_dir(Path(__file__).parent / "workflows", quiet=2)


def graceful_shutdown_timeout(settings: Settings) -> timedelta:
    """How long a stopping worker lets attempts in flight finish and record themselves.

    An attempt is bounded by the HTTP timeout; the margin covers recording it in the store.
    """
    return timedelta(seconds=settings.request_timeout_seconds + 5)


def telemetry_runtime(settings: Settings) -> Runtime | None:
    """The SDK runtime the worker's client uses; None (the SDK's default) when nothing is set.

    Raises:
        SystemExit: the metrics port cannot be bound (in use, or not allowed).
    """
    port = settings.metrics_port
    if port is None and settings.log_format == "text":
        return None
    try:
        return Runtime(
            telemetry=TelemetryConfig(
                logging=logs.core_logging(settings.log_format),
                metrics=prometheus_config(port) if port is not None else None,
            )
        )
    except ValueError as exc:
        raise SystemExit(
            f"error: cannot serve metrics on port {port}: {exc}; "
            "set BILLHOOK_METRICS_PORT to a free port"
        ) from exc


def http_client() -> httpx.AsyncClient:
    """The delivery HTTP client: no redirects, verified TLS, timeouts set per attempt."""
    return httpx.AsyncClient(
        follow_redirects=False,
        verify=True,
        trust_env=False,
        limits=httpx.Limits(max_connections=200, max_keepalive_connections=50),
    )


async def run_worker(settings: Settings, stop: asyncio.Event) -> None:
    """Migrate the store, connect, and run the worker until ``stop`` is set."""
    store = Store.from_url(settings.database_url)
    if not await migrate_when_up(store, stop):
        return
    client = await connect_when_up(settings, telemetry_runtime(settings), stop)
    if client is None:
        return
    if settings.metrics_port is not None:
        log.info("metrics on http://0.0.0.0:%d/metrics", settings.metrics_port)
    async with http_client() as http:
        with ThreadPoolExecutor(max_workers=32, thread_name_prefix="billhook-store") as executor:
            async with build_worker(client, settings, store, http, executor):
                log.info(
                    "worker on task queue %r of %s (namespace %s)",
                    settings.task_queue,
                    client.service_client.config.target_host,
                    client.namespace,
                )
                await stop.wait()
                grace = graceful_shutdown_timeout(settings).total_seconds()
                log.info("stopping: no new tasks; attempts in flight have %g s to finish", grace)
                stopping = time.monotonic()
            # Leaving the block waited for the attempts in flight, or cancelled the late ones.
            _log_stopped(time.monotonic() - stopping, grace)


async def migrate_when_up(store: Store, stop: asyncio.Event) -> bool:
    """Migrate the store, retrying with backoff while a database server does not answer.

    A worker started while PostgreSQL is down (a compose file, a failover) waits for it, like
    ``connect_when_up`` waits for Temporal. An SQLite file that cannot be opened, or any other
    refusal, is not waited for: it fails at once. False when ``stop`` is set first.

    Raises:
        StoreNotReady: the store cannot be used and waiting will not change that.
    """
    delay, most = CONNECT_BACKOFF
    while True:
        try:
            await asyncio.to_thread(store.upgrade)
            return True
        except StoreUnreachable as exc:
            if store.engine.dialect.name == "sqlite":
                raise
            log.warning("%s; retrying in %.0f s", exc, delay)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=delay)
            return False
        delay = min(delay * 2, most)


def _log_stopped(waited: float, grace: float) -> None:
    if waited < grace:
        log.info("worker stopped after %.1f s: attempts in flight finished and recorded", waited)
    else:
        log.warning(
            "worker stopped: attempts still running after %g s were cancelled; "
            "Temporal retries them",
            grace,
        )


async def _serve(settings: Settings) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, _on_signal, sig, stop)
    await run_worker(settings, stop)


def _on_signal(sig: signal.Signals, stop: asyncio.Event) -> None:
    if stop.is_set():
        # The graceful shutdown is already under way: a second signal must not cut it short.
        log.info("received %s again: still waiting for attempts in flight", sig.name)
        return
    log.info("received %s: shutting down gracefully", sig.name)
    stop.set()


def main(argv: list[str] | None = None) -> None:
    """Run a worker (``--dev``: with Temporal's dev server)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dev", action="store_true", help="also run Temporal's dev server")
    args = parser.parse_args(argv)
    try:
        settings = get_settings()
        logs.configure(settings.log_format, settings.log_level)
        context = dev_server(settings) if args.dev else contextlib.nullcontext()
        with context:
            if args.dev:
                print(
                    "billhook is running. Temporal Web UI: http://localhost:8233 "
                    f"(task queue {settings.task_queue}); Ctrl-C stops it.",
                    flush=True,
                )
            asyncio.run(_serve(settings))
    except BillhookError as exc:  # bad settings, a store not ready: one line, exit 1
        raise SystemExit(f"error: {' '.join(str(exc).split())}") from None
    log.info("stopped")
    # Everything is finished and recorded; the Temporal runtime's threads may still crash the
    # interpreter's teardown (temporalio/sdk-python#300), which would turn a clean stop into a
    # non-zero exit that a supervisor reads as a crash. End without it, as the command line does.
    logging.shutdown()
    os._exit(0)


if __name__ == "__main__":
    main()
