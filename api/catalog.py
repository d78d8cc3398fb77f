"""Routes of the catalog: customers, metrics, plans and their versions, usage alerts."""

from __future__ import annotations

from fastapi import APIRouter

from api.deps import Client
from api.routes import listing
from client.inputs import AlertInput, MetricInput
from client.results import AlertDetails, CustomerCreated, CustomerDetails
from models.billing import CustomerSnapshot, MetricSnapshot, PlanVersionSnapshot
from store.catalog import PlanVersionSpec

router = APIRouter()


class PlanInput(PlanVersionSpec):
    """A new plan: its name and its version 1."""

    name: str


@router.post("/customers", status_code=201, tags=["customers"])
async def create_customer(billhook: Client, body: CustomerSnapshot) -> CustomerCreated:
    """Create a customer through its workflow, which emits ``customer.created`` once."""
    return await billhook.customers.create(body)


@listing(router, "/customers", key="customer_id", tag="customers")
async def list_customers(billhook: Client) -> list[CustomerSnapshot]:
    """Customers, oldest first."""
    return await billhook.customers.list()


@router.get("/customers/{customer_id}", tags=["customers"])
async def get_customer(billhook: Client, customer_id: str) -> CustomerDetails:
    """A customer with its subscriptions and invoices, newest first."""
    return await billhook.customers.show(customer_id)


@router.post("/metrics", status_code=201, tags=["plans"])
async def create_metric(billhook: Client, body: MetricInput) -> MetricSnapshot:
    """Create a metric (what a plan's usage counts or sums)."""
    return await billhook.metrics.create(body)


@listing(router, "/metrics", key="metric_id", tag="plans")
async def list_metrics(billhook: Client) -> list[MetricSnapshot]:
    """Metrics, oldest first."""
    return await billhook.metrics.list()


@router.post("/plans", status_code=201, tags=["plans"])
async def create_plan(billhook: Client, body: PlanInput) -> PlanVersionSnapshot:
    """Create a plan and its version 1."""
    spec = PlanVersionSpec.model_validate(body.model_dump(exclude={"name"}))
    return await billhook.plans.create(body.name, spec)


@listing(router, "/plans", key="plan_id", tag="plans")
async def list_plans(billhook: Client) -> list[PlanVersionSnapshot]:
    """Every plan's newest version, oldest plan first."""
    return await billhook.plans.list()


@router.get("/plans/{plan_id}", tags=["plans"])
async def get_plan(billhook: Client, plan_id: str) -> PlanVersionSnapshot:
    """A plan's newest version."""
    return await billhook.plans.latest(plan_id)


@router.get("/plans/{plan_id}/versions", tags=["plans"])
async def plan_versions(billhook: Client, plan_id: str) -> list[PlanVersionSnapshot]:
    """Every version of a plan, version 1 first."""
    return await billhook.plans.versions(plan_id)


@router.post("/plans/{plan_id}/versions", status_code=201, tags=["plans"])
async def new_plan_version(
    billhook: Client, plan_id: str, body: PlanVersionSpec
) -> PlanVersionSnapshot:
    """Add the next version; running subscriptions move to it when they renew."""
    return await billhook.plans.new_version(plan_id, body)


@router.post("/alerts", status_code=201, tags=["plans"])
async def create_alert(billhook: Client, body: AlertInput) -> AlertDetails:
    """Create a usage alert on a plan version (or a plan's newest version)."""
    return await billhook.alerts.create(body)


@listing(router, "/alerts", key="alert.alert_id", tag="plans")
async def list_alerts(billhook: Client, plan_version_id: str | None = None) -> list[AlertDetails]:
    """Usage alerts, oldest first, of one plan version when given."""
    return await billhook.alerts.list(plan_version_id)
