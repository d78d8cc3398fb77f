"""``Catalog``: customers, metrics, plans, usage alerts, and records of subscriptions and invoices.

The catalog objects of lifecycle.md, stored and versioned, plus the records of subscriptions and
invoices that listings read (their workflows own the truth). Same conventions as
``store.store.Store``: blocking methods, one short transaction each, ``now`` passed in, detached
results (the snapshots of ``models.billing``), and refused input writes nothing. It shares the
store's database and migrations: ``Catalog(store.engine)`` after ``store.upgrade()``.

The methods live with their aggregate: ``store.customers``, ``store.plans`` (metrics, plans,
versions, alerts), ``store.subscriptions`` and ``store.invoices``.
"""

from __future__ import annotations

from datetime import datetime

from models.billing import InvoiceState, IssueInvoiceInput, SubscriptionState
from store.checks import NET_TERMS_MAX_DAYS, check_quantity
from store.customers import (
    CUSTOMER_ID_MAX_LENGTH,
    EMAIL_MAX_LENGTH,
    MAX_TIMEZONE_LENGTH,
    Customers,
    check_customer,
)
from store.invoices import Invoices
from store.plans import ALERT_ID_PREFIX, METRIC_ID_PREFIX, PLAN_ID_PREFIX, Plans
from store.subscriptions import Subscriptions, record_in
from store.versions import PLAN_VERSION_ID_PREFIX, ComponentSpec, PlanVersionSpec

__all__ = [
    "ALERT_ID_PREFIX",
    "CUSTOMER_ID_MAX_LENGTH",
    "EMAIL_MAX_LENGTH",
    "MAX_TIMEZONE_LENGTH",
    "METRIC_ID_PREFIX",
    "NET_TERMS_MAX_DAYS",
    "PLAN_ID_PREFIX",
    "PLAN_VERSION_ID_PREFIX",
    "Catalog",
    "ComponentSpec",
    "PlanVersionSpec",
    "check_customer",
    "check_quantity",
]


class Catalog(Customers, Plans, Subscriptions, Invoices):
    """Catalog objects and billing records; see the module docstring."""

    def record_step(
        self, record: SubscriptionState | None, issue: IssueInvoiceInput | None, now: datetime
    ) -> InvoiceState | None:
        """Record a subscription's state and issue an invoice, in one transaction.

        A step of a subscription's lifecycle (``models.billing.LifecycleStep``): a renewal
        records the next period and issues the ended one's invoice at once, so no reader sees
        one without the other. Retried after it committed, it writes nothing and returns the
        stored invoice.

        Raises:
            InvalidInput: see ``record_subscription`` and ``issue_invoice``; nothing was written.
        """
        if issue is None:
            if record is not None:
                self.record_subscription(record, now)
            return None
        if record is None:
            return self._issue_with(issue)
        return self._issue_with(issue, also=lambda session: record_in(session, record, now))
