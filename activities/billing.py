"""``BillingActivities``: the catalog side effects of the billing workflows (blocking, pooled)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from temporalio import activity
from temporalio.exceptions import ApplicationError

from errors import Conflict, InvalidInput, NotFound
from models.billing import (
    CustomerWorkflowInput,
    InvoiceState,
    IssueInvoiceInput,
    PlanRef,
    PlanVersionSnapshot,
    SubscriptionState,
)
from models.clock import utcnow
from store.catalog import Catalog


@contextmanager
def refusals_are_final() -> Iterator[None]:
    """Raise the catalog's refusals as non-retryable: retrying bad input never succeeds."""
    try:
        yield
    except (InvalidInput, Conflict, NotFound) as err:
        raise ApplicationError(str(err), type=type(err).__name__, non_retryable=True) from err


class BillingActivities:
    """Store writes and reads of the billing workflows, built in ``worker.py``."""

    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog

    @activity.defn
    def create_customer(self, input: CustomerWorkflowInput) -> None:
        """Store the customer; one already stored by an earlier try of this activity is kept."""
        with refusals_are_final():
            try:
                self.catalog.create_customer(input.customer, utcnow())
            except Conflict:
                if self.catalog.get_customer(input.customer.customer_id) != input.customer:
                    raise

    @activity.defn
    def issue_invoice(self, input: IssueInvoiceInput) -> InvoiceState:
        """Store the invoice and give it its number (idempotent on the invoice id)."""
        return self.catalog.issue_invoice(input.invoice, input.issue_date, input.due_date)

    @activity.defn
    def update_invoice(self, state: InvoiceState) -> None:
        """Record an invoice's payment status."""
        self.catalog.update_invoice(state, utcnow())

    @activity.defn
    def record_subscription(self, state: SubscriptionState) -> None:
        """Record a subscription's current period and status, for listings."""
        self.catalog.record_subscription(state, utcnow())

    @activity.defn
    def latest_plan_version(self, plan: PlanRef) -> PlanVersionSnapshot:
        """The plan's newest version, which a renewing subscription moves onto."""
        with refusals_are_final():
            return self.catalog.latest_version(plan.plan_id)
