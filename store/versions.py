"""Plan versions: what a new one holds, its rows written, and its snapshots read back.

Works inside the caller's session; ``store.plans`` gives the ``Catalog`` methods over it.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, Field, model_validator
from sqlmodel import Session, col, select

from errors import InvalidInput
from models import billing
from store.checks import check_currency, check_decimal, check_net_terms
from store.persist import to_model
from store.tables import Metric, Plan, PlanComponent, PlanVersion, UsageAlert

PLAN_VERSION_ID_PREFIX = "plan_version_"


class ComponentSpec(BaseModel):
    """A usage component to bill: a metric, its unit price, and the units included for free.

    Also accepted as a tuple ``(metric_id, unit_price)`` or ``(metric_id, unit_price,
    free_units)``.
    """

    metric_id: str
    unit_price: Decimal
    free_units: Decimal = Decimal(0)

    @model_validator(mode="before")
    @classmethod
    def _from_tuple(cls, value: Any) -> Any:
        if isinstance(value, tuple | list) and len(value) in (2, 3):
            return dict(zip(("metric_id", "unit_price", "free_units"), value, strict=False))
        return value


class PlanVersionSpec(BaseModel):
    """What a new plan version holds (lifecycle.md, Catalog objects); the catalog checks it."""

    currency: str = "USD"
    period: str = "monthly"  # monthly | quarterly | yearly | ISO 8601 duration (PT1M)
    flat_amount: Decimal | None = None  # no flat charge when None
    flat_timing: billing.ChargeTiming = billing.ChargeTiming.IN_ADVANCE
    components: list[ComponentSpec] = Field(default_factory=list)
    net_terms_days: int | None = None  # None: the organization's, else no due date


def check_spec(spec: PlanVersionSpec) -> None:
    """Check a plan version's spec; its metrics' existence is checked in the transaction.

    Raises:
        InvalidInput: a bad currency or period, a negative or over-precise amount, a metric
            given twice, or negative net terms.
    """
    check_currency(spec.currency)
    _check_period(spec.period)
    if spec.flat_amount is not None:
        check_decimal("flat amount", spec.flat_amount)
    seen: set[str] = set()
    for component in spec.components:
        if component.metric_id in seen:
            raise InvalidInput(
                f"metric {component.metric_id} is in two components; give each metric one"
            )
        seen.add(component.metric_id)
        check_decimal(f"unit price of {component.metric_id}", component.unit_price)
        check_decimal(f"free units of {component.metric_id}", component.free_units)
    check_net_terms(spec.net_terms_days)


def _check_period(period: str) -> None:
    # Imported on use: store.versions then imports without models.periods, written alongside it.
    from models.periods import validate_period

    try:
        validate_period(period)
    except ValueError as exc:
        # Its message names the period and what is accepted.
        raise InvalidInput(str(exc)) from None


def add_version(
    session: Session, plan_id: str, number: int, spec: PlanVersionSpec, now: datetime
) -> PlanVersion:
    """Add version ``number`` of a plan with its components, as ``spec`` says."""
    version = PlanVersion(
        id=PLAN_VERSION_ID_PREFIX + uuid.uuid4().hex,
        plan_id=plan_id,
        version=number,
        currency=spec.currency,
        period=spec.period,
        flat_amount=spec.flat_amount,
        flat_timing=None if spec.flat_amount is None else spec.flat_timing,
        net_terms_days=spec.net_terms_days,
        created_at=now,
    )
    session.add(version)
    # Without relationship()s the ORM does not know the components reference the version, so
    # it could insert them first: each level is flushed before the next.
    session.flush()
    session.add_all(
        PlanComponent(plan_version_id=version.id, position=position, **component.model_dump())
        for position, component in enumerate(spec.components)
    )
    session.flush()
    return version


def snapshots(
    session: Session, versions: Sequence[PlanVersion]
) -> list[billing.PlanVersionSnapshot]:
    """Snapshots of plan versions, with their plan's name, components and alerts."""
    ids = [version.id for version in versions]
    plan_ids = {version.plan_id for version in versions}
    names = dict(session.exec(select(Plan.id, Plan.name).where(col(Plan.id).in_(plan_ids))).all())
    components = _components_of(session, ids)
    alerts = _alerts_of(session, ids)
    return [
        to_model(
            billing.PlanVersionSnapshot,
            version,
            version_id=version.id,
            plan_name=names[version.plan_id],
            flat_charge=_flat_charge(version),
            components=components[version.id],
            alerts=alerts[version.id],
        )
        for version in versions
    ]


def metric_snapshot(row: Metric) -> billing.MetricSnapshot:
    """The snapshot of a stored metric."""
    return to_model(billing.MetricSnapshot, row, metric_id=row.id)


def alert_snapshot(row: UsageAlert) -> billing.AlertSnapshot:
    """The snapshot of a stored usage alert."""
    return to_model(billing.AlertSnapshot, row, alert_id=row.id)


def _flat_charge(row: PlanVersion) -> billing.FlatCharge | None:
    if row.flat_amount is None or row.flat_timing is None:
        return None
    return billing.FlatCharge(amount=row.flat_amount, timing=row.flat_timing)


def _components_of(
    session: Session, version_ids: list[str]
) -> dict[str, list[billing.UsageComponent]]:
    """The usage components of each version, in the order they were given, metrics whole."""
    components: dict[str, list[billing.UsageComponent]] = {
        version_id: [] for version_id in version_ids
    }
    query = (
        select(PlanComponent, Metric)
        .join(Metric, col(Metric.id) == col(PlanComponent.metric_id))
        .where(col(PlanComponent.plan_version_id).in_(version_ids))
        .order_by(col(PlanComponent.position))
    )
    for component, metric in session.exec(query).all():
        components[component.plan_version_id].append(
            to_model(billing.UsageComponent, component, metric=metric_snapshot(metric))
        )
    return components


def _alerts_of(session: Session, version_ids: list[str]) -> dict[str, list[billing.AlertSnapshot]]:
    """The usage alerts of each version, oldest first."""
    alerts: dict[str, list[billing.AlertSnapshot]] = {version_id: [] for version_id in version_ids}
    query = (
        select(UsageAlert)
        .where(col(UsageAlert.plan_version_id).in_(version_ids))
        .order_by(col(UsageAlert.created_at), col(UsageAlert.id))
    )
    for alert in session.exec(query).all():
        alerts[alert.plan_version_id].append(alert_snapshot(alert))
    return alerts
