"""``LifecycleActivities``: a subscription's lifecycle step, as one local activity.

A step (``models.billing.LifecycleStep``) is what a subscription workflow does at a moment of
its life: at its start (record, in-advance invoice, ``subscription.created``), at a renewal
(the next period's record, the ended period's invoice, ``subscription.renewed``), at a
cancellation or an end. One local activity makes all of it: one store transaction, the
invoice's workflow started, the events emitted in one signal. Before billhook 0.4 a renewal took
six local activities across three workflow runs; a burst of renewals is bound by exactly that
per-renewal work in the worker.
"""

from __future__ import annotations

import asyncio

from temporalio import activity

from activities.engine import Publish, StartInvoice
from models.billing import InvoiceState, LifecycleStep
from models.clock import utcnow
from models.events import EventType
from models.organization import Organization
from models.payloads import invoice_event
from store.catalog import Catalog


class LifecycleActivities:
    """Built in ``worker.py`` with the catalog and the process's Temporal client."""

    def __init__(
        self,
        catalog: Catalog,
        publish: Publish,
        start_invoice: StartInvoice,
        organization: Organization | None = None,
    ) -> None:
        self.catalog = catalog
        self._publish = publish
        self._start_invoice = start_invoice
        #: Given to each invoice as it is issued (the worker's settings).
        self.organization = organization or Organization()

    @activity.defn
    async def commit_step(self, step: LifecycleStep) -> InvoiceState | None:
        """Store the step's record and invoice, emit the events, start the invoice's workflow.

        The invoice's workflow starts with the invoice as issued (``InvoiceWorkflowInput.issued``)
        and only waits for its due date and payment; its ``invoice.created`` goes out with the
        step's events. Returns the issued invoice, if the step has one. Done once Temporal holds
        the events: an event is durable from here. Retried, it repeats nothing (see
        ``LifecycleStep``).
        """
        if step.invoice is not None:
            # Issued by this organization: its seller, timezone and default net terms.
            organization = {"organization": self.organization}
            step = step.model_copy(update={"invoice": step.invoice.model_copy(update=organization)})
        issued = await asyncio.to_thread(
            self.catalog.record_step, step.record, step.issue(), utcnow()
        )
        events = list(step.events)
        if issued is None or step.invoice is None:
            await self._publish(events)
            return None
        invoice = step.invoice.model_copy(update={"issued": issued})
        events.append(invoice_event(EventType.INVOICE_CREATED, invoice, issued, step.at))
        # Announced before its workflow starts: an invoice due at issue (net terms of 0 days)
        # goes past due in its first workflow task, whose invoice.past_due must not be emitted
        # before this invoice.created.
        await self._publish(events)
        await self._start_invoice(invoice)
        return issued
