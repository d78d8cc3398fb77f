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
from store.subscriptions import Subscriptions
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
