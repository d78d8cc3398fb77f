"""``ApiRecords``: what the REST API keeps besides the catalog: its keys, Stripe's events, usage.

Same conventions as ``store.store.Store``: blocking methods, one short transaction each, ``now``
passed in, refused input writes nothing. It shares the store's database and migrations
(``ApiRecords(store.engine)`` after ``store.upgrade()``).

- API keys are kept as the SHA-256 of the key only; the key is shown once, when created.
- Stripe events are kept by Stripe's id, so a redelivered event is recognized.
- Usage records ingested in batches are kept by subscription and idempotency key, so a key is
  counted once however often it is sent; ``client.ingest`` forwards them to the workflows.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal

import sqlalchemy as sa
from pydantic import BaseModel
from sqlmodel import col, select

from errors import InvalidInput
from store.persist import (
    Repository,
    get_or_not_found,
    insert_ignore,
    insert_statement,
    to_model,
)
from store.tables import ApiKey, StripeEvent, UsageRecord
from store.validation import check_name

API_KEY_ID_PREFIX = "apikey_"


class ApiKeyInfo(BaseModel):
    """An API key as listings show it: never the key, nor its hash."""

    id: str
    name: str
    prefix: str
    created_at: datetime
    revoked_at: datetime | None = None


class StripeEventInfo(BaseModel):
    """A Stripe event taken in, and what was done with it."""

    id: str
    type: str
    invoice_id: str | None
    outcome: str
    detail: str | None
    received_at: datetime


class PendingUsage(BaseModel):
    """The records of one batch for one subscription and metric, not yet forwarded."""

    batch_id: str
    subscription_id: str
    metric_id: str
    quantity: Decimal
    records: int


class NewUsage(BaseModel):
    """One usage record of a batch, as ``ingest_usage`` stores it."""

    subscription_id: str
    metric_id: str
    quantity: Decimal
    idempotency_key: str


class ApiRecords(Repository):
    """API keys, Stripe events and ingested usage; see the module docstring."""

    # API keys ------------------------------------------------------------------------------
    def create_api_key(self, name: str, prefix: str, key_hash: str, now: datetime) -> ApiKeyInfo:
        """Store a new key by its hash.

        Raises:
            InvalidInput: an empty name, or one with control characters or over 200 long.
        """
        if not name:
            raise InvalidInput("an API key needs a name: say what it is for")
        check_name("API key name", name)
        key_id = API_KEY_ID_PREFIX + uuid.uuid4().hex
        row = ApiKey(id=key_id, name=name, prefix=prefix, key_hash=key_hash, created_at=now)
        with self._session() as session:
            session.add(row)
        return to_model(ApiKeyInfo, row)

    def list_api_keys(self) -> list[ApiKeyInfo]:
        """Every key, revoked ones too, oldest first."""
        query = select(ApiKey).order_by(col(ApiKey.created_at), col(ApiKey.id))
        with self._session() as session:
            return [to_model(ApiKeyInfo, row) for row in session.exec(query).all()]

    def revoke_api_key(self, key_id: str, now: datetime) -> ApiKeyInfo:
        """Revoke a key: requests with it are refused from now on (revoking twice is a no-op).

        Raises:
            NotFound: no such key.
        """
        with self._session() as session:
            row = get_or_not_found(session, ApiKey, key_id, "API key", "api-key")
            if row.revoked_at is None:
                row.revoked_at = now
                session.add(row)
            return to_model(ApiKeyInfo, row)

    def api_key_hash(self, key_hash: str) -> str | None:
        """The stored hash equal to ``key_hash`` of a key not revoked; None when there is none."""
        query = select(ApiKey.key_hash).where(
            ApiKey.key_hash == key_hash, col(ApiKey.revoked_at).is_(None)
        )
        with self._session() as session:
            return session.exec(query).first()

    # Stripe events -------------------------------------------------------------------------
    def stripe_event(self, event_id: str) -> StripeEventInfo | None:
        """The Stripe event ``event_id`` as processed; None when it was not yet."""
        with self._session() as session:
            row = session.get(StripeEvent, event_id)
            return None if row is None else to_model(StripeEventInfo, row)

    def record_stripe_event(self, event: StripeEventInfo) -> bool:
        """Remember a processed Stripe event; False when it was remembered already."""
        with self._session() as session:
            return insert_ignore(session, StripeEvent, [event.model_dump()])

    def list_stripe_events(self) -> list[StripeEventInfo]:
        """Every Stripe event taken in, oldest first."""
        query = select(StripeEvent).order_by(col(StripeEvent.received_at), col(StripeEvent.id))
        with self._session() as session:
            return [to_model(StripeEventInfo, row) for row in session.exec(query).all()]

    # Ingested usage ------------------------------------------------------------------------
    def ingest_usage(self, records: Sequence[NewUsage], now: datetime) -> tuple[str, set[int]]:
        """Store a batch's records whose key is new for their subscription, in one transaction.

        Returns:
            The batch's id and the positions in ``records`` that were new (the others' keys
            were ingested before, and count once).
        """
        batch_id = uuid.uuid4().hex
        rows = [
            {
                **record.model_dump(),
                "batch_id": batch_id,
                "forwarded": False,
                "created_at": now,
            }
            for record in records
        ]
        with self._session() as session:
            # Executed with many parameter sets, not one statement of every row: compiling a
            # 1,000-row VALUES clause costs more than inserting the rows.
            statement = insert_statement(session, UsageRecord).on_conflict_do_nothing()
            session.execute(statement, rows)
            stored = session.exec(
                select(UsageRecord.subscription_id, UsageRecord.idempotency_key).where(
                    UsageRecord.batch_id == batch_id
                )
            ).all()
        taken = set(stored)
        return batch_id, {
            index
            for index, record in enumerate(records)
            if (record.subscription_id, record.idempotency_key) in taken
        }

    def pending_usage(self, subscription_ids: Sequence[str]) -> list[PendingUsage]:
        """The records of these subscriptions not yet forwarded, by batch, subscription, metric."""
        query = sa.select(
            col(UsageRecord.batch_id),
            col(UsageRecord.subscription_id),
            col(UsageRecord.metric_id),
            col(UsageRecord.quantity),
        ).where(
            col(UsageRecord.subscription_id).in_(subscription_ids),
            col(UsageRecord.forwarded).is_(False),
        )
        groups: dict[tuple[str, str, str], PendingUsage] = {}
        with self._session() as session:
            # Columns, not rows: building a thousand row objects costs more than the query.
            for batch, sub, metric, quantity in session.execute(query).all():
                group = groups.setdefault(
                    (batch, sub, metric),
                    PendingUsage(
                        batch_id=batch,
                        subscription_id=sub,
                        metric_id=metric,
                        quantity=Decimal(0),
                        records=0,
                    ),
                )
                group.quantity += quantity
                group.records += 1
        for group in groups.values():
            group.quantity = _plain(group.quantity)
        return list(groups.values())

    def settle_usage(
        self, forwarded: Sequence[PendingUsage], refused: Sequence[PendingUsage] = ()
    ) -> None:
        """Mark groups forwarded, and forget those their workflow refused (never counted)."""
        with self._session() as session:
            for groups, forward in ((forwarded, True), (refused, False)):
                for group in groups:
                    where = (
                        col(UsageRecord.batch_id) == group.batch_id,
                        col(UsageRecord.subscription_id) == group.subscription_id,
                        col(UsageRecord.metric_id) == group.metric_id,
                    )
                    if forward:
                        statement: sa.Executable = (
                            sa.update(UsageRecord).where(*where).values(forwarded=True)
                        )
                    else:
                        statement = sa.delete(UsageRecord).where(*where)
                    session.execute(statement)


def _plain(value: Decimal) -> Decimal:
    """``value`` without the trailing zeros the money column adds: 3, not 3.000000 (nor 3E+0)."""
    normal = value.normalize()
    return normal.quantize(Decimal(1)) if normal == normal.to_integral_value() else normal
