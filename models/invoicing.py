"""Invoice lines of a subscription period: flat charges and usage in arrears (pure, Decimal)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from models.billing import ChargeTiming, FlatCharge, LineItemData, PlanVersionSnapshot

Bounds = tuple[datetime, datetime]  # first and last microsecond of a period


def flat_charge(plan: PlanVersionSnapshot, timing: ChargeTiming) -> FlatCharge | None:
    """The plan's flat charge when it is billed with ``timing``."""
    charge = plan.flat_charge
    return charge if charge is not None and charge.timing is timing else None


def flat_line(plan: PlanVersionSnapshot, charge: FlatCharge, bounds: Bounds) -> LineItemData:
    """The flat charge of one period, named as Lotus named it: ``<plan> Flat Fee``."""
    return LineItemData(
        name=f"{plan.plan_name} Flat Fee",
        start=bounds[0],
        end=bounds[1],
        quantity=Decimal(1),
        billing_type=charge.timing.value,
        base=charge.amount,
    )


def usage_lines(
    plan: PlanVersionSnapshot, usage: dict[str, Decimal], bounds: Bounds
) -> list[LineItemData]:
    """One in-arrears line per usage component: units beyond the free ones at the unit price."""
    lines = []
    for component in plan.components:
        quantity = usage.get(component.metric.metric_id, Decimal(0))
        billable = max(Decimal(0), quantity - component.free_units)
        lines.append(
            LineItemData(
                name=component.metric.name,
                start=bounds[0],
                end=bounds[1],
                quantity=quantity,
                billing_type="in_arrears",
                base=billable * component.unit_price,
                metric_id=component.metric.metric_id,
            )
        )
    return lines


def period_end_lines(
    ended: PlanVersionSnapshot,
    usage: dict[str, Decimal],
    ended_bounds: Bounds,
    renewal: tuple[PlanVersionSnapshot, Bounds] | None,
) -> list[LineItemData]:
    """The invoice at a period's end: the ended period's usage and in-arrears flat fee, plus
    the next period's in-advance flat fee when the subscription renews (``renewal``)."""
    lines = usage_lines(ended, usage, ended_bounds)
    if charge := flat_charge(ended, ChargeTiming.IN_ARREARS):
        lines.append(flat_line(ended, charge, ended_bounds))
    if renewal and (charge := flat_charge(renewal[0], ChargeTiming.IN_ADVANCE)):
        lines.append(flat_line(renewal[0], charge, renewal[1]))
    return lines
