"""``EngineActivities``: the lifecycle workflows' calls into Temporal itself, as local activities.

Publishing events to their dispatchers (``workflows.emit``) and starting an invoice's workflow
(``SubscriptionWorkflow``) are client calls made from the worker: a local activity records
the call's completion in the caller's history with no scheduling round trip, and a retried
one is harmless (a dispatcher and the store ignore an event already emitted; an invoice's
workflow id is fixed, and Temporal refuses a second one).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence

from temporalio import activity

from models.billing import InvoiceWorkflowInput
from models.delivery import Event, PublishInput

#: Signals events to their dispatchers and returns once Temporal accepted them.
Publish = Callable[[Sequence[Event]], Awaitable[None]]
#: Starts an invoice's workflow, once: a second start of the same invoice does nothing.
StartInvoice = Callable[[InvoiceWorkflowInput], Awaitable[None]]


class EngineActivities:
    """Built in ``worker.py`` with the process's Temporal client behind both callables."""

    def __init__(self, publish: Publish, start_invoice: StartInvoice) -> None:
        self._publish = publish
        self._start_invoice = start_invoice

    @activity.defn
    async def publish_events(self, input: PublishInput) -> None:
        """Signal-with-start the events' dispatchers; done once Temporal holds the events.

        Concurrent emissions of the worker's workflows are coalesced into one signal per
        dispatcher (``client.publisher.Publisher``).
        """
        await self._publish(input.events)

    @activity.defn
    async def start_invoice(self, input: InvoiceWorkflowInput) -> None:
        """Start ``invoice-<invoice id>``; one already started is left as it is."""
        await self._start_invoice(input)
