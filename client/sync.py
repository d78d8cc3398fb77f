"""``SyncBillhookClient``: ``BillhookClient``'s operations as blocking calls, for scripts.

Every method is its async twin run to completion on the client's own event loop, which runs on
a thread of its own for the client's life (so the Temporal connection is made once, and a
caller that happens to run an event loop itself may call it too)::

    with BillhookClient.sync() as billhook:
        billhook.endpoints.create(EndpointInput(url=url, event_types=["invoice.paid"]))

``on_progress`` callbacks run on that thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import threading
from collections.abc import Callable, Coroutine
from types import TracebackType
from typing import TYPE_CHECKING, Any, Concatenate, Generic, ParamSpec, TypeVar, overload

from client.billhook import BillhookClient
from client.catalog import Alerts, Customers, Metrics, Plans
from client.core import WORKER_WAIT_SECONDS
from client.delivery import Attempts, Events, Messages
from client.endpoints import Endpoints
from client.lifecycle import Invoices, Subscriptions, Usage
from config import Settings
from store import Store

if TYPE_CHECKING:
    from temporalio.client import Client

G = TypeVar("G")
P = ParamSpec("P")
T = TypeVar("T")


class _Loop:
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


class _Group(Generic[G]):
    """One group of ``BillhookClient``, its methods run on ``loop``."""

    def __init__(self, loop: _Loop, group: G) -> None:
        self._loop = loop
        self._group = group


class _Blocking(Generic[G, P, T]):
    """A group's async method as a blocking one: same arguments, same result, same errors."""

    def __init__(self, method: Callable[Concatenate[G, P], Coroutine[Any, Any, T]]) -> None:
        self._method = method

    @overload
    def __get__(self, group: None, owner: type[Any]) -> _Blocking[G, P, T]: ...

    @overload
    def __get__(self, group: _Group[G], owner: type[Any]) -> Callable[P, T]: ...

    def __get__(
        self, group: _Group[G] | None, owner: type[Any]
    ) -> _Blocking[G, P, T] | Callable[P, T]:
        if group is None:
            return self
        method = self._method

        @functools.wraps(method)
        def blocking(*args: P.args, **kwargs: P.kwargs) -> T:
            return group._loop.run(method(group._group, *args, **kwargs))

        return blocking


class SyncCustomers(_Group[Customers]):
    create = _Blocking(Customers.create)
    get = _Blocking(Customers.get)
    show = _Blocking(Customers.show)
    list = _Blocking(Customers.list)


class SyncMetrics(_Group[Metrics]):
    create = _Blocking(Metrics.create)
    list = _Blocking(Metrics.list)


class SyncPlans(_Group[Plans]):
    create = _Blocking(Plans.create)
    new_version = _Blocking(Plans.new_version)
    latest = _Blocking(Plans.latest)
    versions = _Blocking(Plans.versions)
    list = _Blocking(Plans.list)


class SyncAlerts(_Group[Alerts]):
    create = _Blocking(Alerts.create)
    list = _Blocking(Alerts.list)


class SyncSubscriptions(_Group[Subscriptions]):
    create = _Blocking(Subscriptions.create)
    get = _Blocking(Subscriptions.get)
    show = _Blocking(Subscriptions.show)
    cancel = _Blocking(Subscriptions.cancel)
    wait_ended = _Blocking(Subscriptions.wait_ended)
    list = _Blocking(Subscriptions.list)


class SyncUsage(_Group[Usage]):
    record = _Blocking(Usage.record)


class SyncInvoices(_Group[Invoices]):
    get = _Blocking(Invoices.get)
    show = _Blocking(Invoices.show)
    pdf = _Blocking(Invoices.pdf)
    pay = _Blocking(Invoices.pay)
    void = _Blocking(Invoices.void)
    list = _Blocking(Invoices.list)


class SyncEndpoints(_Group[Endpoints]):
    create = _Blocking(Endpoints.create)
    get = _Blocking(Endpoints.get)
    update = _Blocking(Endpoints.update)
    disable = _Blocking(Endpoints.disable)
    enable = _Blocking(Endpoints.enable)
    delete = _Blocking(Endpoints.delete)
    rotate_secret = _Blocking(Endpoints.rotate_secret)
    reveal_secret = _Blocking(Endpoints.reveal_secret)
    recover = _Blocking(Endpoints.recover)
    list = _Blocking(Endpoints.list)


class SyncMessages(_Group[Messages]):
    get = _Blocking(Messages.get)
    show = _Blocking(Messages.show)
    resend = _Blocking(Messages.resend)
    list = _Blocking(Messages.list)


class SyncAttempts(_Group[Attempts]):
    list = _Blocking(Attempts.list)


class SyncEvents(_Group[Events]):
    publish = _Blocking(Events.publish)
    trigger = _Blocking(Events.trigger)


class SyncBillhookClient:
    """``BillhookClient`` with blocking methods; see the module docstring.

    Args: those of ``BillhookClient``. Close it (or use it as a context manager) to end its
    event loop.
    """

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        store: Store | None = None,
        worker_wait: float = WORKER_WAIT_SECONDS,
    ) -> None:
        self._loop = _Loop()
        #: The async client the methods run; its event loop is this client's.
        self.client = BillhookClient(settings, store=store, worker_wait=worker_wait)
        self.settings = self.client.settings
        loop, client = self._loop, self.client
        self.customers = SyncCustomers(loop, client.customers)
        self.metrics = SyncMetrics(loop, client.metrics)
        self.plans = SyncPlans(loop, client.plans)
        self.alerts = SyncAlerts(loop, client.alerts)
        self.subscriptions = SyncSubscriptions(loop, client.subscriptions)
        self.usage = SyncUsage(loop, client.usage)
        self.invoices = SyncInvoices(loop, client.invoices)
        self.endpoints = SyncEndpoints(loop, client.endpoints)
        self.messages = SyncMessages(loop, client.messages)
        self.attempts = SyncAttempts(loop, client.attempts)
        self.events = SyncEvents(loop, client.events)

    def run(self, operation: Coroutine[Any, Any, T]) -> T:
        """Run a coroutine of ``self.client`` (or of its Temporal client) on its loop."""
        return self._loop.run(operation)

    def store(self) -> Store:
        """The store, checked to be reachable and migrated."""
        return self.run(self.client.store())

    def temporal(self) -> Client:
        """The Temporal client (connected if need be); its coroutines go through ``run``."""
        return self.run(self.client.temporal())

    @property
    def temporal_used(self) -> bool:
        """Whether this client connected to Temporal (or tried to)."""
        return self.client.temporal_used

    def close(self) -> None:
        """Release the store's connections and end the event loop."""
        try:
            self.run(self.client.close())
        finally:
            self._loop.close()

    def __enter__(self) -> SyncBillhookClient:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.close()
