"""The paths a subscription run took before billhook 0.4, kept so that such runs replay.

Before 0.4 a run recorded itself with one local activity and emitted each event with
another (``_record``, ``workflows.emit``), announced its period as it opened (``_open``),
started a period's invoice on its own (``_invoice``: a child workflow before 0.2, a start
from a local activity since) and recorded its end (``_finish``). ``SubscriptionWorkflow``
takes these paths only where ``workflows.versions`` says the run being replayed took them;
a path can go once no run that took it is running or kept for replay.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from activities.billing import BillingActivities
    from activities.engine import EngineActivities
    from client.ids import invoice_workflow_id
    from models.billing import (
        ChargeTiming,
        InvoiceWorkflowInput,
        LineItemData,
        PlanVersionSnapshot,
        SubscriptionState,
        SubscriptionStatus,
        SubscriptionWorkflowInput,
        SubscriptionWorkflowState,
    )
    from models.delivery import SearchKeys
    from models.events import EventType
    from models.invoicing import flat_charge, flat_line

from workflows.emit import emit
from workflows.policies import STORE_RETRY, STORE_TIMEOUT
from workflows.versions import batched, store_call


class LegacyPaths:
    """Mixed into ``SubscriptionWorkflow``: what its runs did before 0.4."""

    sub: SubscriptionWorkflowState
    announcement: dict[str, Any]

    if TYPE_CHECKING:  # SubscriptionWorkflow's own

        @property
        def sub_id(self) -> str: ...

        def _search(self) -> SearchKeys: ...

        def _show_attributes(self) -> None: ...

        def _new_invoice(
            self, lines: list[LineItemData], plan: PlanVersionSnapshot | None = None
        ) -> InvoiceWorkflowInput: ...

    async def _open(self, input: SubscriptionWorkflowInput) -> None:
        """Announce the period: its in-advance charge when it is the first, else the renewal."""
        if input.sequence == 0:
            await emit(
                EventType.SUBSCRIPTION_CREATED, self.sub_id, self.announcement, self._search()
            )
            if charge := flat_charge(self.sub.plan, ChargeTiming.IN_ADVANCE):
                bounds = (self.sub.period_start, self.sub.period_end)
                await self._invoice([flat_line(self.sub.plan, charge, bounds)])
            return
        # Lines handed over by a run that closed its period before CLOSE_ISSUES_INVOICE.
        await self._invoice(input.closing_lines, input.closing_plan)
        key = f"{self.sub_id}:period:{input.sequence}"
        await emit(EventType.SUBSCRIPTION_RENEWED, key, self.announcement, self._search())

    async def _finish(self) -> SubscriptionState:
        self.sub.status = SubscriptionStatus.ENDED
        self._show_attributes()
        await self._record()
        await workflow.wait_condition(workflow.all_handlers_finished)
        return self.sub.record()

    async def _invoice(
        self, lines: list[LineItemData], plan: PlanVersionSnapshot | None = None
    ) -> None:
        if not lines:
            return
        invoice = self._new_invoice(lines, plan)
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
            id=invoice_workflow_id(invoice.invoice_id),
            parent_close_policy=workflow.ParentClosePolicy.ABANDON,
        )

    async def _record(self) -> None:
        """Keep the store's listing current (before 0.4; since, each step records itself)."""
        await store_call(BillingActivities.record_subscription, self.sub.record())
        self.sub.recorded = True
