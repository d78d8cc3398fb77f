"""``SubscriptionWorkflow``: one period of a subscription; renewal continues as new."""

from __future__ import annotations

import contextlib
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from temporalio import workflow
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    from activities.billing import BillingActivities
    from activities.engine import EngineActivities
    from client.ids import invoice_workflow_id
    from models.billing import (
        AlertSnapshot,
        CancelInput,
        ChargeTiming,
        InvoiceWorkflowInput,
        LineItemData,
        PlanRef,
        PlanVersionSnapshot,
        SubscriptionState,
        SubscriptionStatus,
        SubscriptionWorkflowInput,
        UsageInput,
        UsageResult,
    )
    from models.delivery import SearchKeys
    from models.events import EventType
    from models.invoicing import Bounds, flat_charge, flat_line, period_end_lines, usage_lines
    from models.payloads import subscription_payload, usage_alert_payload
    from models.periods import period_bounds
    from models.search import BILLING_STATUS, CUSTOMER_ID, SUBSCRIPTION_ID

from workflows.emit import emit
from workflows.policies import STORE_RETRY, STORE_TIMEOUT
from workflows.versions import batched, store_call

#: The error type of the one refusal a caller should simply retry (see ``_require_open``).
PERIOD_CLOSING = "PeriodClosing"


@workflow.defn
class SubscriptionWorkflow:
    """Id ``subscription-<sub id>``. Sleeps until the period ends, takes usage and cancellation
    as updates (validated: a refused one leaves no trace), invoices each period, renews."""

    @workflow.init
    def __init__(self, input: SubscriptionWorkflowInput) -> None:
        self.input = input
        self.plan = input.plan
        # The anchor came through JSON with a fixed offset: periods follow the customer's zone.
        self.start, self.end, self.next_start = period_bounds(
            input.anchor,
            input.plan.period,
            input.period_index,
            timezone=input.customer.timezone,
        )
        self.status = SubscriptionStatus.ACTIVE
        self.auto_renew = input.auto_renew
        self.cancelled_now = False
        self.closing = False  # the period ended: its invoice is being computed
        self.usage: dict[str, Decimal] = {}
        self.keys: set[str] = set()
        self.previous_keys = frozenset(input.previous_keys)
        self.fired: list[str] = []
        self.invoice_ids: list[str] = []
        self.recorded = False  # the store has this run's record (``started`` waits for it)
        # The period's announcement (created or renewed) is fixed before any handler runs: a
        # cancellation that arrives at once is announced by its own event, not folded into it.
        self.announcement = self._subscription_payload(is_new=input.sequence == 0)

    @workflow.run
    async def run(self, input: SubscriptionWorkflowInput) -> SubscriptionState:
        announcement = self.announcement
        await self._show()
        if input.sequence == 0:
            await emit(EventType.SUBSCRIPTION_CREATED, self.sub_id, announcement, self._search())
            if charge := flat_charge(self.plan, ChargeTiming.IN_ADVANCE):
                await self._invoice([flat_line(self.plan, charge, (self.start, self.end))])
        else:
            # The previous run computed the ended period's invoice; issuing it and announcing
            # the renewal here, not before continue-as-new, means a run never continues as new
            # with a child it just started still busy (the time-skipping test server loses
            # its clock then: temporalio/sdk-java#1540), and costs nothing in durability.
            await self._invoice(input.closing_lines, input.closing_plan)
            key = f"{self.sub_id}:period:{input.sequence}"
            await emit(EventType.SUBSCRIPTION_RENEWED, key, announcement, self._search())
        remaining = self.next_start - workflow.now()
        if remaining > timedelta(0):
            with contextlib.suppress(TimeoutError):
                await workflow.wait_condition(lambda: self.cancelled_now, timeout=remaining)
        self.closing = True
        if self.cancelled_now:
            await self._invoice(usage_lines(self.plan, self.usage, (self.start, self.end)))
            return await self._finish()
        renewal = await self._renewal() if self.auto_renew else None
        lines = period_end_lines(self.plan, self.usage, (self.start, self.end), renewal)
        if renewal is None:
            await self._invoice(lines)
            return await self._finish()
        await workflow.wait_condition(workflow.all_handlers_finished)
        anchor, index = self._next_anchor(renewal[0])
        workflow.continue_as_new(
            self.input.model_copy(
                update={
                    "plan": renewal[0],
                    "anchor": anchor,
                    "period_index": index,
                    "sequence": self.input.sequence + 1,
                    "previous_keys": sorted(self.keys),
                    "closing_lines": lines,
                    "closing_plan": self.plan,
                }
            )
        )

    @property
    def sub_id(self) -> str:
        return self.input.subscription_id

    # Usage -------------------------------------------------------------------------------
    @workflow.update
    async def record_usage(self, input: UsageInput) -> UsageResult:
        """Add a batch of usage; fire each alert whose threshold it crosses, once a period."""
        key = input.idempotency_key
        if key in self.keys or key in self.previous_keys:
            usage = self.usage.get(input.metric_id, Decimal(0))
            return UsageResult(accepted=False, usage=usage)
        self.keys.add(key)
        before = self.usage.get(input.metric_id, Decimal(0))
        after = self.usage[input.metric_id] = before + input.quantity
        crossed = [
            alert
            for alert in self.plan.alerts
            if alert.metric_id == input.metric_id
            and before < alert.threshold <= after
            and alert.alert_id not in self.fired
        ]
        self.fired.extend(alert.alert_id for alert in crossed)
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
        if self.plan.component(input.metric_id) is None:
            known = ", ".join(c.metric.metric_id for c in self.plan.components) or "none"
            raise ValueError(
                f"metric {input.metric_id} is not billed by plan {self.plan.plan_id} "
                f"version {self.plan.version} (its metrics: {known})"
            )

    # Cancellation ------------------------------------------------------------------------
    @workflow.update
    async def cancel(self, input: CancelInput) -> SubscriptionState:
        """Cancel now (final invoice for usage so far) or at the end of the current period."""
        self.auto_renew = False
        if input.at_period_end:
            self.status = SubscriptionStatus.CANCELLED
        else:
            # Ended from this moment; the run issues the final invoice as it wakes up.
            self.cancelled_now = True
            self.status = SubscriptionStatus.ENDED
            self.end = workflow.now()
        payload = self._subscription_payload(is_new=False)
        await self._show()
        await emit(EventType.SUBSCRIPTION_CANCELLED, self.sub_id, payload, self._search())
        return self.state()

    @cancel.validator
    def _validate_cancel(self, input: CancelInput) -> None:
        if self.cancelled_now or self.status is SubscriptionStatus.CANCELLED:
            raise ValueError(f"subscription {self.sub_id} is already cancelled")
        self._require_open()

    # Start -------------------------------------------------------------------------------
    @workflow.update
    async def started(self) -> SubscriptionState:
        """The state once the store has this run's record.

        Sent with the start (update-with-start, ``BillhookClient.subscriptions.create``): the
        caller learns the subscription is recorded from the workflow, not by reading the store.
        """
        await workflow.wait_condition(lambda: self.recorded)
        return self.state()

    @workflow.query
    def state(self) -> SubscriptionState:
        """Status, period bounds, usage so far and alerts fired in this period."""
        return SubscriptionState(
            subscription_id=self.sub_id,
            customer_id=self.input.customer.customer_id,
            plan_id=self.plan.plan_id,
            plan_version_id=self.plan.version_id,
            status=self.status,
            auto_renew=self.auto_renew,
            sequence=self.input.sequence,
            period_start=self.start,
            period_end=self.end,
            usage=dict(self.usage),
            alerts_fired=list(self.fired),
            invoice_ids=list(self.invoice_ids),
        )

    def _require_open(self) -> None:
        if self.status is SubscriptionStatus.ENDED:
            raise ValueError(f"subscription {self.sub_id} has ended")
        if self.closing:
            # The next run (continue-as-new) takes requests again within moments.
            raise ApplicationError(
                f"subscription {self.sub_id} is closing period {self.input.sequence}; "
                "retry shortly",
                type=PERIOD_CLOSING,
            )

    # Period end --------------------------------------------------------------------------
    async def _renewal(self) -> tuple[PlanVersionSnapshot, Bounds]:
        """The plan version the next period runs on (the plan's newest) and its bounds."""
        plan = await store_call(
            BillingActivities.latest_plan_version, PlanRef(plan_id=self.plan.plan_id)
        )
        anchor, index = self._next_anchor(plan)
        start, end, _ = period_bounds(
            anchor, plan.period, index, timezone=self.input.customer.timezone
        )
        return plan, (start, end)

    def _next_anchor(self, plan: PlanVersionSnapshot) -> tuple[datetime, int]:
        # A new billing period length restarts the calendar from the next period's start.
        if plan.period == self.plan.period:
            return self.input.anchor, self.input.period_index + 1
        return self.next_start, 0

    async def _finish(self) -> SubscriptionState:
        self.status = SubscriptionStatus.ENDED
        await self._show()
        await workflow.wait_condition(workflow.all_handlers_finished)
        return self.state()

    async def _invoice(
        self, lines: list[LineItemData], plan: PlanVersionSnapshot | None = None
    ) -> None:
        if not lines:
            return
        invoice_id = f"invoice_{workflow.uuid4().hex}"
        self.invoice_ids.append(invoice_id)
        invoice = InvoiceWorkflowInput(
            invoice_id=invoice_id,
            subscription_id=self.sub_id,
            customer=self.input.customer,
            plan=plan or self.plan,
            line_items=lines,
        )
        if batched():
            # Started by the worker's client, not as a child: the invoice outlives this run
            # either way, and a start from a local activity costs the history no events.
            await workflow.execute_local_activity_method(
                EngineActivities.start_invoice,
                invoice,
                start_to_close_timeout=STORE_TIMEOUT,
                retry_policy=STORE_RETRY,
            )
            return
        # Abandon: the invoice outlives this run, which continue-as-new or an end closes. By
        # type name: importing workflows.invoice here would load it into every run's sandbox.
        await workflow.start_child_workflow(
            "InvoiceWorkflow",
            invoice,
            id=invoice_workflow_id(invoice_id),
            parent_close_policy=workflow.ParentClosePolicy.ABANDON,
        )

    # Events and visibility ---------------------------------------------------------------
    def _subscription_payload(self, *, is_new: bool) -> dict[str, Any]:
        return subscription_payload(
            subscription_id=self.sub_id,
            customer=self.input.customer,
            plan=self.plan,
            start=self.start,
            end=self.end,
            auto_renew=self.auto_renew,
            is_new=is_new,
        )

    async def _emit_alert(self, alert: AlertSnapshot, usage: Decimal) -> None:
        component = self.plan.component(alert.metric_id)
        assert component is not None  # alerts are only defined on billed metrics
        payload = usage_alert_payload(
            subscription=self._subscription_payload(is_new=self.input.sequence == 0),
            plan=self.plan,
            alert=alert,
            metric=component.metric,
            usage=usage,
            time_triggered=workflow.now(),
            customer=self.input.customer,
        )
        key = f"{alert.alert_id}:{self.sub_id}:{self.start.isoformat()}"
        await emit(EventType.USAGE_ALERT_TRIGGERED, key, payload, self._search())

    def _search(self) -> SearchKeys:
        return SearchKeys(customer_id=self.input.customer.customer_id, subscription_id=self.sub_id)

    async def _show(self) -> None:
        """Keep the Web UI's attributes and the store's listing current."""
        workflow.upsert_search_attributes(
            [
                CUSTOMER_ID.value_set(self.input.customer.customer_id),
                SUBSCRIPTION_ID.value_set(self.sub_id),
                BILLING_STATUS.value_set(self.status.value),
            ]
        )
        await store_call(BillingActivities.record_subscription, self.state())
        self.recorded = True
