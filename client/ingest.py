"""``BillhookClient.usage_batches``: many usage records in one call, each with its own key.

The REST API's hot path (``POST /usage``). A batch is checked whole against the catalog first
(every subscription exists and runs, every metric is billed by its plan): one bad record
refuses the batch and nothing is written. Then, in one transaction, the store keeps each record
whose key is new for its subscription (``store.api_records``: a key counts once, however often
it is sent). Then the new records reach their subscriptions' workflows as one update per
subscription and metric, their sum, keyed by the batch (``batch:<id>:<metric>``), so a group
forwarded twice counts once; those updates run concurrently. A record left unforwarded (no
worker answered, the process died) is forwarded by the next batch for its subscription, or by
sending the same records again.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from decimal import Decimal

from pydantic import BaseModel, Field

from client.core import Group, M, operation
from client.lifecycle import closed_subscription
from errors import BillhookError, Conflict, InvalidInput, NoWorker
from models.billing import SubscriptionStatus, UsageInput, UsageResult
from store.api_records import ApiRecords, NewUsage, PendingUsage
from store.catalog import Catalog, check_quantity
from store.validation import check_name, check_text

#: The most records one batch may hold.
MAX_BATCH = 10_000
#: Updates in flight at once while a batch is forwarded (one per subscription and metric).
FORWARD_CONCURRENCY = 64


class UsageRecordInput(BaseModel):
    """One usage record: a quantity of a metric for a subscription, with its idempotency key."""

    subscription_id: str
    metric_id: str
    quantity: Decimal
    idempotency_key: str


class IngestedRecord(BaseModel):
    """What became of one record: ``accepted``, or a ``duplicate`` of a key sent before."""

    subscription_id: str
    idempotency_key: str
    status: str


class SubscriptionUsage(BaseModel):
    """A subscription's usage of a metric this period once the batch reached it."""

    subscription_id: str
    metric_id: str
    usage: Decimal
    alerts_triggered: list[str] = Field(default_factory=list)


class IngestResult(BaseModel):
    """A batch taken in: counts, each record's status in order, and the usage it led to."""

    accepted: int
    duplicates: int
    records: list[IngestedRecord]
    usage: list[SubscriptionUsage]


class UsageBatches(Group[M]):
    """Usage records in batches; see the module docstring."""

    @operation
    async def ingest(self, records: Sequence[UsageRecordInput]) -> IngestResult:
        """Take in a batch of usage records; each key counts once per subscription.

        Raises:
            InvalidInput: an empty or oversized batch, a bad quantity, metric id or key, a key
                given twice for one subscription, a metric a plan does not bill; nothing was
                written.
            NotFound: no such subscription; nothing was written.
            Conflict: a subscription has ended; nothing was written.
            NoWorker: no worker answered; the records are stored: send them again with the
                same keys and they count once.
        """
        _check_batch(records)
        store = await self._core.store()
        catalog, api = Catalog(store.engine), ApiRecords(store.engine)
        await self._core.blocking(_check_subscriptions, catalog, records)
        new = [
            NewUsage(
                subscription_id=r.subscription_id,
                metric_id=r.metric_id,
                quantity=r.quantity,
                idempotency_key=r.idempotency_key,
            )
            for r in records
        ]
        _, fresh = await self._core.blocking(api.ingest_usage, new, self._core.now())
        subscriptions = sorted({r.subscription_id for r in records})
        pending = await self._core.blocking(api.pending_usage, subscriptions)
        usage = await self._forward(api, pending)
        return IngestResult(
            accepted=len(fresh),
            duplicates=len(records) - len(fresh),
            records=[
                IngestedRecord(
                    subscription_id=r.subscription_id,
                    idempotency_key=r.idempotency_key,
                    status="accepted" if index in fresh else "duplicate",
                )
                for index, r in enumerate(records)
            ],
            usage=usage,
        )

    async def _forward(
        self, api: ApiRecords, pending: Sequence[PendingUsage]
    ) -> list[SubscriptionUsage]:
        """Send each group to its workflow, concurrently; mark what was taken, forget refusals."""
        if not pending:
            return []
        temporal = await self._core.temporal()
        limit = asyncio.Semaphore(FORWARD_CONCURRENCY)

        async def one(group: PendingUsage) -> UsageResult:
            usage = UsageInput(
                metric_id=group.metric_id,
                quantity=group.quantity,
                idempotency_key=f"batch:{group.batch_id}:{group.metric_id}",
            )
            async with limit:
                result = await temporal.record_usage(group.subscription_id, usage)
            if result is None:
                raise await closed_subscription(self._core, group.subscription_id)
            return result

        results = await asyncio.gather(*(one(g) for g in pending), return_exceptions=True)
        usage: dict[tuple[str, str], SubscriptionUsage] = {}
        taken, refused = [], []
        failure: BaseException | None = None
        for group, result in zip(pending, results, strict=True):
            if isinstance(result, UsageResult):
                taken.append(group)
                usage[(group.subscription_id, group.metric_id)] = SubscriptionUsage(
                    subscription_id=group.subscription_id,
                    metric_id=group.metric_id,
                    usage=result.usage,
                    alerts_triggered=result.alerts_triggered,
                )
                continue
            if isinstance(result, InvalidInput | Conflict):
                # The workflow refused: never counted, so not kept (its subscription just ended).
                refused.append(group)
            failure = failure or result
        await self._core.blocking(api.settle_usage, taken, refused)
        if isinstance(failure, NoWorker):
            raise NoWorker(
                f"{failure}; the records are stored: send them again with the same keys and "
                "they count once"
            ) from failure
        if failure is not None:
            raise failure
        return list(usage.values())


def _check_batch(records: Sequence[UsageRecordInput]) -> None:
    """Refuse an empty or oversized batch, a bad field, or a key given twice."""
    if not 1 <= len(records) <= MAX_BATCH:
        raise InvalidInput(
            f"a usage batch holds 1 to {MAX_BATCH} records, not {len(records)}; split it"
        )
    seen: set[tuple[str, str]] = set()
    for position, record in enumerate(records):
        try:
            check_quantity("quantity", record.quantity)
            check_text("subscription id", record.subscription_id)
            check_text("metric id", record.metric_id)
            check_name("idempotency key", record.idempotency_key)
            if not record.idempotency_key:
                raise InvalidInput("the idempotency key is empty; give each record its own")
        except InvalidInput as exc:
            raise InvalidInput(f"record {position}: {exc}") from None
        key = (record.subscription_id, record.idempotency_key)
        if key in seen:
            raise InvalidInput(
                f"record {position}: idempotency key {record.idempotency_key!r} appears twice "
                f"for subscription {record.subscription_id} in the batch; give each its own"
            )
        seen.add(key)


def _check_subscriptions(catalog: Catalog, records: Sequence[UsageRecordInput]) -> None:
    """Refuse a batch naming a subscription that is missing or ended, or an unbilled metric."""
    billed: dict[str, set[str]] = {}
    for position, record in enumerate(records):
        sub_id = record.subscription_id
        try:
            if sub_id not in billed:
                state = catalog.get_subscription(sub_id)
                if state.status is SubscriptionStatus.ENDED:
                    raise Conflict(f"subscription {sub_id} has ended")
                plan = catalog.get_version(state.plan_version_id)
                billed[sub_id] = {c.metric.metric_id for c in plan.components}
            if record.metric_id not in billed[sub_id]:
                known = ", ".join(sorted(billed[sub_id])) or "none"
                raise InvalidInput(
                    f"metric {record.metric_id} is not billed by the plan of subscription "
                    f"{sub_id} (its metrics: {known})"
                )
        except BillhookError as exc:
            raise type(exc)(f"record {position}: {exc}") from None
