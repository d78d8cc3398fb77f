"""Subscription records: ``Catalog``'s part for them.

The records that listings read; the subscription's workflow owns the truth and records its
state here after each change.
"""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session, col, select

from models.billing import SubscriptionState, SubscriptionStatus
from store.checks import check_aware
from store.persist import Repository, get_or_not_found, insert_statement, to_model, where_equal
from store.tables import Subscription

#: Columns of a subscription record that ``record_subscription`` sets on every call.
_SUBSCRIPTION_FIELDS = (
    "customer_id",
    "plan_id",
    "plan_version_id",
    "status",
    "auto_renew",
    "sequence",
    "period_start",
    "period_end",
)


class Subscriptions(Repository):
    """``Catalog``'s subscription methods: record a workflow's state, read and list records."""

    def record_subscription(self, state: SubscriptionState, now: datetime) -> None:
        """Insert or update the record of a subscription from its workflow's state.

        Records status, period bounds, plan version and auto-renew (usage stays in the workflow).
        A state of an earlier period than the record's (a late retry) is ignored.

        Raises:
            InvalidInput: a period bound without a timezone; nothing was written.
        """
        with self._session() as session:
            record_in(session, state, now)

    def get_subscription(self, subscription_id: str) -> SubscriptionState:
        """The record of subscription ``subscription_id``.

        Raises:
            NotFound: no such subscription.
        """
        with self._session() as session:
            row = get_or_not_found(session, Subscription, subscription_id, "subscription")
            return _state(row)

    def list_subscriptions(
        self, customer_id: str | None = None, status: SubscriptionStatus | None = None
    ) -> list[SubscriptionState]:
        """Subscription records newest first, of one customer and/or in one status when given."""
        query = select(Subscription).order_by(
            col(Subscription.created_at).desc(), col(Subscription.id).desc()
        )
        query = where_equal(query, Subscription, customer_id=customer_id, status=status)
        with self._session() as session:
            return [_state(row) for row in session.exec(query).all()]


def record_in(session: Session, state: SubscriptionState, now: datetime) -> None:
    """``Subscriptions.record_subscription`` in the transaction ``session``."""
    check_aware("period start", state.period_start)
    check_aware("period end", state.period_end)
    row = {name: getattr(state, name) for name in _SUBSCRIPTION_FIELDS}
    row.update(id=state.subscription_id, created_at=now, updated_at=now)
    insert = insert_statement(session, Subscription).values(row)
    changes = {name: insert.excluded[name] for name in (*_SUBSCRIPTION_FIELDS, "updated_at")}
    session.exec(
        insert.on_conflict_do_update(
            index_elements=["id"],
            set_=changes,
            where=col(Subscription.sequence) <= insert.excluded.sequence,
        )
    )


def _state(row: Subscription) -> SubscriptionState:
    # Usage, fired alerts and invoices stay in the workflow: the state has none of them here.
    return to_model(SubscriptionState, row, subscription_id=row.id)
