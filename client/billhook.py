"""``BillhookClient``: the one way an application, the command line or a test drives billhook.

Operations are grouped by what they act on, each a method of one group::

    billhook = await BillhookClient.connect(settings)
    created = await billhook.customers.create(CustomerSnapshot(customer_id="acme"))
    await billhook.invoices.pay(invoice_id, PayInput(external_payment_obj_id="pi_123"))

Inputs and results are pydantic models; every refusal and failure is one of billhook's errors
(``errors``), with a one-line message, never one of Temporal's. Answers come from the workflows
(their updates, queries and results) and, for records and listings, from the store.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Generic, Unpack

from client.api_keys import ApiKeys
from client.catalog import Alerts, Customers, Metrics, Plans
from client.core import Async, ClientOptions, Core, Loop, M
from client.delivery import Attempts, Events, Messages
from client.endpoints import Endpoints
from client.ingest import UsageBatches
from client.lifecycle import Invoices, Subscriptions, Usage
from client.payments import Payments
from config import Settings, get_settings
from store import Store

if TYPE_CHECKING:
    from temporalio.client import Client

    from client.sync import SyncBillhookClient


class Groups(Generic[M]):
    """Every group of operations, all coroutines (``Groups[Async]``) or all blocking."""

    def _add_groups(self, core: Core, loop: Loop | None = None) -> None:
        self.customers: Customers[M] = Customers(core, loop)
        self.metrics: Metrics[M] = Metrics(core, loop)
        self.plans: Plans[M] = Plans(core, loop)
        self.alerts: Alerts[M] = Alerts(core, loop)
        self.subscriptions: Subscriptions[M] = Subscriptions(core, loop)
        self.usage: Usage[M] = Usage(core, loop)
        self.invoices: Invoices[M] = Invoices(core, loop)
        self.endpoints: Endpoints[M] = Endpoints(core, loop)
        self.messages: Messages[M] = Messages(core, loop)
        self.attempts: Attempts[M] = Attempts(core, loop)
        self.events: Events[M] = Events(core, loop)
        self.usage_batches: UsageBatches[M] = UsageBatches(core, loop)
        self.payments: Payments[M] = Payments(core, loop)
        self.api_keys: ApiKeys[M] = ApiKeys(core, loop)


class BillhookClient(Groups[Async]):
    """billhook's operations on one store and one Temporal namespace and task queue.

    The store is opened on first use and Temporal connected on the first operation that
    needs it (``connect`` does both at once), so reading endpoints never loads Temporal.

    Args:
        settings: where the store and Temporal are, and the task queue; ``BILLHOOK_*`` when
            None.
        store: a store to use instead of opening ``settings.database_url``.
        temporal: a Temporal client to use (with billhook's data converter:
            ``client.connection.connect``) instead of connecting as ``settings`` say.
        worker_wait: seconds a request waits for a worker before ``NoWorker``.

    Attributes:
        customers: create (through ``customer-<id>``), get, show, list.
        metrics: create, list.
        plans: create, new_version, latest, versions, list.
        alerts: create, list.
        subscriptions: create, get, show, cancel, wait_ended, list.
        usage: record.
        invoices: get, show, pay, void, list.
        endpoints: create, get, update, disable, enable, delete, rotate_secret,
            reveal_secret, recover, list.
        messages: get, show, resend, list.
        attempts: list.
        events: publish, trigger.
        usage_batches: ingest (many records, each with its key: the REST API's ``/usage``).
        payments: stripe_event (a verified Stripe event paying an invoice).
        api_keys: create, list, revoke, verify (the REST API's bearer keys).
    """

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        temporal: Client | None = None,
        **options: Unpack[ClientOptions],
    ) -> None:
        self.settings = settings or get_settings()
        self._core = Core(self.settings, temporal=temporal, **options)
        self._add_groups(self._core)

    @classmethod
    async def connect(
        cls, settings: Settings | None = None, **options: Unpack[ClientOptions]
    ) -> BillhookClient:
        """A client with its store checked and Temporal connected.

        Raises:
            InvalidSettings: a setting or the Temporal client configuration cannot be used.
            StoreNotReady: the database is unreachable or needs ``billhook db upgrade``.
            TemporalError: Temporal does not answer.
        """
        client = cls(settings, **options)
        await client._core.store()
        await client._core.temporal()
        return client

    @classmethod
    def sync(
        cls, settings: Settings | None = None, **options: Unpack[ClientOptions]
    ) -> SyncBillhookClient:
        """The same operations as plain blocking calls, on an event loop of their own."""
        from client.sync import SyncBillhookClient

        return SyncBillhookClient(settings, **options)

    async def store(self) -> Store:
        """The store, checked to be reachable and migrated."""
        return await self._core.store()

    async def temporal(self) -> Client:
        """The Temporal client, for what billhook has no operation for (connected if need be)."""
        return (await self._core.temporal()).client

    @property
    def temporal_used(self) -> bool:
        """Whether this client connected to Temporal (or tried, or was given a client)."""
        return self._core.temporal_used

    async def close(self) -> None:
        """Release the store's connections if this client opened the store."""
        self._core.close()

    async def __aenter__(self) -> BillhookClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()
