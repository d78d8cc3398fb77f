"""``InvoiceWorkflow``: issue an invoice, wait for payment, and mark it past due at its due date."""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from activities.billing import BillingActivities
    from models.billing import (
        InvoiceState,
        InvoiceWorkflowInput,
        IssueInvoiceInput,
        PayInput,
        PaymentStatus,
    )
    from models.events import EventType
    from models.payloads import invoice_event
    from models.search import BILLING_STATUS, CUSTOMER_ID, INVOICE_ID, SUBSCRIPTION_ID

from workflows.emit import emit_events
from workflows.versions import ONE_STEP, store_call


@workflow.defn
class InvoiceWorkflow:
    """Id ``invoice-<invoice id>``; completes when the invoice is paid or voided.

    ``invoice.created`` on issue (an amount of 0 is paid at once and never emits
    ``invoice.paid``); ``invoice.past_due`` once, when the due date passes unpaid (an invoice
    without net terms has no due date and never goes past due);
    ``invoice.paid`` when paid, before or after it went past due.
    """

    @workflow.init
    def __init__(self, input: InvoiceWorkflowInput) -> None:
        self.input = input
        self.state: InvoiceState | None = None

    @workflow.run
    async def run(self, input: InvoiceWorkflowInput) -> InvoiceState:
        if input.issued is not None and workflow.patched(ONE_STEP):
            # Issued, announced and given its attributes by the step that billed it (0.4). Asked
            # all the same: an earlier release's worker that took it in a rolling upgrade knew
            # no ``issued`` and issued it itself, and this run must replay that.
            self.state = input.issued
        else:
            await self._issue(input)
        if not await self._settled_before_due():
            await self._mark_past_due()
        await workflow.wait_condition(self._settled)
        await workflow.wait_condition(workflow.all_handlers_finished)
        return self._issued()

    async def _issue(self, input: InvoiceWorkflowInput) -> None:
        """Store the invoice (its number) and emit ``invoice.created``: an invoice started
        without ``issued`` (before 0.4, or directly) issues itself."""
        workflow.upsert_search_attributes(
            [
                CUSTOMER_ID.value_set(input.customer.customer_id),
                SUBSCRIPTION_ID.value_set(input.subscription_id),
                INVOICE_ID.value_set(input.invoice_id),
            ]
        )
        issued = workflow.now()
        due = input.due_date(issued)
        self.state = await store_call(
            BillingActivities.issue_invoice,
            IssueInvoiceInput(invoice=input, issue_date=issued, due_date=due),
        )
        self._show_status()
        await self._emit(EventType.INVOICE_CREATED)

    @workflow.update
    async def pay(self, input: PayInput) -> InvoiceState:
        """Mark the invoice paid and emit ``invoice.paid``; paying it again changes nothing."""
        await workflow.wait_condition(lambda: self.state is not None)
        state = self._issued()
        if state.payment_status is PaymentStatus.PAID:
            return state
        self.state = state.model_copy(
            update={"payment_status": PaymentStatus.PAID, **input.model_dump()}
        )
        await self._save()
        await self._emit(EventType.INVOICE_PAID)
        return self.state

    @pay.validator
    def _validate_pay(self, input: PayInput) -> None:
        if self.state is not None and self.state.payment_status is PaymentStatus.VOIDED:
            raise ValueError(
                f"invoice {self.input.invoice_id} is voided; a voided invoice cannot be paid"
            )

    @workflow.update
    async def void(self) -> InvoiceState:
        """Void an unpaid invoice (Lotus's catalog has no event for it)."""
        await workflow.wait_condition(lambda: self.state is not None)
        self.state = self._issued().model_copy(update={"payment_status": PaymentStatus.VOIDED})
        await self._save()
        return self.state

    @void.validator
    def _validate_void(self) -> None:
        if self.state is not None and self.state.payment_status is not PaymentStatus.UNPAID:
            raise ValueError(
                f"invoice {self.input.invoice_id} is {self.state.payment_status.value}; "
                "only an unpaid invoice can be voided"
            )

    @workflow.query
    def details(self) -> InvoiceState | None:
        """The invoice as it stands (None until the store has issued it)."""
        return self.state

    def _issued(self) -> InvoiceState:
        assert self.state is not None, "invoice not issued yet"
        return self.state

    def _settled(self) -> bool:
        return self._issued().payment_status is not PaymentStatus.UNPAID

    async def _settled_before_due(self) -> bool:
        due = self._issued().due_date
        if due is None:  # no net terms: never past due (issue 12); waits for payment only
            await workflow.wait_condition(self._settled)
            return True
        remaining = due - workflow.now()
        if self._settled() or remaining <= timedelta(0):
            return self._settled()
        try:
            await workflow.wait_condition(self._settled, timeout=remaining)
        except TimeoutError:
            return False
        return True

    async def _mark_past_due(self) -> None:
        self.state = self._issued().model_copy(update={"past_due": True})
        await self._save()
        await self._emit(EventType.INVOICE_PAST_DUE)

    async def _save(self) -> None:
        self._show_status()
        # An invoice started issued exists only since 0.4: no patch to ask.
        since = self.input.issued is not None
        await store_call(BillingActivities.update_invoice, self._issued(), since_0_2=since)

    def _show_status(self) -> None:
        state = self._issued()
        unpaid = state.payment_status is PaymentStatus.UNPAID
        status = "past_due" if unpaid and state.past_due else state.payment_status.value
        workflow.upsert_search_attributes([BILLING_STATUS.value_set(status)])

    async def _emit(self, event_type: EventType) -> None:
        event = invoice_event(event_type, self.input, self._issued(), workflow.now())
        await emit_events([event], since_0_2=self.input.issued is not None)
