"""``BillhookClient``'s catalog groups: customers, metrics, plans and their versions, alerts.

Customers are created by their workflow (``customer-<id>``, which emits ``customer.created``
once); the rest are catalog records, written and read in the store.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from client.core import Group, M, on_catalog, operation
from client.inputs import AlertInput, MetricInput
from client.results import (
    AlertDetails,
    CustomerCreated,
    CustomerDetails,
    SubscriptionSummary,
)
from errors import Conflict, InvalidInput
from models.billing import (
    Aggregation,
    CustomerSnapshot,
    MetricSnapshot,
    PlanVersionSnapshot,
    SubscriptionState,
)
from store.catalog import Catalog, PlanVersionSpec, check_customer


def customer_exists(customer_id: str) -> Conflict:
    """The refusal of a second customer with the same id."""
    return Conflict(
        f"customer {customer_id} exists already; choose another id, or see it with: "
        f"billhook customer show {customer_id}"
    )


def summaries(catalog: Catalog, states: Sequence[SubscriptionState]) -> list[SubscriptionSummary]:
    """Subscription records with their plans' names (blocking: the catalog is read)."""
    names = {version.plan_id: version.plan_name for version in catalog.list_plans()}
    return [
        SubscriptionSummary(**state.model_dump(), plan_name=names.get(state.plan_id, state.plan_id))
        for state in states
    ]


def customer_details(catalog: Catalog, customer_id: str) -> CustomerDetails:
    """A customer with its subscriptions and its invoices, newest first.

    Raises:
        NotFound: no such customer.
    """
    customer = catalog.get_customer(customer_id)
    states = catalog.list_subscriptions(customer_id=customer.customer_id)
    return CustomerDetails(
        customer=customer,
        subscriptions=summaries(catalog, states),
        invoices=catalog.list_invoices(customer_id=customer.customer_id),
    )


def alert_details(catalog: Catalog, plan_version_id: str | None = None) -> list[AlertDetails]:
    """Usage alerts oldest first (of one plan version when given), each with its version.

    Raises:
        NotFound: ``plan_version_id`` names no plan version.
    """
    alerts = catalog.list_alerts(plan_version_id)
    versions = {
        alert.alert_id: version
        for latest in catalog.list_plans()
        for version in catalog.plan_versions(latest.plan_id)
        for alert in version.alerts
    }
    return [AlertDetails(alert=a, version=versions.get(a.alert_id)) for a in alerts]


class Customers(Group[M]):
    """Customers: created by their workflow, read from the catalog."""

    @operation
    async def create(self, customer: CustomerSnapshot) -> CustomerCreated:
        """Check the customer, then run its workflow, which stores it and emits the event.

        Raises:
            InvalidInput: a bad id, name, email, timezone, currency or net terms.
            Conflict: a customer with that id exists already.
            NoWorker: no worker ran the workflow in time (it is created once one runs).
        """
        check_customer(customer)
        if await self._in_catalog(Catalog.customer_exists, customer.customer_id):
            raise customer_exists(customer.customer_id)
        temporal = await self._core.temporal()
        message_id = await temporal.create_customer(customer)
        return CustomerCreated(customer=customer, message_id=message_id)

    get = on_catalog(Catalog.get_customer)
    list = on_catalog(Catalog.list_customers)
    show = on_catalog(customer_details)


class Metrics(Group[M]):
    """Usage metrics: what a plan's usage components count or sum."""

    @operation
    async def create(self, metric: MetricInput) -> MetricSnapshot:
        """Create a metric.

        Raises:
            InvalidInput: an empty name or event name, or a sum without its property.
        """
        if metric.aggregation is Aggregation.SUM and metric.property_name is None:
            raise InvalidInput("a sum metric adds up a property of its events; give the property")
        return await self._in_catalog(
            Catalog.create_metric,
            metric.name,
            metric.event_name,
            metric.aggregation,
            self._core.now(),
            property_name=metric.property_name,
        )

    list = on_catalog(Catalog.list_metrics)


class Plans(Group[M]):
    """Plans and their versions; running subscriptions move to the newest when they renew."""

    @operation
    async def create(self, name: str, spec: PlanVersionSpec) -> PlanVersionSnapshot:
        """Create a plan and its version 1.

        Raises:
            InvalidInput: an empty name or a bad spec (currency, period, amounts, metrics).
        """
        return await self._in_catalog(Catalog.create_plan, name, spec, self._core.now())

    @operation
    async def new_version(self, plan_id: str, spec: PlanVersionSpec) -> PlanVersionSnapshot:
        """Add the next version to a plan, described whole by ``spec``.

        Raises:
            InvalidInput: a bad spec.
            NotFound: no such plan.
        """
        return await self._in_catalog(Catalog.new_plan_version, plan_id, spec, self._core.now())

    latest = on_catalog(Catalog.latest_version)
    versions = on_catalog(Catalog.plan_versions)
    list = on_catalog(Catalog.list_plans)


class Alerts(Group[M]):
    """Usage alerts: ``usage_alert.triggered`` when a period's usage crosses a threshold."""

    @operation
    async def create(self, alert: AlertInput) -> AlertDetails:
        """Create an alert on a plan version (or on a plan's newest version).

        Raises:
            InvalidInput: neither or both of ``plan_version_id`` and ``plan_id``, a threshold
                not above 0, or a metric the version does not bill.
            NotFound: no such plan or plan version.
        """
        if (alert.plan_version_id is None) == (alert.plan_id is None):
            raise InvalidInput("an alert watches one plan version: give a plan version or a plan")
        return await self._in_catalog(create_alert, alert, self._core.now())

    list = on_catalog(alert_details)


def create_alert(catalog: Catalog, alert: AlertInput, now: datetime) -> AlertDetails:
    """Create ``alert`` on its plan version, or on its plan's newest (blocking)."""
    version_id = alert.plan_version_id
    if version_id is None:
        assert alert.plan_id is not None
        version_id = catalog.latest_version(alert.plan_id).version_id
    created = catalog.create_alert(alert.metric_id, version_id, alert.threshold, now)
    return AlertDetails(alert=created, version=catalog.get_version(version_id))
