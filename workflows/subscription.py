"""``SubscriptionWorkflow``: one period of a subscription; renewal continues as new."""

from __future__ import annotations

import contextlib
from datetime import timedelta
from decimal import Decimal
from typing import Any

from temporalio import workflow
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    from activities.billing import BillingActivities
    from activities.lifecycle import LifecycleActivities
    from models.billing import (
        AlertSnapshot,
        CancelInput,
        ChargeTiming,
        InvoiceWorkflowInput,
        LifecycleStep,
        LineItemData,
        PlanRef,
        PlanVersionSnapshot,
        SubscriptionState,
        SubscriptionStatus,
        SubscriptionWorkflowInput,
        SubscriptionWorkflowState,
        UsageInput,
        UsageResult,
    )
    from models.delivery import Event, SearchKeys
    from models.events import EventType
    from models.invoicing import Bounds, flat_charge, flat_line, period_end_lines, usage_lines
    from models.payloads import subscription_payload, usage_alert_payload
    from models.periods import period_bounds
    from models.search import BILLING_STATUS, CUSTOMER_ID, SUBSCRIPTION_ID

from workflows.emit import emit
from workflows.policies import STORE_RETRY, STORE_TIMEOUT
from workflows.subscription_legacy import LegacyPaths
from workflows.versions import (
    ONE_STEP,
    cancel_after_start,
    cancelled_when_ended,
    close_issues_invoice,
    one_step,
    store_call,
)

#: The error type of the one refusal a caller should simply retry (see ``_require_open``).
PERIOD_CLOSING = "PeriodClosing"


@workflow.defn
class SubscriptionWorkflow(LegacyPaths):
    """Id ``subscription-<sub id>``. Sleeps until the period ends, takes usage and cancellation
    as updates (validated: a refused one leaves no trace), invoices each period, renews.

    Its state is one ``SubscriptionWorkflowState`` (``self.sub``), opened from the input,
    answered whole by the ``state`` query and turned into the next period's input on renewal.

    One path issues a period's invoice: the run that closes the period, as it wakes at the
    period's end (or at a cancellation with immediate effect), then continues as new or
    finishes. Before ``CLOSE_ISSUES_INVOICE`` a renewing run handed the invoice's lines to its
    next run (``closing_lines``), which issued them before announcing the renewal: a 0.1 run
    started invoices as children, and a run that continued as new with a child it had just
    started still busy stopped the time-skipping test server's clock
    (temporalio/sdk-java#1540). Invoices are started through the worker's client since 0.2,
    so no child is left behind; the handover stays for the runs that replay it.
    """

    @workflow.init
    def __init__(self, input: SubscriptionWorkflowInput) -> None:
        self.sub = SubscriptionWorkflowState.opening(input)
        self.opened = input.opened
        # The period's announcement (created or renewed) is fixed before any handler runs: a
        # cancellation that arrives at once is announced by its own event, not folded into it.
        # (A run opened by its predecessor was announced by it, unless an earlier release ran it.)
        self.announcement = _payload(self.sub, is_new=input.sequence == 0)

    @workflow.run
    async def run(self, input: SubscriptionWorkflowInput) -> SubscriptionState:
        if input.opened and self._one_step():
            self.sub.recorded = True  # recorded and announced by the run that renewed into it
        else:
            self._show_attributes()
            if self._one_step():
                await self._start()
            else:
                await self._record()
                await self._open(input)
        remaining = self.sub.next_start - workflow.now()
        if remaining > timedelta(0):
            with contextlib.suppress(TimeoutError):
                await workflow.wait_condition(lambda: self.sub.cancelled_now, timeout=remaining)
        self.sub.closing = True
        bounds = (self.sub.period_start, self.sub.period_end)
        if self.sub.cancelled_now:
            return await self._end(usage_lines(self.sub.plan, self.sub.usage, bounds))
        renewal = await self._renewal() if self.sub.auto_renew else None
        lines = period_end_lines(self.sub.plan, self.sub.usage, bounds, renewal)
        if renewal is None:
            return await self._end(lines)
        if self._one_step():
            next_run = self.sub.renewal(renewal[0], opened=True)
            await self._renew(next_run, lines)
            await workflow.wait_condition(workflow.all_handlers_finished)
            workflow.continue_as_new(next_run)
        handed: list[LineItemData] | None = lines
        if close_issues_invoice():
            await self._invoice(lines)
            handed = None
        await workflow.wait_condition(workflow.all_handlers_finished)
        workflow.continue_as_new(self.sub.renewal(renewal[0], closing_lines=handed))

    # Steps (billhook 0.4: each one local activity) --------------------------------------
    async def _start(self) -> None:
        """The first period: recorded, its in-advance charge invoiced, ``subscription.created``."""
        lines = []
        if charge := flat_charge(self.sub.plan, ChargeTiming.IN_ADVANCE):
            lines.append(
                flat_line(self.sub.plan, charge, (self.sub.period_start, self.sub.period_end))
            )
        created = self._event(EventType.SUBSCRIPTION_CREATED, self.sub_id, self.announcement)
        await self._step(self.sub.record(), lines=lines, events=[created])

    async def _renew(self, next_run: SubscriptionWorkflowInput, lines: list[LineItemData]) -> None:
        """The ended period invoiced; the next one recorded and announced for ``next_run``."""
        opened = SubscriptionWorkflowState.opening(next_run)
        key = f"{self.sub_id}:period:{next_run.sequence}"
        renewed = self._event(EventType.SUBSCRIPTION_RENEWED, key, _payload(opened, is_new=False))
        await self._step(opened.record(), lines=lines, events=[renewed])

    async def _end(self, lines: list[LineItemData]) -> SubscriptionState:
        """The last period invoiced and the subscription ended (cancelled now, or not renewed)."""
        if not self._one_step():
            await self._invoice(lines)
            return await self._finish()
        events = self._cancelled_at_end()
        self.sub.status = SubscriptionStatus.ENDED
        self._show_attributes()
        await self._step(self.sub.record(), lines=lines, events=events)
        await workflow.wait_condition(workflow.all_handlers_finished)
        return self.sub.record()

    async def _step(
        self,
        record: SubscriptionState,
        *,
        lines: list[LineItemData] | None = None,
        events: list[Event] | None = None,
    ) -> None:
        """Make one lifecycle step: store ``record``, issue ``lines``' invoice, emit ``events``."""
        step = LifecycleStep(
            at=workflow.now(),
            record=record,
            invoice=self._new_invoice(lines) if lines else None,
            events=events or [],
        )
        await workflow.execute_local_activity_method(
            LifecycleActivities.commit_step,
            step,
            start_to_close_timeout=STORE_TIMEOUT,
            retry_policy=STORE_RETRY,
        )
        self.sub.recorded = True

    def _one_step(self) -> bool:
        """Whether this run takes 0.4's steps (``workflows.versions.one_step``).

        A run opened by its predecessor was continued as new by 0.4, yet it still asks: a worker
        of an earlier release that took it during a rolling upgrade ran it the old way (its
        input's ``opened`` unknown to it), and this run must replay that. It asks the one patch
        only, before any command, so that a run of either kind replays.
        """
        return workflow.patched(ONE_STEP) if self.opened else one_step()

    @property
    def sub_id(self) -> str:
        return self.sub.subscription_id

    # Usage -------------------------------------------------------------------------------
    @workflow.update
    async def record_usage(self, input: UsageInput) -> UsageResult:
        """Add a batch of usage; fire each alert whose threshold it crosses, once a period."""
        sub = self.sub
        before = sub.usage.get(input.metric_id, Decimal(0))
        if sub.seen(input.idempotency_key):
            return UsageResult(accepted=False, usage=before)
        sub.keys.add(input.idempotency_key)
        after = sub.usage[input.metric_id] = before + input.quantity
        crossed = [
            alert
            for alert in sub.plan.alerts
            if alert.metric_id == input.metric_id
            and before < alert.threshold <= after
            and alert.alert_id not in sub.alerts_fired
        ]
        sub.alerts_fired.extend(alert.alert_id for alert in crossed)
        for alert in crossed:
            await self._emit_alert(alert, after)
        return UsageResult(
            accepted=True, usage=after, alerts_triggered=[a.alert_id for a in crossed]
        )

    @record_usage.validator
    def _validate_usage(self, input: UsageInput) -> None:
        self._require_open()
        if input.quantity < 0:
            raise ValueError(f"usage quantity must not be negative (got {input.quantity})")
        plan = self.sub.plan
        if plan.component(input.metric_id) is None:
            known = ", ".join(c.metric.metric_id for c in plan.components) or "none"
            raise ValueError(
                f"metric {input.metric_id} is not billed by plan {plan.plan_id} "
                f"version {plan.version} (its metrics: {known})"
            )

    # Cancellation ------------------------------------------------------------------------
    @workflow.update
    async def cancel(self, input: CancelInput) -> SubscriptionWorkflowState:
        """Cancel now (final invoice for usage so far) or at the end of the current period."""
        if not self.sub.recorded and cancel_after_start():
            # A cancellation that arrives with the start waits for it: the start's record and
            # ``subscription.created`` come first, the cancellation's after them.
            await workflow.wait_condition(lambda: self.sub.recorded)
        self.sub.auto_renew = False
        if input.at_period_end:
            self.sub.status = SubscriptionStatus.CANCELLED
        else:
            # Ended from this moment; the run issues the final invoice as it wakes up.
            self.sub.cancelled_now = True
            self.sub.status = SubscriptionStatus.ENDED
            self.sub.period_end = workflow.now()
        payload = _payload(self.sub, is_new=False)
        self._show_attributes()
        if self._one_step():
            if cancelled_when_ended():
                await self._step(self.sub.record())  # announced as it ends (``_cancelled_at_end``)
                return self.state()
            cancelled = self._event(EventType.SUBSCRIPTION_CANCELLED, self.sub_id, payload)
            await self._step(self.sub.record(), events=[cancelled])
            return self.state()
        await self._record()
        await emit(EventType.SUBSCRIPTION_CANCELLED, self.sub_id, payload, self._search())
        return self.state()

    def _cancelled_at_end(self) -> list[Event]:
        """``subscription.cancelled`` as a cancelled subscription ends, with its final invoice
        (0.5, as Lotus): its last period, its real ``is_new``, ``fully_billed``."""
        sub = self.sub
        cancelled = sub.cancelled_now or sub.status is SubscriptionStatus.CANCELLED
        if not (cancelled and cancelled_when_ended()):
            return []
        payload = _payload(sub, is_new=sub.sequence == 0, fully_billed=True)
        return [self._event(EventType.SUBSCRIPTION_CANCELLED, self.sub_id, payload)]

    @cancel.validator
    def _validate_cancel(self, input: CancelInput) -> None:
        if self.sub.cancelled_now or self.sub.status is SubscriptionStatus.CANCELLED:
            raise ValueError(f"subscription {self.sub_id} is already cancelled")
        self._require_open()

    # Start -------------------------------------------------------------------------------
    @workflow.update
    async def started(self) -> SubscriptionWorkflowState:
        """The state once the store has this run's record.

        Sent with the start (update-with-start, ``BillhookClient.subscriptions.create``): the
        caller learns the subscription is recorded from the workflow, not by reading the store.
        """
        await workflow.wait_condition(lambda: self.sub.recorded)
        return self.state()

    @workflow.query
    def state(self) -> SubscriptionWorkflowState:
        """The whole state: status, period bounds, usage so far, alerts fired this period."""
        return self.sub

    def _require_open(self) -> None:
        if self.sub.status is SubscriptionStatus.ENDED:
            raise ValueError(f"subscription {self.sub_id} has ended")
        if self.sub.closing:
            # The next run (continue-as-new) takes requests again within moments.
            raise ApplicationError(
                f"subscription {self.sub_id} is closing period {self.sub.sequence}; retry shortly",
                type=PERIOD_CLOSING,
            )

    # Period end --------------------------------------------------------------------------
    async def _renewal(self) -> tuple[PlanVersionSnapshot, Bounds]:
        """The plan version the next period runs on (the plan's newest) and its bounds."""
        plan = await store_call(
            BillingActivities.latest_plan_version,
            PlanRef(plan_id=self.sub.plan.plan_id),
            since_0_2=self.opened,
        )
        anchor, index = self.sub.calendar_of(plan)
        start, end, _ = period_bounds(
            anchor, plan.period, index, timezone=self.sub.customer.timezone
        )
        return plan, (start, end)

    def _new_invoice(
        self, lines: list[LineItemData], plan: PlanVersionSnapshot | None = None
    ) -> InvoiceWorkflowInput:
        """An invoice of ``lines`` (on this period's plan unless given), under a new id."""
        invoice_id = f"invoice_{workflow.uuid4().hex}"
        self.sub.invoice_ids.append(invoice_id)
        return InvoiceWorkflowInput(
            invoice_id=invoice_id,
            subscription_id=self.sub_id,
            customer=self.sub.customer,
            plan=plan or self.sub.plan,
            line_items=lines,
        )

    # Events and visibility ---------------------------------------------------------------
    async def _emit_alert(self, alert: AlertSnapshot, usage: Decimal) -> None:
        component = self.sub.plan.component(alert.metric_id)
        assert component is not None  # alerts are only defined on billed metrics
        payload = usage_alert_payload(
            subscription=_payload(self.sub, is_new=self.sub.sequence == 0),
            plan=self.sub.plan,
            alert=alert,
            metric=component.metric,
            usage=usage,
            time_triggered=workflow.now(),
        )
        key = f"{alert.alert_id}:{self.sub_id}:{self.sub.period_start.isoformat()}"
        await emit(EventType.USAGE_ALERT_TRIGGERED, key, payload, self._search())

    def _search(self) -> SearchKeys:
        return SearchKeys(customer_id=self.sub.customer_id, subscription_id=self.sub_id)

    def _event(self, event_type: EventType, key: str, payload: dict[str, Any]) -> Event:
        return Event.for_event(event_type, key, payload, workflow.now(), self._search())

    def _show_attributes(self) -> None:
        """Keep the Web UI's attributes current (a renewed run keeps its predecessor's)."""
        workflow.upsert_search_attributes(
            [
                CUSTOMER_ID.value_set(self.sub.customer_id),
                SUBSCRIPTION_ID.value_set(self.sub_id),
                BILLING_STATUS.value_set(self.sub.status.value),
            ]
        )


def _payload(
    sub: SubscriptionWorkflowState, *, is_new: bool, fully_billed: bool = False
) -> dict[str, Any]:
    """The subscription's payload for the period ``sub`` is in."""
    return subscription_payload(
        subscription_id=sub.subscription_id,
        customer=sub.customer,
        plan=sub.plan,
        start=sub.period_start,
        end=sub.period_end,
        auto_renew=sub.auto_renew,
        is_new=is_new,
        fully_billed=fully_billed,
    )
