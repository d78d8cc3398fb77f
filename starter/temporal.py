"""Temporal for the commands that need it: imported only by them (it takes a second to load)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import TypeVar

from temporalio.client import Client, WorkflowFailureError
from temporalio.service import RPCError

from config import Settings
from errors import BillhookError
from starter import runtime
from temporal_client import connect, resolve_connection

T = TypeVar("T")


@asynccontextmanager
async def temporal(settings: Settings) -> AsyncIterator[Client]:
    """A Temporal client; its failures inside the block become one-line ``BillhookError``s.

    Raises:
        BillhookError: Temporal is unreachable, refused a request, or a workflow failed.
    """
    runtime.temporal_used = True
    address = resolve_connection(settings).address
    try:
        client = await connect(settings)
    except RuntimeError as exc:
        # The SDK's message is a multi-line transport dump; the fix is nearly always the same.
        raise BillhookError(f"cannot reach Temporal at {address}: is `make run` up?") from exc
    try:
        yield client
    except RPCError as exc:
        raise BillhookError(f"Temporal at {address} refused the request: {exc.message}") from exc
    except WorkflowFailureError as exc:
        raise BillhookError(f"workflow failed: {exc.cause or exc}") from exc


async def wait_polling(
    awaitable: Awaitable[T], poll: Callable[[], Awaitable[None]], *, interval: float = 0.5
) -> T:
    """Await ``awaitable``, calling ``poll`` about every ``interval`` seconds meanwhile.

    Cancelling the caller (``asyncio.timeout``) cancels ``awaitable`` too.
    """
    task = asyncio.ensure_future(awaitable)
    try:
        while True:
            done, _ = await asyncio.wait({task}, timeout=interval)
            if done:
                return task.result()
            await poll()
    finally:
        task.cancel()  # no-op when done; otherwise stop waiting on Temporal's long poll
