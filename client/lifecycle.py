"""``BillhookClient``'s lifecycle groups: subscriptions, usage, invoices, through their workflows.

Every request is checked against the catalog first (an unknown id fails before Temporal is
asked), then goes to the workflow as an update; a workflow that has closed is answered for by
the catalog, which the workflows keep current.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from client.catalog import summaries
from client.core import Core, Group, M, on_catalog, operation
from client.ids import invoice_workflow_id, subscription_workflow_id
from client.inputs import SubscriptionInput
from client.results import (
    InvoiceDetails,
    PayResult,
    SubscriptionDetails,
    SubscriptionSummary,
    SubscriptionView,
)
from errors import Conflict, InvalidInput, NoWorker
from models.billing import (
    CancelInput,
    CustomerSnapshot,
    InvoiceState,
    PayInput,
    PaymentStatus,
    PlanVersionSnapshot,
    SubscriptionState,
    SubscriptionStatus,
    SubscriptionWorkflowInput,
    UsageInput,
    UsageResult,
)
from models.periods import in_timezone, period_bounds, zone
from store.catalog import Catalog, check_quantity
from store.validation import check_name, check_text

SUBSCRIPTION_ID_PREFIX = "sub_"
#: The latest first period a subscription may start: further ahead is a typo.
MAX_START_AHEAD = timedelta(days=36525)


def subscription_summaries(
    catalog: Catalog, customer_id: str | None = None, status: SubscriptionStatus | None = None
) -> list[SubscriptionSummary]:
    """Subscription records newest first, of one customer and/or in one status."""
    states = catalog.list_subscriptions(customer_id=customer_id, status=status)
    return summaries(catalog, states)


def invoice_details(catalog: Catalog, invoice_id: str) -> InvoiceDetails:
    """An invoice and its lines.

    Raises:
        NotFound: no such invoice.
    """
    invoice = catalog.get_invoice(invoice_id)
    return InvoiceDetails(invoice=invoice, lines=catalog.invoice_lines(invoice_id))


class Subscriptions(Group[M]):
    """Subscriptions: one workflow each (``subscription-<sub id>``), renewing every period."""

    @operation
    async def create(self, subscription: SubscriptionInput) -> SubscriptionView:
        """Subscribe a customer to a plan's newest version; its first period once recorded.

        Answered by the workflow's ``started`` update, sent with its start: it returns once a
        worker has recorded the first period in the store.

        Raises:
            NotFound: no such customer or plan.
            InvalidInput: a start more than 100 years ahead, or one whose first period has
                already ended.
            NoWorker: no worker picked the subscription up in time (it is started).
        """

        def prepare(catalog: Catalog) -> SubscriptionWorkflowInput:
            customer = catalog.get_customer(subscription.customer_id)
            plan = catalog.latest_version(subscription.plan_id)
            anchor = self._anchor(subscription.start, customer)
            self._refuse_ended_first_period(anchor, plan)
            return SubscriptionWorkflowInput(
                subscription_id=SUBSCRIPTION_ID_PREFIX + uuid.uuid4().hex,
                customer=customer,
                plan=plan,
                anchor=anchor,
                auto_renew=subscription.auto_renew,
            )

        input = await self._in_catalog(prepare)
        state = await (await self._core.temporal()).subscribe(input)
        return SubscriptionView(state=state, plan=input.plan, timezone=input.customer.timezone)

    def _anchor(self, start: datetime | None, customer: CustomerSnapshot) -> datetime:
        timezone = customer.timezone
        if start is None:
            return in_timezone(self._core.now().replace(microsecond=0), timezone)
        try:
            moment = in_timezone(
                start if start.tzinfo is not None else start.replace(tzinfo=zone(timezone)),
                timezone,
            )
        except OverflowError:  # 0001-01-01 moved to another zone
            raise InvalidInput(
                f"a start of {start.isoformat()} is out of range in {timezone}; give a later one"
            ) from None
        if moment - self._core.now() > MAX_START_AHEAD:
            raise InvalidInput(
                f"a start of {start.isoformat()} is more than 100 years ahead; give a nearer one"
            )
        return moment

    def _refuse_ended_first_period(self, anchor: datetime, plan: PlanVersionSnapshot) -> None:
        """Refuse a start so far back that periods would be billed in a burst, all at once."""
        _, end, next_start = period_bounds(anchor, plan.period, 0)
        if next_start <= self._core.now():
            raise InvalidInput(
                f"a subscription starting {anchor.isoformat()} on a {plan.period} plan would "
                f"have ended its first period at {end.isoformat(timespec='seconds')}; give a "
                "--start within the current period or later"
            )

    get = on_catalog(Catalog.get_subscription)

    @operation
    async def show(self, subscription_id: str) -> SubscriptionDetails:
        """A subscription as its workflow answers (usage, alerts fired), with its invoices.

        Once the workflow has closed, or when no worker answers, the catalog's record.

        Raises:
            NotFound: no such subscription.
        """
        record = await self._in_catalog(Catalog.get_subscription, subscription_id)
        temporal = await self._core.temporal()
        unanswered = None
        try:
            live = await temporal.subscription_state(subscription_id)
        except NoWorker as exc:
            live, unanswered = None, str(exc)
        state = live or record

        def read(catalog: Catalog) -> SubscriptionDetails:
            view = subscription_view(catalog, state)
            return SubscriptionDetails(
                state=state,
                plan=view.plan,
                timezone=view.timezone,
                live=live is not None,
                unanswered=unanswered,
                invoices=catalog.list_invoices(subscription_id=subscription_id),
            )

        return await self._in_catalog(read)

    @operation
    async def cancel(
        self, subscription_id: str, request: CancelInput | None = None
    ) -> SubscriptionView:
        """Cancel now (a final invoice for the usage so far) or at the period's end.

        Raises:
            NotFound: no such subscription.
            InvalidInput: it is cancelled already.
            Conflict: it has ended.
        """
        await self._in_catalog(Catalog.get_subscription, subscription_id)
        temporal = await self._core.temporal()
        state = await temporal.cancel(subscription_id, request or CancelInput())
        if state is None:
            raise await closed_subscription(self._core, subscription_id)
        return await self._in_catalog(subscription_view, state)

    @operation
    async def wait_ended(self, subscription_id: str) -> SubscriptionState:
        """Wait until the subscription ends (its last run completes); its final state."""
        return await (await self._core.temporal()).wait_ended(subscription_id)

    list = on_catalog(subscription_summaries)


def subscription_view(catalog: Catalog, state: SubscriptionState) -> SubscriptionView:
    """A subscription's state with its plan version and its customer's timezone (blocking)."""
    return SubscriptionView(
        state=state,
        plan=catalog.get_version(state.plan_version_id),
        timezone=catalog.get_customer(state.customer_id).timezone,
    )


async def closed_subscription(core: Core, subscription_id: str) -> Conflict:
    """Why a subscription whose workflow has closed refuses a request."""
    catalog = await core.catalog()
    record = await core.blocking(catalog.get_subscription, subscription_id)
    if record.status is SubscriptionStatus.ENDED:
        return Conflict(f"subscription {subscription_id} has ended")
    return Conflict(
        f"subscription {subscription_id} is {record.status.value} but its workflow "
        f"{subscription_workflow_id(subscription_id)} is not running; look it up in the "
        "Temporal Web UI"
    )


class Usage(Group[M]):
    """Usage of subscriptions, an update of each subscription's workflow."""

    @operation
    async def record(self, subscription_id: str, usage: UsageInput) -> UsageResult:
        """Add a batch of usage to the current period; a key seen before adds nothing.

        Raises:
            InvalidInput: a bad quantity, metric id or key; a metric the plan does not bill.
            NotFound: no such subscription.
            Conflict: the subscription has ended.
            NoWorker: no worker answered in time; retry with the same key, so the batch counts
                once.
        """
        check_quantity("quantity", usage.quantity)
        check_text("metric id", usage.metric_id)
        check_name("idempotency key", usage.idempotency_key)
        await self._in_catalog(Catalog.get_subscription, subscription_id)
        temporal = await self._core.temporal()
        result = await temporal.record_usage(subscription_id, usage)
        if result is None:
            raise await closed_subscription(self._core, subscription_id)
        return result


class Invoices(Group[M]):
    """Invoices: one workflow each (``invoice-<invoice id>``) until paid or voided."""

    get = on_catalog(Catalog.get_invoice)
    show = on_catalog(invoice_details)

    @operation
    async def pdf(self, invoice_id: str) -> bytes:
        """The invoice's PDF, as its newest event showed it (``client.pdf``).

        Raises:
            NotFound: no event carries that invoice.
        """
        from client.pdf import invoice_pdf

        return await self._in_store(invoice_pdf, invoice_id)

    @operation
    async def pay(self, invoice_id: str, payment: PayInput | None = None) -> PayResult:
        """Mark an invoice paid (``invoice.paid``); paying a paid one again changes nothing.

        Raises:
            InvalidInput: a payment field too long or with control characters.
            NotFound: no such invoice.
            Conflict: the invoice is voided, or unpaid with no workflow to pay it.
        """
        payment = payment or PayInput()
        for field, value in payment.model_dump().items():
            if value is not None:
                check_text(field.replace("_", " "), value)
        before = await self._in_catalog(Catalog.get_invoice, invoice_id)
        paid = await (await self._core.temporal()).pay(invoice_id, payment)
        if paid is not None:
            return PayResult(invoice=paid, already_paid=before.payment_status is PaymentStatus.PAID)
        stored = await self._in_catalog(Catalog.get_invoice, invoice_id)
        if stored.payment_status is PaymentStatus.PAID:
            return PayResult(invoice=stored, already_paid=True)  # idempotent (lifecycle.md)
        if stored.payment_status is PaymentStatus.VOIDED:
            raise Conflict(f"invoice {invoice_id} is voided; a voided invoice cannot be paid")
        raise _invoice_not_running(invoice_id)

    @operation
    async def void(self, invoice_id: str) -> InvoiceState:
        """Void an unpaid invoice (no event is emitted).

        Raises:
            NotFound: no such invoice.
            Conflict: the invoice is paid or voided, or has no workflow to void it.
        """
        await self._in_catalog(Catalog.get_invoice, invoice_id)
        voided = await (await self._core.temporal()).void(invoice_id)
        if voided is not None:
            return voided
        stored = await self._in_catalog(Catalog.get_invoice, invoice_id)
        if stored.payment_status is PaymentStatus.UNPAID:
            raise _invoice_not_running(invoice_id)
        raise Conflict(
            f"invoice {invoice_id} is {stored.payment_status.value}; "
            "only an unpaid invoice can be voided"
        )

    list = on_catalog(Catalog.list_invoices)


def _invoice_not_running(invoice_id: str) -> Conflict:
    return Conflict(
        f"invoice {invoice_id} is unpaid but its workflow {invoice_workflow_id(invoice_id)} is "
        "not running; look it up in the Temporal Web UI"
    )
