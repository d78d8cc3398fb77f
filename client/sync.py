"""``SyncBillhookClient``: ``BillhookClient``'s operations as blocking calls, for scripts.

Every operation is its async twin (the same ``@operation`` of the same group class) run to
completion on the client's own event loop, which runs on
a thread of its own for the client's life (so the Temporal connection is made once, and a
caller that happens to run an event loop itself may call it too)::

    with BillhookClient.sync() as billhook:
        billhook.endpoints.create(EndpointInput(url=url, event_types=["invoice.paid"]))

``on_progress`` callbacks run on that thread.
"""

from __future__ import annotations

from collections.abc import Coroutine
from typing import TYPE_CHECKING, Any, TypeVar, Unpack

from client.billhook import BillhookClient, Groups
from client.core import Blocking, ClientOptions, Loop
from config import Settings
from store import Store

if TYPE_CHECKING:
    from temporalio.client import Client

T = TypeVar("T")


class SyncBillhookClient(Groups[Blocking]):
    """``BillhookClient`` with blocking methods; see the module docstring.

    Args: those of ``BillhookClient``. Close it (or use it as a context manager) to end its
    event loop.
    """

    def __init__(self, settings: Settings | None = None, **options: Unpack[ClientOptions]) -> None:
        self._loop = Loop()
        #: The async client whose groups these are; its event loop is this client's.
        self.client = BillhookClient(settings, **options)
        self.settings = self.client.settings
        self._add_groups(self.client._core, self._loop)

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

    def __exit__(self, *exc_info: object) -> None:
        self.close()
