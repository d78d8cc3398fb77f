"""Metrics, plans, plan versions and usage alerts: ``Catalog``'s part for them.

The catalog objects of lifecycle.md that say what a subscription bills. A plan is versioned:
a new version never changes the ones subscriptions already run on. The version rows and their
snapshots are ``store.versions``.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal

import sqlalchemy as sa
from sqlmodel import Session, col, select

from errors import InvalidInput
from models.billing import Aggregation, AlertSnapshot, MetricSnapshot, PlanVersionSnapshot
from store.checks import check_decimal
from store.persist import Repository, get_or_not_found, oldest_first, where_equal
from store.tables import Metric, Plan, PlanComponent, PlanVersion, UsageAlert
from store.validation import check_text
from store.versions import (
    PlanVersionSpec,
    add_version,
    alert_snapshot,
    check_spec,
    metric_snapshot,
    snapshots,
)

METRIC_ID_PREFIX = "metric_"
PLAN_ID_PREFIX = "plan_"
ALERT_ID_PREFIX = "usg_alert_"


class Plans(Repository):
    """``Catalog``'s methods for metrics, plans and their versions, and usage alerts."""

    # Metrics -----------------------------------------------------------------------------
    def create_metric(
        self,
        name: str,
        event_name: str,
        aggregation: Aggregation,
        now: datetime,
        property_name: str | None = None,
    ) -> MetricSnapshot:
        """Create a metric: what usage of ``event_name`` events counts (or sums).

        Args:
            name: a label for people.
            event_name: the usage events it measures.
            aggregation: ``count`` or ``sum`` (the plain strings are accepted too).
            now: its creation time.
            property_name: the event property a ``sum`` adds up.

        Raises:
            InvalidInput: an empty name, event name or property name, or another aggregation;
                nothing was written.
        """
        metric = MetricSnapshot(
            metric_id=METRIC_ID_PREFIX + uuid.uuid4().hex,
            name=_required("metric name", name),
            event_name=_required("event name", event_name),
            aggregation=_aggregation(aggregation),
            property_name=None if property_name is None else _required("property", property_name),
        )
        row = metric.model_dump(exclude={"metric_id"})
        with self._session() as session:
            session.add(Metric(id=metric.metric_id, created_at=now, **row))
        return metric

    def list_metrics(self) -> list[MetricSnapshot]:
        """Every metric, oldest first."""
        return [metric_snapshot(row) for row in self._all(oldest_first(Metric))]

    # Plans and versions ------------------------------------------------------------------
    def create_plan(self, name: str, spec: PlanVersionSpec, now: datetime) -> PlanVersionSnapshot:
        """Create a plan and its version 1.

        Raises:
            InvalidInput: an empty name, or a bad spec (see ``new_plan_version``); nothing was
                written.
        """
        plan_id = PLAN_ID_PREFIX + uuid.uuid4().hex
        plan = Plan(id=plan_id, name=_required("plan name", name), created_at=now)
        check_spec(spec)
        with self._session() as session:
            _check_metrics_exist(session, spec)
            session.add(plan)
            session.flush()  # before its version, which references it (see add_version)
            version = add_version(session, plan.id, 1, spec, now)
            return snapshots(session, [version])[0]

    def new_plan_version(
        self, plan_id: str, spec: PlanVersionSpec, now: datetime
    ) -> PlanVersionSnapshot:
        """Add the next version to a plan; running subscriptions move to it when they renew.

        Raises:
            InvalidInput: a bad currency or period, a negative or over-precise amount, an unknown
                metric, a metric given twice, or negative net terms; nothing was written.
            NotFound: no such plan.
        """
        check_spec(spec)
        with self._session() as session:
            # The plan's row lock serializes new versions of it, so numbers never collide.
            _plan(session, plan_id, lock=True)
            _check_metrics_exist(session, spec)
            number = _latest_number(session, plan_id) + 1
            version = add_version(session, plan_id, number, spec, now)
            return snapshots(session, [version])[0]

    def latest_version(self, plan_id: str) -> PlanVersionSnapshot:
        """The newest version of a plan.

        Raises:
            NotFound: no such plan.
        """
        query = (
            select(PlanVersion)
            .where(col(PlanVersion.plan_id) == plan_id)
            .order_by(col(PlanVersion.version).desc())
            .limit(1)
        )
        with self._session() as session:
            newest = session.exec(query).first()
            if newest is None:
                _plan(session, plan_id)  # raises NotFound: a stored plan has a version
            assert newest is not None
            return snapshots(session, [newest])[0]

    def get_version(self, version_id: str) -> PlanVersionSnapshot:
        """The plan version ``version_id``, with its components and alerts.

        Raises:
            NotFound: no such plan version.
        """
        with self._session() as session:
            return snapshots(session, [_version(session, version_id)])[0]

    def plan_versions(self, plan_id: str) -> list[PlanVersionSnapshot]:
        """Every version of a plan, oldest (version 1) first.

        Raises:
            NotFound: no such plan.
        """
        query = (
            select(PlanVersion)
            .where(col(PlanVersion.plan_id) == plan_id)
            .order_by(col(PlanVersion.version))
        )
        with self._session() as session:
            _plan(session, plan_id)
            return snapshots(session, list(session.exec(query).all()))

    def list_plans(self) -> list[PlanVersionSnapshot]:
        """The latest version of every plan, oldest plan first."""
        newest = (
            select(PlanVersion.plan_id, sa.func.max(PlanVersion.version).label("version"))
            .group_by(col(PlanVersion.plan_id))
            .subquery()
        )
        query = (
            select(PlanVersion)
            .join(
                newest,
                sa.and_(
                    col(PlanVersion.plan_id) == newest.c.plan_id,
                    col(PlanVersion.version) == newest.c.version,
                ),
            )
            .join(Plan, col(Plan.id) == col(PlanVersion.plan_id))
            .order_by(col(Plan.created_at), col(Plan.id))
        )
        with self._session() as session:
            return snapshots(session, list(session.exec(query).all()))

    # Usage alerts ------------------------------------------------------------------------
    def create_alert(
        self, metric_id: str, plan_version_id: str, threshold: Decimal, now: datetime
    ) -> AlertSnapshot:
        """Alert when a subscription's usage of a metric reaches ``threshold`` in a period.

        Raises:
            InvalidInput: ``threshold`` is not above 0, or the metric is not a usage component of
                the plan version; nothing was written.
            NotFound: no such plan version.
        """
        check_decimal("alert threshold", threshold, positive=True)
        alert = UsageAlert(
            id=ALERT_ID_PREFIX + uuid.uuid4().hex,
            plan_version_id=plan_version_id,
            metric_id=metric_id,
            threshold=threshold,
            created_at=now,
        )
        with self._session() as session:
            _version(session, plan_version_id)
            if session.get(PlanComponent, (plan_version_id, metric_id)) is None:
                raise InvalidInput(_not_a_component(session, metric_id, plan_version_id))
            session.add(alert)
        return alert_snapshot(alert)

    def list_alerts(self, plan_version_id: str | None = None) -> list[AlertSnapshot]:
        """Usage alerts oldest first, of one plan version when given.

        Raises:
            NotFound: ``plan_version_id`` names no plan version.
        """
        query = where_equal(oldest_first(UsageAlert), UsageAlert, plan_version_id=plan_version_id)
        with self._session() as session:
            if plan_version_id is not None:
                _version(session, plan_version_id)
            return [alert_snapshot(row) for row in session.exec(query).all()]


# Checks made before anything is written ------------------------------------------------------
def _required(what: str, value: str) -> str:
    if not value.strip():
        raise InvalidInput(f"the {what} is empty; give a {what}")
    return check_text(what, value)


def _aggregation(value: str) -> Aggregation:
    try:
        return Aggregation(value)
    except ValueError:
        valid = ", ".join(Aggregation)
        raise InvalidInput(f"unknown aggregation {value!r}; use one of: {valid}") from None


def _check_metrics_exist(session: Session, spec: PlanVersionSpec) -> None:
    wanted = [component.metric_id for component in spec.components]
    known = set(session.exec(select(Metric.id).where(col(Metric.id).in_(wanted))).all())
    unknown = [metric_id for metric_id in wanted if metric_id not in known]
    if unknown:
        raise InvalidInput(
            f"unknown metric {', '.join(unknown)}; create it first, or list them with: "
            "billhook metric list"
        )


def _not_a_component(session: Session, metric_id: str, plan_version_id: str) -> str:
    """The message refusing an alert on a metric the plan version does not bill."""
    query = (
        select(PlanComponent.metric_id)
        .where(col(PlanComponent.plan_version_id) == plan_version_id)
        .order_by(col(PlanComponent.position))
    )
    billed = ", ".join(session.exec(query).all()) or "none"
    return (
        f"metric {metric_id} is not a usage component of plan version {plan_version_id}; "
        f"alert on one of its metrics ({billed})"
    )


# Reads inside a session ----------------------------------------------------------------------
def _plan(session: Session, plan_id: str, *, lock: bool = False) -> Plan:
    # The lock: versions inserted elsewhere only need KEY SHARE on the plan.
    return get_or_not_found(session, Plan, plan_id, "plan", lock=lock)


def _version(session: Session, version_id: str) -> PlanVersion:
    return get_or_not_found(session, PlanVersion, version_id, "plan version", "plan")


def _latest_number(session: Session, plan_id: str) -> int:
    query = select(sa.func.max(PlanVersion.version)).where(col(PlanVersion.plan_id) == plan_id)
    return session.exec(query).one() or 0
