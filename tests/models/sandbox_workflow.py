"""A workflow that builds every golden body inside Temporal's workflow sandbox."""

from __future__ import annotations

from temporalio import workflow

from models.events import EventType
from models.periods import in_timezone, period_bounds
from tests.models import fixtures


@workflow.defn
class BuildPayloadsWorkflow:
    """Builds the golden bodies and the current period in New York, as workflows will."""

    @workflow.run
    async def run(self) -> dict[str, str]:
        bodies = {event_type.value: fixtures.body(event_type).decode() for event_type in EventType}
        now = in_timezone(workflow.now(), fixtures.CUSTOMER.timezone)
        bounds = period_bounds(now, "monthly", 1)
        return {**bodies, "period": "/".join(moment.isoformat() for moment in bounds)}
