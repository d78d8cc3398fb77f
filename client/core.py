"""What every group of ``BillhookClient`` shares: settings, the store, Temporal, the clock.

The store is opened and checked on first use; Temporal is connected on the first operation
that needs it, so the store-only operations never load the Temporal SDK (``client.temporal``).
Store calls block, so they run on a thread: nothing blocks the caller's event loop.

Every group of operations is written once, as coroutines (``@operation``), and serves both
clients: a ``Group[Async]`` (``BillhookClient``) hands out its operations as they are, a
``Group[Blocking]`` (``SyncBillhookClient``) runs each to its end on the client's own ``Loop``,
with the same arguments, result and errors, and types that say so. An operation that is one
store or catalog call, or one function of them, is declared as that call (``on_store``,
``on_catalog``) and documented by it: ``get = on_catalog(Catalog.get_customer)``.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import threading
import types
from collections.abc import Callable, Coroutine
from datetime import datetime
from typing import TYPE_CHECKING, Any, Concatenate, Generic, ParamSpec, TypedDict, TypeVar, overload

from config import Settings
from models.clock import utcnow
from store import Store
from store.catalog import Catalog

if TYPE_CHECKING:
    from temporalio.client import Client

    from client.temporal import TemporalSide

T = TypeVar("T")
P = ParamSpec("P")

#: How long a request waits for a worker to answer before saying none seems to be running.
WORKER_WAIT_SECONDS = 20.0


class ClientOptions(TypedDict, total=False):
    """What either client may be given besides its settings (see ``BillhookClient``'s Args)."""

    store: Store | None
    worker_wait: float


class Core:
    """Settings, store and Temporal of one ``BillhookClient``; see the module docstring."""

    def __init__(
        self,
        settings: Settings,
        *,
        store: Store | None = None,
        temporal: Client | None = None,
        worker_wait: float = WORKER_WAIT_SECONDS,
    ) -> None:
        self.settings = settings
        self.worker_wait = worker_wait
        self._store = store
        self._own_store = store is None
        self._ready = False
        self._client = temporal
        self._temporal: TemporalSide | None = None
        self._temporal_asked = temporal is not None
        self._connecting = asyncio.Lock()

    async def store(self) -> Store:
        """The store, checked once to be reachable and migrated.

        Raises:
            StoreNotReady: the database is unreachable or needs ``billhook db upgrade``.
        """
        if self._store is None:
            self._store = Store.from_url(self.settings.database_url)
        if not self._ready:
            await asyncio.to_thread(self._store.check_ready)
            self._ready = True
        return self._store

    async def catalog(self) -> Catalog:
        """The catalog of the store (``store``)."""
        return Catalog((await self.store()).engine)

    async def temporal(self) -> TemporalSide:
        """The Temporal side, connected on first use.

        Raises:
            InvalidSettings: the Temporal client configuration cannot be used.
            TemporalError: Temporal does not answer.
        """
        self._temporal_asked = True
        async with self._connecting:
            if self._temporal is None:
                # Temporal and the workflows take about a second to load: only now.
                from client.temporal import TemporalSide

                if self._client is None:
                    self._temporal = await TemporalSide.connect(self.settings, self.worker_wait)
                else:
                    address = self._client.service_client.config.target_host
                    self._temporal = TemporalSide(
                        self._client, self.settings, self.worker_wait, address
                    )
            return self._temporal

    @property
    def temporal_used(self) -> bool:
        """Whether Temporal was connected (or tried, or given): the SDK's runtime may run."""
        return self._temporal_asked

    async def blocking(self, call: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """Run a blocking (store) call on a thread."""
        return await asyncio.to_thread(call, *args, **kwargs)

    def close(self) -> None:
        """Release the store's pooled connections, if the store is this client's own."""
        if self._own_store and self._store is not None:
            self._store.engine.dispose()
            self._store, self._ready = None, False

    def now(self) -> datetime:
        """The current time in UTC."""
        return utcnow()


class Async:
    """Marks a group whose operations are coroutines (``BillhookClient``'s)."""


class Blocking:
    """Marks a group whose operations block until done (``SyncBillhookClient``'s)."""


M = TypeVar("M", Async, Blocking)


class Loop:
    """An event loop on a thread of its own, running one coroutine at a time for a caller."""

    def __init__(self) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="billhook-client", daemon=True
        )
        self._thread.start()

    def run(self, operation: Coroutine[Any, Any, T]) -> T:
        """Run ``operation`` to its end on the loop; its result, or what it raised."""
        future = asyncio.run_coroutine_threadsafe(operation, self._loop)
        try:
            return future.result()
        except BaseException:
            future.cancel()  # the caller was interrupted (Ctrl-C): stop the operation too
            raise

    def close(self) -> None:
        """Finish the loop's housekeeping, stop it and its thread."""
        if self._loop.is_closed():
            return
        with contextlib.suppress(Exception):
            self.run(self._loop.shutdown_default_executor())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join()
        self._loop.close()


class Group(Generic[M]):
    """One group of ``BillhookClient``'s operations, on the client's ``Core``.

    Args:
        core: the client's settings, store and Temporal.
        loop: where a ``Group[Blocking]`` runs its operations; None for a ``Group[Async]``.

    Store and catalog calls block, so ``_in_store`` and ``_in_catalog`` run them on a thread:
    ``await self._in_catalog(Catalog.get_customer, customer_id)``, or a function of the catalog
    that reads several records at once.
    """

    def __init__(self, core: Core, loop: Loop | None = None) -> None:
        self._core = core
        self._loop = loop

    async def _in_store(
        self, call: Callable[Concatenate[Store, P], T], *args: P.args, **kwargs: P.kwargs
    ) -> T:
        """``call(store, *args, **kwargs)`` on a thread."""
        store = await self._core.store()
        return await asyncio.to_thread(call, store, *args, **kwargs)

    async def _in_catalog(
        self, call: Callable[Concatenate[Catalog, P], T], *args: P.args, **kwargs: P.kwargs
    ) -> T:
        """``call(catalog, *args, **kwargs)`` on a thread."""
        catalog = await self._core.catalog()
        return await asyncio.to_thread(call, catalog, *args, **kwargs)


class operation(Generic[P, T]):
    """A group's operation, written as a coroutine; blocking on a ``Group[Blocking]``."""

    def __init__(self, method: Callable[Concatenate[Any, P], Coroutine[Any, Any, T]]) -> None:
        self._method = method
        self.__doc__ = method.__doc__
        self.__wrapped__ = method

    @overload
    def __get__(self, group: None, owner: type[Any]) -> operation[P, T]: ...

    @overload
    def __get__(
        self, group: Group[Async], owner: type[Any]
    ) -> Callable[P, Coroutine[Any, Any, T]]: ...

    @overload
    def __get__(self, group: Group[Blocking], owner: type[Any]) -> Callable[P, T]: ...

    def __get__(self, group: Group[Any] | None, owner: type[Any]) -> Any:
        if group is None:
            return self
        method, loop = self._method, group._loop
        if loop is None:
            return types.MethodType(method, group)

        @functools.wraps(method)
        def blocking(*args: P.args, **kwargs: P.kwargs) -> T:
            return loop.run(method(group, *args, **kwargs))

        return blocking


def on_store(call: Callable[Concatenate[Store, P], T]) -> operation[P, T]:
    """An operation that is one store method, run on a thread; documented by that method."""

    async def run(group: Group[Any], /, *args: P.args, **kwargs: P.kwargs) -> T:
        return await group._in_store(call, *args, **kwargs)

    run.__name__, run.__doc__ = call.__name__, call.__doc__
    return operation(run)


def on_catalog(call: Callable[Concatenate[Catalog, P], T]) -> operation[P, T]:
    """An operation that is one catalog method, run on a thread; documented by that method."""

    async def run(group: Group[Any], /, *args: P.args, **kwargs: P.kwargs) -> T:
        return await group._in_catalog(call, *args, **kwargs)

    run.__name__, run.__doc__ = call.__name__, call.__doc__
    return operation(run)
