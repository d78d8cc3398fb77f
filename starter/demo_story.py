"""The story ``billhook demo`` tells, on the running worker: every event, delivered and verified.

A customer whose invoices are due when issued (net terms of 0 days), so each unpaid invoice goes
past due at once; a plan with a flat fee in advance and metered API calls; an alert at 100
calls. The subscription takes usage over the alert, its first invoice is paid after it went past
due, it renews twice, and is cancelled; the invoices left unpaid are then voided and the endpoint
disabled, so the demo leaves nothing running. Imported only by ``billhook demo``.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import uuid
from collections import Counter
from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal

from temporalio.service import RPCError

from config import Settings
from errors import BillhookError
from models.billing import (
    Aggregation,
    AlertSnapshot,
    ChargeTiming,
    CustomerSnapshot,
    InvoiceState,
    MetricSnapshot,
    PayInput,
    PaymentStatus,
    PlanVersionSnapshot,
    SubscriptionState,
    SubscriptionStatus,
    SubscriptionWorkflowInput,
    UsageInput,
)
from models.events import EventType
from models.periods import in_timezone
from starter.attempt import attempt_result
from starter.billing import local_time, money
from starter.billing_temporal import Lifecycle, lifecycle
from starter.demo_watch import DemoReceiver
from starter.runtime import Progress, utcnow
from store import Store
from store.catalog import Catalog, ComponentSpec, PlanVersionSpec
from workflows.subscription import SubscriptionWorkflow

TIMEZONE = "America/New_York"
#: The subscription runs this many periods: two renewals.
PERIODS = 3
#: How long an awaited event or record may take before the demo gives up on it.
EVENT_SECONDS = 15.0
FLAT_FEE = Decimal("10.00")
UNIT_PRICE = Decimal("0.05")
FREE_UNITS = Decimal(100)
THRESHOLD = Decimal(100)
USAGE_BATCHES = (Decimal(60), Decimal(90))
#: How often the subscription's record is read while waiting for its renewals.
POLL_SECONDS = 0.5


async def tell(settings: Settings, store: Store, period: str, period_length: timedelta) -> None:
    """Run the whole story against the configured Temporal and worker, then print a summary."""
    catalog = Catalog(store.engine)
    progress = Progress()
    customer_id = f"demo-{uuid.uuid4().hex[:6]}"
    async with lifecycle(settings, catalog) as billing:
        with DemoReceiver(store, customer_id, progress) as watch:
            print(f"receiving on {watch.url} (endpoint {watch.endpoint_id}, all event types)")
            story = Story(billing, store, watch, progress, period, period_length)
            async with watch.watching():
                try:
                    await story.tell()
                finally:
                    progress.done()
                    await story.clean_up()
        print(f"\n{len(watch.arrived)} events received, each verified, in this order:")
        print(watch.summary())
        print(f"\nendpoint {watch.endpoint_id} is disabled; the demo left nothing running")


class Story:
    """The steps of the demo, in order; each waits for what it caused to arrive."""

    def __init__(
        self,
        billing: Lifecycle,
        store: Store,
        watch: DemoReceiver,
        progress: Progress,
        period: str,
        period_length: timedelta,
    ) -> None:
        self.billing = billing
        self.catalog = billing.catalog
        self.store = store
        self.watch = watch
        self.progress = progress
        self.period = period
        self.period_length = period_length
        self.sub_id = ""

    async def tell(self) -> None:
        """Every step of the story, in order."""
        await self._create_customer()
        plan, metric, alert = await asyncio.to_thread(self._create_catalog)
        self.say(
            f"plan {plan.plan_name}: {money(FLAT_FEE, plan.currency)} every {self.period} in "
            f"advance, {money(UNIT_PRICE, plan.currency)} per API call over {FREE_UNITS}; "
            f"alert at {THRESHOLD} calls"
        )
        await self._subscribe(plan)
        first = await self._first_invoice_past_due()
        await self._record_usage(metric, alert)
        await self._pay(first)
        await self._wait_renewals()
        await self._cancel()
        invoices = await self._wait_all_events()
        await self._void_unpaid(invoices)

    def say(self, text: str) -> None:
        """One step of the story on standard output."""
        self.progress.done()
        print(f"▸ {text}", flush=True)

    # Steps -------------------------------------------------------------------------------
    async def _create_customer(self) -> None:
        customer = CustomerSnapshot(
            customer_id=self.watch.customer_id,
            name="Demo Customer",
            email="billing@demo.example",
            timezone=TIMEZONE,
            net_terms_days=0,
        )
        self.say(f"creating customer {customer.customer_id} ({TIMEZONE}, invoices due at issue)")
        try:
            async with asyncio.timeout(EVENT_SECONDS):
                message_id = await self.billing.create_customer(customer)
        except TimeoutError:
            # Nothing would create it now; a worker started later must not either.
            workflow = self.billing.client.get_workflow_handle(f"customer-{customer.customer_id}")
            with contextlib.suppress(RPCError):
                await workflow.terminate(reason="billhook demo: no worker answered")
            raise BillhookError(self._no_worker()) from None
        await self._expect(
            lambda: self.watch.has(EventType.CUSTOMER_CREATED), self._undelivered(message_id)
        )

    def _create_catalog(self) -> tuple[PlanVersionSnapshot, MetricSnapshot, AlertSnapshot]:
        now = utcnow()
        metric = self.catalog.create_metric("API calls", "api_call", Aggregation.COUNT, now)
        spec = PlanVersionSpec(
            period=self.period,
            flat_amount=FLAT_FEE,
            flat_timing=ChargeTiming.IN_ADVANCE,
            components=[
                ComponentSpec(
                    metric_id=metric.metric_id, unit_price=UNIT_PRICE, free_units=FREE_UNITS
                )
            ],
        )
        plan = self.catalog.create_plan("Demo Pro", spec, now)
        alert = self.catalog.create_alert(metric.metric_id, plan.version_id, THRESHOLD, now)
        return self.catalog.get_version(plan.version_id), metric, alert

    async def _subscribe(self, plan: PlanVersionSnapshot) -> None:
        customer = await asyncio.to_thread(self.catalog.get_customer, self.watch.customer_id)
        input = SubscriptionWorkflowInput(
            subscription_id=f"sub_{uuid.uuid4().hex}",
            customer=customer,
            plan=plan,
            anchor=in_timezone(utcnow().replace(microsecond=0), TIMEZONE),
        )
        self.sub_id = input.subscription_id
        record = await self.billing.subscribe(input)
        start, end = (local_time(t, TIMEZONE) for t in (record.period_start, record.period_end))
        self.say(f"subscribed: {self.sub_id}, period 1 of {PERIODS} from {start} to {end}")

    async def _first_invoice_past_due(self) -> InvoiceState:
        invoices: list[InvoiceState] = []

        def issued() -> bool:
            invoices[:] = self.catalog.list_invoices(subscription_id=self.sub_id)
            return bool(invoices)

        await self._expect(issued, "the first invoice was not issued")
        first = invoices[-1]
        self.say(f"invoice {first.invoice_number} for the fee in advance; due at once")
        await self._expect(
            lambda: self.watch.has(EventType.INVOICE_PAST_DUE, invoice_id=first.invoice_id),
            f"invoice {first.invoice_id} did not go past due",
        )
        return first

    async def _record_usage(self, metric: MetricSnapshot, alert: AlertSnapshot) -> None:
        for quantity in USAGE_BATCHES:
            usage = UsageInput(
                metric_id=metric.metric_id, quantity=quantity, idempotency_key=uuid.uuid4().hex
            )
            result = await self.billing.record_usage(self.sub_id, usage)
            fired = (
                f"; alert {', '.join(result.alerts_triggered)}" if result.alerts_triggered else ""
            )
            self.say(f"recorded {quantity} API calls: {result.usage} this period{fired}")
        await self._expect(
            lambda: self.watch.has(EventType.USAGE_ALERT_TRIGGERED),
            f"alert {alert.alert_id} did not trigger",
        )

    async def _pay(self, invoice: InvoiceState) -> None:
        payment = PayInput(external_payment_obj_id="pay_demo", external_payment_obj_type="demo")
        await self.billing.pay(invoice.invoice_id, payment)
        self.say(f"paid invoice {invoice.invoice_number}, after it went past due")
        await self._expect(
            lambda: self.watch.has(EventType.INVOICE_PAID, invoice_id=invoice.invoice_id),
            f"invoice {invoice.invoice_id} was paid but invoice.paid did not arrive",
        )

    async def _wait_renewals(self) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + (PERIODS - 1) * self.period_length.total_seconds() + EVENT_SECONDS
        while (record := await self._record()).sequence < PERIODS - 1:
            if loop.time() > deadline:
                raise BillhookError(f"subscription {self.sub_id} did not renew in time")
            left = math.ceil((record.period_end - utcnow()).total_seconds())
            self.progress.update(
                f"period {record.sequence + 1} of {PERIODS} ends in {max(left, 0)} s"
            )
            await asyncio.sleep(POLL_SECONDS)
        self.progress.done()
        self.say(f"renewed twice: period {PERIODS} of {PERIODS} runs")

    async def _cancel(self) -> None:
        await self.billing.cancel(self.sub_id, at_period_end=False)
        self.say("cancelled now: a final invoice for the usage so far (none: 0.00, paid at once)")

    async def _wait_all_events(self) -> list[InvoiceState]:
        """Wait for the subscription to end and for every event it caused; its invoices."""
        handle = self.billing.client.get_workflow_handle_for(
            SubscriptionWorkflow.run, f"subscription-{self.sub_id}"
        )
        try:
            async with asyncio.timeout(EVENT_SECONDS):
                final = await handle.result()
        except TimeoutError:
            raise BillhookError(
                f"subscription {self.sub_id} did not end within {EVENT_SECONDS:g} s"
            ) from None
        invoices: list[InvoiceState] = []

        def all_issued() -> bool:
            invoices[:] = self.catalog.list_invoices(subscription_id=self.sub_id)
            return set(final.invoice_ids) <= {i.invoice_id for i in invoices}

        await self._expect(all_issued, "the final invoice was not issued")
        expected = expected_events(invoices)
        await self._expect(
            lambda: self.watch.counts() >= expected,
            f"not every event arrived (expected {dict(expected)})",
        )
        return invoices

    async def _void_unpaid(self, invoices: list[InvoiceState]) -> None:
        unpaid = sorted(
            (i for i in invoices if i.payment_status is PaymentStatus.UNPAID),
            key=lambda i: i.invoice_number,
        )
        for invoice in unpaid:
            await self.billing.void(invoice.invoice_id)
        numbers = ", ".join(i.invoice_number for i in unpaid) or "none"
        self.say(f"voided the invoices left unpaid ({numbers}): no workflow waits for payment")

    # Helpers -----------------------------------------------------------------------------
    async def _expect(self, done: Callable[[], bool], failure: str) -> None:
        if not await self.watch.wait_for(done, EVENT_SECONDS):
            raise BillhookError(f"{failure} within {EVENT_SECONDS:g} s")

    async def _record(self) -> SubscriptionState:
        return await asyncio.to_thread(self.catalog.get_subscription, self.sub_id)

    def _no_worker(self) -> str:
        return (
            f"no worker answered on task queue {self.billing.task_queue} within "
            f"{EVENT_SECONDS:g} s; is `make run` up?"
        )

    def _undelivered(self, message_id: str) -> str:
        attempts = self.store.list_attempts(
            message_id=message_id, endpoint_id=self.watch.endpoint_id, limit=1
        )
        outcome = attempt_result(attempts[0]) if attempts else "not attempted yet"
        return (
            f"customer.created ({message_id}) did not reach the demo receiver at "
            f"{self.watch.url} (last attempt: {outcome}); the worker must be allowed to deliver "
            "to 127.0.0.1 (BILLHOOK_ALLOWED_NETWORKS=127.0.0.0/8, as `make run` sets)"
        )

    async def clean_up(self) -> None:
        """After a failure, cancel the subscription if it still runs (best effort)."""
        if not self.sub_id:
            return
        with contextlib.suppress(BillhookError, TimeoutError):
            record = await self._record()
            if record.status is not SubscriptionStatus.ENDED:
                async with asyncio.timeout(5):
                    await self.billing.cancel(self.sub_id, at_period_end=False)


def expected_events(invoices: list[InvoiceState]) -> Counter[str]:
    """The events the story causes, by type, given its subscription's invoices."""
    billed = [i for i in invoices if i.amount > 0]
    return Counter(
        {
            EventType.CUSTOMER_CREATED.value: 1,
            EventType.SUBSCRIPTION_CREATED.value: 1,
            EventType.USAGE_ALERT_TRIGGERED.value: 1,
            EventType.SUBSCRIPTION_RENEWED.value: PERIODS - 1,
            EventType.SUBSCRIPTION_CANCELLED.value: 1,
            EventType.INVOICE_CREATED.value: len(invoices),
            # Due when issued: every unpaid invoice goes past due at once; zero ones are paid.
            EventType.INVOICE_PAST_DUE.value: len(billed),
            EventType.INVOICE_PAID.value: sum(
                i.payment_status is PaymentStatus.PAID for i in billed
            ),
        }
    )
