"""What every group of ``BillhookClient`` shares: settings, the store, Temporal, the clock.

The store is opened and checked on first use; Temporal is connected on the first operation
that needs it, so the store-only operations never load the Temporal SDK (``client.temporal``).
Store calls block, so they run on a thread: nothing blocks the caller's event loop.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Concatenate, ParamSpec, TypeVar

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


class Group:
    """One group of ``BillhookClient``'s operations, on the client's ``Core``.

    Store and catalog calls block, so ``_in_store`` and ``_in_catalog`` run them on a thread:
    ``await self._in_catalog(Catalog.get_customer, customer_id)``, or a function of the catalog
    that reads several records at once.
    """

    def __init__(self, core: Core) -> None:
        self._core = core

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
