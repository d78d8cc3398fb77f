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
import ipaddress
import math
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from datetime import timedelta
from decimal import Decimal

from temporalio.service import RPCError

from client.billhook import BillhookClient
from client.ids import customer_workflow_id
from client.inputs import AlertInput, MetricInput, SubscriptionInput
from config import Settings
from errors import BillhookError, NoWorker
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
    SubscriptionStatus,
    UsageInput,
)
from models.events import EventType
from starter.attempt import attempt_result
from starter.billing import local_time, money
from starter.demo_watch import POLL_SECONDS as WATCH_SECONDS
from starter.demo_watch import DemoReceiver
from starter.runtime import Progress, utcnow
from store.catalog import ComponentSpec, PlanVersionSpec

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
#: Where the demo's receiver listens (``WebhookReceiver``'s default host).
RECEIVER_NETWORK = ipaddress.ip_network("127.0.0.1/32")


async def tell(settings: Settings, period: str, period_length: timedelta) -> None:
    """Run the whole story against the configured Temporal and worker, then print a summary."""
    progress = Progress()
    customer_id = f"demo-{uuid.uuid4().hex[:6]}"
    # The receiver listens on this machine: the client lets the endpoint point there, and the
    # worker's BILLHOOK_ALLOWED_NETWORKS decides whether it is delivered to (``_undelivered``).
    networks = [*settings.allowed_networks, RECEIVER_NETWORK]
    local = settings.model_copy(update={"allowed_networks": networks})
    async with BillhookClient(local, worker_wait=EVENT_SECONDS) as billhook:
        await billhook.store()
        await billhook.temporal()  # connected first: when Temporal is down, nothing is created
        async with DemoReceiver(billhook, customer_id, progress) as watch:
            print(f"receiving on {watch.url} (endpoint {watch.endpoint_id}, all event types)")
            story = Story(billhook, watch, progress, period, period_length)
            async with watch.watching():
                try:
                    await story.tell()
                finally:
                    progress.done()
                    await story.clean_up()
        print(f"\n{len(watch.arrived)} events received, each verified, in this order:")
        print(watch.summary())
        print(f"\nendpoint {watch.endpoint_id} is disabled; the demo left nothing running")


Check = Callable[[], "bool | Awaitable[bool]"]


class Story:
    """The steps of the demo, in order; each waits for what it caused to arrive."""

    def __init__(
        self,
        billhook: BillhookClient,
        watch: DemoReceiver,
        progress: Progress,
        period: str,
        period_length: timedelta,
    ) -> None:
        self.billhook = billhook
        self.watch = watch
        self.progress = progress
        self.period = period
        self.period_length = period_length
        self.sub_id = ""

    async def tell(self) -> None:
        """Every step of the story, in order."""
        await self._create_customer()
        plan, metric, alert = await self._create_catalog()
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
            created = await self.billhook.customers.create(customer)
        except NoWorker:
            # Nothing would create it now; a worker started later must not either.
            temporal = await self.billhook.temporal()
            workflow = temporal.get_workflow_handle(customer_workflow_id(customer.customer_id))
            with contextlib.suppress(RPCError):
                await workflow.terminate(reason="billhook demo: no worker answered")
            raise BillhookError(self._no_worker()) from None
        await self._expect(
            lambda: self.watch.has(EventType.CUSTOMER_CREATED),
            lambda: self._undelivered(created.message_id),
        )

    async def _create_catalog(self) -> tuple[PlanVersionSnapshot, MetricSnapshot, AlertSnapshot]:
        metric = await self.billhook.metrics.create(
            MetricInput(name="API calls", event_name="api_call", aggregation=Aggregation.COUNT)
        )
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
        plan = await self.billhook.plans.create("Demo Pro", spec)
        created = await self.billhook.alerts.create(
            AlertInput(
                metric_id=metric.metric_id, plan_version_id=plan.version_id, threshold=THRESHOLD
            )
        )
        assert created.version is not None  # the version it was just created on
        return created.version, metric, created.alert

    async def _subscribe(self, plan: PlanVersionSnapshot) -> None:
        created = await self.billhook.subscriptions.create(
            SubscriptionInput(customer_id=self.watch.customer_id, plan_id=plan.plan_id)
        )
        record = created.state
        self.sub_id = record.subscription_id
        start, end = (local_time(t, TIMEZONE) for t in (record.period_start, record.period_end))
        self.say(f"subscribed: {self.sub_id}, period 1 of {PERIODS} from {start} to {end}")

    async def _first_invoice_past_due(self) -> InvoiceState:
        invoices: list[InvoiceState] = []

        async def issued() -> bool:
            invoices[:] = await self.billhook.invoices.list(subscription_id=self.sub_id)
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
            result = await self.billhook.usage.record(self.sub_id, usage)
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
        await self.billhook.invoices.pay(invoice.invoice_id, payment)
        self.say(f"paid invoice {invoice.invoice_number}, after it went past due")
        await self._expect(
            lambda: self.watch.has(EventType.INVOICE_PAID, invoice_id=invoice.invoice_id),
            f"invoice {invoice.invoice_id} was paid but invoice.paid did not arrive",
        )

    async def _wait_renewals(self) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + (PERIODS - 1) * self.period_length.total_seconds() + EVENT_SECONDS
        while (record := await self.billhook.subscriptions.get(self.sub_id)).sequence < PERIODS - 1:
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
        # The record says it renewed; the second renewal's webhook may still be on its way, and
        # the story shows it before the cancellation's.
        renewed = EventType.SUBSCRIPTION_RENEWED.value
        await self._expect(
            lambda: self.watch.counts()[renewed] >= PERIODS - 1,
            f"{renewed} did not arrive for each renewal",
        )
        await self.billhook.subscriptions.cancel(self.sub_id)
        self.say("cancelled now: a final invoice for the usage so far (none: 0.00, paid at once)")

    async def _wait_all_events(self) -> list[InvoiceState]:
        """Wait for the subscription to end and for every event it caused; its invoices."""
        try:
            async with asyncio.timeout(EVENT_SECONDS):
                final = await self.billhook.subscriptions.wait_ended(self.sub_id)
        except TimeoutError:
            raise BillhookError(
                f"subscription {self.sub_id} did not end within {EVENT_SECONDS:g} s"
            ) from None
        invoices: list[InvoiceState] = []

        async def all_issued() -> bool:
            invoices[:] = await self.billhook.invoices.list(subscription_id=self.sub_id)
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
            await self.billhook.invoices.void(invoice.invoice_id)
        numbers = ", ".join(i.invoice_number for i in unpaid) or "none"
        self.say(f"voided the invoices left unpaid ({numbers}): no workflow waits for payment")

    # Helpers -----------------------------------------------------------------------------
    async def _expect(self, done: Check, failure: str | Callable[[], Awaitable[str]]) -> None:
        """Wait up to ``EVENT_SECONDS`` for ``done()``, showing events as they arrive."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + EVENT_SECONDS
        while not await _true(done()):
            if loop.time() > deadline:
                why = failure if isinstance(failure, str) else await failure()
                raise BillhookError(f"{why} within {EVENT_SECONDS:g} s")
            self.watch.poll()
            await asyncio.sleep(WATCH_SECONDS)

    def _no_worker(self) -> str:
        return (
            f"no worker answered on task queue {self.billhook.settings.task_queue} within "
            f"{EVENT_SECONDS:g} s; is `make run` up?"
        )

    async def _undelivered(self, message_id: str) -> str:
        attempts = await self.billhook.attempts.list(
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
            record = await self.billhook.subscriptions.get(self.sub_id)
            if record.status is not SubscriptionStatus.ENDED:
                async with asyncio.timeout(5):
                    await self.billhook.subscriptions.cancel(self.sub_id)


async def _true(answer: bool | Awaitable[bool]) -> bool:
    return answer if isinstance(answer, bool) else await answer


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
