"""``make chaos``: a burst of billing events delivered while processes die and the store vanishes.

    .venv/bin/python -m tests.chaos.run [--customers N] [--triggers N] [--burst SECONDS]

Temporal's dev server (a persisted SQLite file), two ``python worker.py`` processes on one task
queue and a fresh PostgreSQL database (``chaos_<random>``, dropped afterwards) that the workers
reach through a TCP proxy of this run's own. Receivers in a process of their own fail about 30 %
of the requests at random (``tests.chaos.receiver``). While the events are emitted through the
``billhook`` commands (customers, subscriptions on a 20-second plan, usage crossing an alert,
invoice payments, cancellations, ``trigger``):

- a worker is killed with SIGKILL every few seconds, alternately, and started again;
- once, the Temporal server is killed with SIGKILL and started again on the same file and port;
- once, the store is unreachable for 30 s (the proxy refuses and drops connections).

Then, faults over, it waits for every delivery to settle and checks (``tests.chaos.check``). It
prints one table, writes it to ``tests/chaos/results/chaos.txt`` (and the figures to
``chaos.json``), keeps the processes' logs under ``tests/chaos/results/run-*``, and exits 1 on
any broken promise. It stops itself within ``TIME_BOX`` seconds, every process and the
database cleaned up whatever happens.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shutil
import signal
import sys
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import httpx
import psycopg
from psycopg import sql
from sqlalchemy import func
from sqlmodel import Session, col, select

from config import Settings
from models.delivery import AttemptState
from models.events import EventType
from models.signing import generate_secret
from starter.table import render
from store import Store
from store.tables import Attempt, Delivery, Invoice, Message, Metric, Plan, Subscription
from temporal_client import connect
from tests.chaos import check
from tests.chaos.cluster import Cluster
from tests.chaos.emitters import Commands, exists, refused, started

RESULTS = Path(__file__).resolve().with_name("results")
POSTGRES_ADMIN = "host=127.0.0.1 port=5432 user=postgres dbname=postgres connect_timeout=5"
POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:{port}/{name}"

#: The whole run, set-up to clean-up, stops itself within this (``make chaos`` has 600 s).
TIME_BOX = 540.0
#: Delays between attempts (11: 12 attempts); the receivers fail a message at most 4 times.
SCHEDULE = "1,2,2,3,3,3,3,3,3,3,3"
#: Seconds billhook waits for an answer; the receivers' slow answers take 3.
REQUEST_TIMEOUT = 2.0
PERIOD = "PT20S"
KILL_EVERY = 8.0  # a worker is killed this often (seconds), the two in turn
SERVER_KILL_AT = 25.0  # seconds into the burst
DB_CUT_AT = 45.0
DB_OUTAGE = 30.0
DRAIN_WITHIN = 240.0  # the settling after the burst, at most
AT_LEAST = 1000  # events the burst must emit
ENDPOINTS = 2
KEEP_RUNS = 3  # log directories of earlier runs kept

T = TypeVar("T")
_out = sys.stdout


def say(text: str) -> None:
    """A progress line (the commands' own output goes to the run's ``commands.log``)."""
    print(text, file=_out, flush=True)


@dataclass
class Figures:
    """What the faults did."""

    worker_kills: int = 0
    worker_exits: int = 0  # workers that ended on their own (e.g. started while the store was cut)
    server_kills: int = 0
    outage: float = 0.0
    phase: str = "set-up"
    db_state: str = "up"
    marks: dict[str, float] = field(default_factory=dict)


class Run:
    """One chaos run: the cluster, the store, the commands, the timeline."""

    def __init__(self, args: argparse.Namespace, directory: Path, database: str) -> None:
        self.args = args
        self.directory = directory
        self.database = database
        self.started = time.monotonic()
        self.cluster = Cluster.create(directory, task_queue=f"chaos-{uuid.uuid4().hex[:8]}")
        self.direct_url = POSTGRES_URL.format(port=5432, name=database)
        self.figures = Figures()
        self.pool = ThreadPoolExecutor(max_workers=8, thread_name_prefix="billhook-command")
        self.commands: Commands | None = None
        self.store: Store | None = None
        self.endpoints: dict[int, str] = {}
        self.subscriptions: list[str] = []
        self.burst_over = asyncio.Event()

    def elapsed(self) -> float:
        return time.monotonic() - self.started

    async def thread(self, fn: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(self.pool, fn, *args)

    async def command(
        self,
        argv: Sequence[str],
        done: Callable[[BaseException], bool] = refused,
    ) -> str:
        assert self.commands is not None
        return await self.thread(self.commands.run, argv, done)

    # Set-up --------------------------------------------------------------------------------
    async def set_up(self) -> None:
        cluster = self.cluster
        await self.thread(cluster.start_proxy)
        await self.thread(cluster.start_server)
        environ = {k: v for k, v in os.environ.items() if not k.startswith("BILLHOOK_")}
        common = {
            "BILLHOOK_TEMPORAL_ADDRESS": cluster.temporal_address,
            "BILLHOOK_TASK_QUEUE": cluster.task_queue,
            "BILLHOOK_ENVIRONMENT": "development",
            "BILLHOOK_ALLOWED_NETWORKS": "127.0.0.0/8",
            "BILLHOOK_RETRY_SCHEDULE": SCHEDULE,
            "BILLHOOK_REQUEST_TIMEOUT_SECONDS": str(REQUEST_TIMEOUT),
        }
        # The commands, like the application emitting, reach the database directly: the outage
        # is the workers'.
        os.environ.update(common | {"BILLHOOK_DATABASE_URL": self.direct_url})
        proxied = POSTGRES_URL.format(port=cluster.proxy_port, name=self.database)
        cluster.add_workers(
            2, environ | common | {"BILLHOOK_DATABASE_URL": proxied, "BILLHOOK_LOG_LEVEL": "INFO"}
        )
        self.store = Store.from_url(self.direct_url)
        await self.thread(self.store.upgrade)
        secrets = [generate_secret() for _ in range(ENDPOINTS)]
        ports = await self.thread(cluster.start_receivers, secrets)
        for port, secret in zip(ports, secrets, strict=True):
            endpoint, _ = self.store.create_endpoint(
                f"http://127.0.0.1:{port}/webhooks",
                [t.value for t in EventType],
                datetime.now(UTC),
                name=f"chaos-{port}",
                secret=secret,
            )
            self.endpoints[port] = endpoint.id
        for worker in cluster.workers:
            worker.start()
        await self.thread(self._wait_workers)
        self.commands = Commands(self.directory / "commands.log", time.monotonic() + TIME_BOX - 60)

    def _wait_workers(self) -> None:
        deadline = time.monotonic() + 60
        for worker in self.cluster.workers:
            while "worker on task queue" not in worker.log.read_text(errors="replace"):
                if not worker.alive() or time.monotonic() > deadline:
                    raise RuntimeError(f"{worker.name} did not start:\n{tail(worker.log)}")
                time.sleep(0.2)

    async def catalog(self) -> tuple[str, str]:
        """A metric, a 20-second plan (flat fee in advance, usage past 100) and an alert at 100."""
        assert self.store is not None
        await self.command(["metric", "create", "API calls", "--event", "api_call"])
        metric = self._one(select(Metric.id))
        await self.command(
            [
                "plan",
                "create",
                "Chaos",
                "--period",
                PERIOD,
                "--flat",
                "10",
                "--usage",
                f"{metric}:0.01:100",
            ]
        )
        plan = self._one(select(Plan.id))
        await self.command(
            ["alert", "create", "--metric", metric, "--plan", plan, "--threshold", "100"]
        )
        return metric, plan

    def _one(self, query: Any) -> str:
        assert self.store is not None
        with Session(self.store.engine) as session:
            value: str = session.exec(query).one()
            return value

    # The burst -----------------------------------------------------------------------------
    async def burst(self) -> None:
        metric, plan = await self.catalog()
        self.figures.phase = "burst"
        self.figures.marks["burst"] = self.elapsed()
        faults = [
            asyncio.create_task(self.kill_workers()),
            asyncio.create_task(self.kill_server()),
            asyncio.create_task(self.cut_store()),
        ]
        lanes = asyncio.Semaphore(3)

        async def lane(make: Callable[[], Awaitable[None]]) -> None:
            async with lanes:
                await make()

        customers = [
            asyncio.create_task(lane(lambda i=i: self.customer(i, metric, plan)))  # type: ignore[misc]
            for i in range(self.args.customers)
        ]
        triggers = asyncio.create_task(self.triggers())
        await asyncio.gather(*customers, triggers)
        # Let the subscriptions renew a few times, then end them (cancellation emits too).
        until = self.figures.marks["burst"] + self.args.burst
        await asyncio.sleep(max(0.0, until - self.elapsed()))
        await asyncio.gather(
            *(lane(lambda s=s: self.cancel(s)) for s in self.subscriptions)  # type: ignore[misc]
        )
        self.burst_over.set()
        await asyncio.gather(*faults)
        self.figures.marks["drain"] = self.elapsed()

    async def customer(self, i: int, metric: str, plan: str) -> None:
        """The story of one customer: created, subscribed, usage over the alert, first invoice
        paid (renewals and their invoices come from the 20-second period)."""
        customer = f"chaos-{i:04d}"
        await self.command(
            [
                "customer",
                "create",
                customer,
                "--name",
                f"Chaos {i}",
                "--email",
                f"c{i}@example.test",
            ],
            exists,
        )
        await self.command(
            ["subscription", "create", "--customer", customer, "--plan", plan], started
        )
        sub = await self._poll(select(Subscription.id).where(Subscription.customer_id == customer))
        self.subscriptions.append(sub)
        await self.command(["usage", "record", sub, metric, "150", "--key", f"usage-{i}"])
        invoice = await self._poll(select(Invoice.id).where(Invoice.subscription_id == sub))
        await self.command(["invoice", "pay", invoice])

    async def cancel(self, sub: str) -> None:
        await self.command(["subscription", "cancel", sub])

    async def _poll(self, query: Any, within: float = 120.0) -> str:
        """The first value ``query`` finds, once a worker has recorded it."""
        assert self.store is not None
        deadline = time.monotonic() + within
        while True:
            with Session(self.store.engine) as session:
                found = session.exec(query).first()
            if found is not None:
                return str(found)
            if time.monotonic() > deadline:
                raise TimeoutError(f"nothing recorded for {query}")
            await asyncio.sleep(0.5)

    async def triggers(self) -> None:
        """``billhook trigger`` of every event type in turn, spread over the burst."""
        types = list(EventType)
        lanes = asyncio.Semaphore(4)
        spacing = self.args.burst * 0.8 / max(1, self.args.triggers)

        async def one(n: int) -> None:
            async with lanes:
                await self.command(["trigger", types[n % len(types)].value, "--wait", "0.05"])

        tasks = []
        for n in range(self.args.triggers):
            tasks.append(asyncio.create_task(one(n)))
            await asyncio.sleep(spacing)
        await asyncio.gather(*tasks)

    # Faults --------------------------------------------------------------------------------
    async def kill_workers(self) -> None:
        """SIGKILL a worker every ``KILL_EVERY`` seconds, the two in turn, and start it again."""
        turn = 0
        while not self.burst_over.is_set():
            await asyncio.sleep(KILL_EVERY)
            worker = self.cluster.workers[turn % len(self.cluster.workers)]
            turn += 1
            if worker.alive():
                worker.kill()  # SIGKILL and reap: immediate
                self.figures.worker_kills += 1
            worker.start()
            for other in self.cluster.workers:  # one that ended on its own: started again
                if not other.alive():
                    self.figures.worker_exits += 1
                    other.start()

    async def kill_server(self) -> None:
        await asyncio.sleep(SERVER_KILL_AT)
        say(f"[{self.elapsed():5.0f}s] SIGKILL Temporal's dev server")
        await self.thread(self.cluster.server.kill)
        self.figures.server_kills += 1
        await asyncio.sleep(1.0)
        await self.thread(self.cluster.start_server)
        say(f"[{self.elapsed():5.0f}s] Temporal's dev server is back on the same file and port")

    async def cut_store(self) -> None:
        await asyncio.sleep(DB_CUT_AT)
        say(f"[{self.elapsed():5.0f}s] store cut: the proxy refuses and drops connections")
        self.cluster.proxy.signal(signal.SIGUSR1)
        cut = time.monotonic()
        self.figures.db_state = "cut"
        await asyncio.sleep(DB_OUTAGE)
        self.cluster.proxy.signal(signal.SIGUSR2)
        self.figures.outage = time.monotonic() - cut
        self.figures.db_state = "up"
        say(f"[{self.elapsed():5.0f}s] store back after {self.figures.outage:.1f} s")

    # Watching ------------------------------------------------------------------------------
    def counts(self) -> dict[str, int]:
        assert self.store is not None
        with Session(self.store.engine) as session:
            statuses = dict(
                session.exec(select(Delivery.status, func.count()).group_by(Delivery.status)).all()
            )
            messages = session.exec(select(func.count()).select_from(Message)).one()
            attempts = session.exec(select(func.count()).select_from(Attempt)).one()
            in_flight = session.exec(
                select(func.count())
                .select_from(Attempt)
                .where(col(Attempt.state) == AttemptState.IN_FLIGHT)
            ).one()
        return {
            "messages": messages,
            "attempts": attempts,
            "in flight": in_flight,
            **{str(k): v for k, v in statuses.items()},
        }

    async def progress(self) -> None:
        while True:
            await asyncio.sleep(5)
            try:
                counts = await asyncio.to_thread(self.counts)
                shown = " ".join(f"{k}={v}" for k, v in counts.items())
            except Exception as exc:
                shown = f"(store unreadable: {type(exc).__name__})"
            f = self.figures
            alive = sum(w.alive() for w in self.cluster.workers)
            say(
                f"[{self.elapsed():5.0f}s] {f.phase}: {shown} | workers up {alive}/2, "
                f"killed {f.worker_kills}, server kills {f.server_kills}, store {f.db_state}"
            )

    async def drain(self, client: Any) -> None:
        """Wait until nothing is pending, no retry runs and every emitted message is stored."""
        self.figures.phase = "settling"
        deadline = time.monotonic() + min(DRAIN_WITHIN, TIME_BOX - 30 - self.elapsed())
        while time.monotonic() < deadline:
            counts = await asyncio.to_thread(self.counts)
            if (
                not counts.get("pending")
                and not counts["in flight"]
                and not await check.running_retries(client, self.cluster.task_queue)
            ):
                emitted = await check.emitted_messages(client, self.cluster.task_queue)
                if emitted.keys() <= await asyncio.to_thread(self._stored):
                    return
            await asyncio.sleep(2)
        say(f"[{self.elapsed():5.0f}s] still not settled: checking what there is")

    def _stored(self) -> set[str]:
        assert self.store is not None
        with Session(self.store.engine) as session:
            return set(session.exec(select(Message.id)).all())

    async def records(self) -> list[dict[str, Any]]:
        port = self.cluster.receiver_ports[0]
        async with httpx.AsyncClient(timeout=30, trust_env=False) as http:
            answer = await http.get(f"http://127.0.0.1:{port}/records")
            answer.raise_for_status()
            records: list[dict[str, Any]] = answer.json()
            return records

    # The whole run -------------------------------------------------------------------------
    async def run(self) -> check.Findings:
        say(f"chaos run: logs in {self.directory}, database {self.database}")
        watcher = asyncio.create_task(self.progress())
        try:
            await self.set_up()
            say(f"[{self.elapsed():5.0f}s] set up: dev server, 2 workers, proxy, receivers")
            await self.burst()
            say(f"[{self.elapsed():5.0f}s] burst over; faults stop; settling")
            settings = Settings(
                _env_file=None,
                temporal_address=self.cluster.temporal_address,
            )
            client = await connect(settings)
            await self.drain(client)
            self.figures.phase = "checking"
            assert self.store is not None and self.commands is not None
            found = check.check(
                await check.emitted_messages(client, self.cluster.task_queue),
                self.commands.reported,
                await asyncio.to_thread(check.Rows.read, self.store.engine),
                await self.records(),
                self.endpoints,
                await check.running_retries(client, self.cluster.task_queue),
            )
            if found.figures["events emitted"] < AT_LEAST:
                found.problem("burst too small", f"{found.figures['events emitted']} events")
            return found
        finally:
            watcher.cancel()
            if self.commands is not None:
                self.commands.deadline = 0.0  # commands still retrying give up
            self.pool.shutdown(wait=False, cancel_futures=True)

    def close(self) -> None:
        if self.commands is not None:
            self.commands.close()
        self.cluster.close()
        if self.store is not None:
            self.store.engine.dispose()

    def table(self, found: check.Findings) -> str:
        f, g = found.figures, self.figures
        burst = g.marks.get("drain", 0.0) - g.marks.get("burst", 0.0)
        faults = ", ".join(f"{k} {v}" for k, v in f["faults"].items())
        rows = [
            ("events emitted", f"{f['events emitted']} ({self._sources()})"),
            ("deliveries", f"{f['deliveries']} ({ENDPOINTS} endpoints)"),
            ("received", f"{f['received']} requests (faults: {faults})"),
            ("duplicates", f"{f['duplicates']} (same svix-id)"),
            ("lost", f["lost"]),
            ("retries", f"{f['retries']} ({f['interrupted']} attempts interrupted)"),
            ("attempt log vs receivers", "agree" if not found.problems else "see FAIL lines"),
            ("left pending", f["pending"]),
            ("worker kills (SIGKILL)", f"{g.worker_kills} (+{g.worker_exits} exits on their own)"),
            ("server kills (SIGKILL)", g.server_kills),
            ("store outage", f"{g.outage:.1f} s"),
            ("duration", f"{self.elapsed():.0f} s (burst {burst:.0f} s)"),
        ]
        verdict = "PASS" if not found.problems else "FAIL"
        return render(["chaos", verdict], rows, max_width=200)

    def _sources(self) -> str:
        assert self.commands is not None
        ran = self.commands.ran
        return (
            f"{ran['trigger']} trigger, {ran['customer create']} customers, "
            f"{ran['subscription create']} subscriptions, usage, payments, renewals, cancels"
        )


def tail(path: Path, lines: int = 30) -> str:
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


def admin() -> psycopg.Connection[tuple[Any, ...]]:
    return psycopg.connect(POSTGRES_ADMIN, autocommit=True)


def prune(keep: int) -> None:
    runs = sorted(RESULTS.glob("run-*"))
    for old in runs[:-keep] if keep else runs:
        shutil.rmtree(old, ignore_errors=True)


async def main_async(args: argparse.Namespace) -> int:
    RESULTS.mkdir(exist_ok=True)
    prune(KEEP_RUNS - 1)
    directory = RESULTS / f"run-{time.strftime('%Y%m%d-%H%M%S')}"
    directory.mkdir()
    database = f"chaos_{uuid.uuid4().hex[:12]}"
    with admin() as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(database)))
    run = Run(args, directory, database)
    task = asyncio.current_task()
    assert task is not None
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, task.cancel)
    try:
        async with asyncio.timeout(TIME_BOX - 20 - run.elapsed()):
            found = await run.run()
    finally:
        await asyncio.to_thread(run.close)
        with admin() as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(database))
            )
    if not found.problems:  # a failed run keeps Temporal's file, to read its histories
        for leftover in directory.glob("temporal.db*"):
            leftover.unlink(missing_ok=True)
    table = run.table(found)
    report = found.report()
    text = table + ("\n" + report if report else "") + "\n"
    say("\n" + text)
    (RESULTS / "chaos.txt").write_text(text)
    figures = {**found.figures, **run.figures.__dict__, "problems": found.problems}
    (RESULTS / "chaos.json").write_text(json.dumps(figures, indent=2, default=str) + "\n")
    say(f"written to {RESULTS / 'chaos.txt'}; logs in {directory}")
    return 1 if found.problems else 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=30)
    parser.add_argument("--triggers", type=int, default=800)
    parser.add_argument("--burst", type=float, default=75.0, help="seconds of emission")
    code = asyncio.run(main_async(parser.parse_args()))
    with contextlib.suppress(Exception):
        sys.stdout.flush()
    # The Temporal clients' runtime threads may crash the interpreter's teardown
    # (temporalio/sdk-python#300): end without it, as the command line does.
    os._exit(code)


if __name__ == "__main__":
    main()
