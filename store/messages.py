"""Messages, their deliveries and attempts: ``Store``'s part for them (delivery.md, Records).

The attempt accounting itself is ``store.attempts`` (claims) and ``store.outcomes``
(completions); this part gives each call its transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from pydantic import BaseModel
from sqlmodel import Session, col, select

from errors import Conflict, NotFound
from models.delivery import AttemptTrigger, DeliveryStatus, Event, PlannedDeliveries
from store import attempts as attempt_log
from store import outcomes
from store.attempts import Accepted, Claim, Deferred, Redact, Settled, delivery_row
from store.endpoints import load_endpoint
from store.outcomes import Finished
from store.persist import Repository, get_or_not_found, insert_ignore, to_model, where_equal
from store.tables import Attempt, Delivery, Endpoint, Message

#: Statuses ``recoverable_messages`` resends: the ones that never reached the endpoint.
RECOVERABLE = (DeliveryStatus.FAILED, DeliveryStatus.SKIPPED)


class MessageSummary(BaseModel):
    """A message with its deliveries' statuses counted, for listings."""

    id: str
    event_type: str
    created_at: datetime
    business_key: str
    statuses: dict[DeliveryStatus, int]


class Messages(Repository):
    """``Store``'s message methods: plan, claim and finish deliveries, list what happened."""

    def plan_deliveries(
        self,
        *,
        message_id: str,
        event_type: str,
        business_key: str,
        payload: dict[str, Any],
        created_at: datetime,
        now: datetime,
        max_attempts: int,
    ) -> PlannedDeliveries:
        """Record a message and one delivery per subscribed endpoint, once.

        Enabled subscribers get a ``pending`` delivery, disabled ones a ``skipped`` one. Calling
        again for the same message (an activity retry) writes nothing and returns the existing
        plan: its pending deliveries to make and its skipped ones.

        Raises:
            Conflict: ``business_key`` already belongs to a message with another id.
        """
        row = {
            "id": message_id,
            "event_type": event_type,
            "business_key": business_key,
            "payload": payload,
            "created_at": created_at,
        }
        with self._session() as session:
            insert_ignore(session, Message, [row])
            if session.get(Message, message_id) is None:
                raise attempt_log.key_taken(business_key, message_id)
            deliveries = _deliveries(session, message_id)
            if not deliveries:
                message = load_message(session, message_id)
                rows = attempt_log.plan_rows([message], session.exec(select(Endpoint)), now)
                insert_ignore(session, Delivery, rows)
                deliveries = _deliveries(session, message_id)
        return PlannedDeliveries(
            endpoint_ids=_endpoint_ids(deliveries, DeliveryStatus.PENDING),
            skipped_endpoint_ids=_endpoint_ids(deliveries, DeliveryStatus.SKIPPED),
            max_attempts=max_attempts,
        )

    def accept_batch(
        self, batch_id: str, events: Sequence[Event], now: datetime, redact: Redact
    ) -> Accepted:
        """Store a batch's events and record each new delivery's first attempt in flight.

        One transaction. Events whose message another emission accepted earlier are counted
        as duplicates and get nothing; ``batch_id`` (stable across retries of the batch) tells
        them from this batch's own messages. A retried batch gets no second first attempt: a
        delivery whose attempt was left in flight by a dead worker is marked ``interrupted``
        and handed off to its retries, like one whose first attempt failed. ``redact`` takes
        credentials out of the URL an attempt records.

        Raises:
            Conflict: an event's business key already belongs to a message with another id.
        """
        with self._session() as session:
            return attempt_log.accept(session, batch_id, events, now, redact)

    def claim_attempt(
        self,
        message_id: str,
        endpoint_id: str,
        trigger: AttemptTrigger,
        now: datetime,
        *,
        redact: Redact,
        due_after_interrupt: attempt_log.DueAfterInterrupt,
        max_scheduled: int,
        stale_after: timedelta,
    ) -> Claim | Settled | Deferred:
        """Record the next attempt of one delivery in flight, before its request is sent.

        A scheduled attempt of a delivery that is no longer pending is not made (``Settled``);
        neither is one to a disabled endpoint (the delivery is recorded ``skipped``). A scheduled
        attempt left in flight by a dead worker is marked ``interrupted``; the next one waits
        until ``due_after_interrupt`` says (``Deferred``); past ``max_scheduled`` scheduled
        attempts the delivery is ``failed``. Any attempt in flight for longer than
        ``stale_after`` is marked ``interrupted``. A manual resend to an endpoint with no
        delivery of the message yet (it subscribed later) gets a ``pending`` one created here.

        Raises:
            NotFound: no such message or endpoint.
        """
        with self._session() as session:
            message = load_message(session, message_id)
            endpoint = load_endpoint(session, endpoint_id)
            delivery = _delivery(session, message_id, endpoint_id, now, lock=True)
            return attempt_log.claim_one(
                session,
                delivery,
                message,
                endpoint,
                trigger,
                now,
                redact,
                due_after_interrupt,
                max_scheduled,
                stale_after,
            )

    def finish_attempts(self, results: Sequence[Finished], *, disable_after: timedelta) -> set[str]:
        """Complete claimed attempts with their outcomes, in one transaction.

        Each delivery takes its status after its attempt (a recorded success is never undone);
        each endpoint's failure streak is kept, and an endpoint is disabled on a 410 or after
        ``disable_after`` of failures.

        Returns:
            The endpoints this call disabled.
        """
        with self._session() as session:
            return outcomes.finish(session, results, disable_after)

    def settle_delivery(
        self, message_id: str, endpoint_id: str, status: DeliveryStatus, now: datetime
    ) -> None:
        """Give a still-pending delivery its final ``status``; a settled one is left alone.

        Raises:
            NotFound: no such delivery.
        """
        with self._session() as session:
            result = session.exec(
                sa.update(Delivery)
                .where(col(Delivery.message_id) == message_id)
                .where(col(Delivery.endpoint_id) == endpoint_id)
                .where(col(Delivery.status) == DeliveryStatus.PENDING)
                .values(status=status, next_attempt_at=None, updated_at=now)
            )
            if result.rowcount == 0 and session.get(Delivery, (message_id, endpoint_id)) is None:
                raise NotFound(
                    f"no delivery of message {message_id} to endpoint {endpoint_id}; "
                    f"see them with: billhook message show {message_id}"
                )

    def get_message(self, message_id: str) -> Message:
        """The message ``message_id``.

        Raises:
            NotFound: no such message.
        """
        with self._session() as session:
            return load_message(session, message_id)

    def list_messages(
        self,
        *,
        status: DeliveryStatus | None = None,
        event_type: str | None = None,
        limit: int = 50,
    ) -> list[MessageSummary]:
        """Messages newest first, each with its deliveries counted by status.

        Args:
            status: only messages with at least one delivery in this status.
            event_type: only messages of this type.
            limit: at most this many.
        """
        query = select(Message).order_by(col(Message.created_at).desc(), col(Message.id).desc())
        if status is not None:
            having = select(Delivery.message_id).where(col(Delivery.status) == status)
            query = query.where(col(Message.id).in_(having))
        query = where_equal(query, Message, event_type=event_type)
        with self._session() as session:
            messages = session.exec(query.limit(limit)).all()
            counts = _status_counts(session, [message.id for message in messages])
        return [
            to_model(MessageSummary, message, statuses=counts.get(message.id, {}))
            for message in messages
        ]

    def deliveries_for_message(self, message_id: str) -> list[Delivery]:
        """The deliveries of a message, by endpoint id.

        Raises:
            NotFound: no such message.
        """
        with self._session() as session:
            load_message(session, message_id)
            return _deliveries(session, message_id)

    def list_attempts(
        self, message_id: str | None = None, endpoint_id: str | None = None, limit: int = 100
    ) -> list[Attempt]:
        """Attempts newest first, of one message and/or to one endpoint when given."""
        query = select(Attempt).order_by(col(Attempt.started_at).desc(), col(Attempt.id).desc())
        query = where_equal(query, Attempt, message_id=message_id, endpoint_id=endpoint_id)
        with self._session() as session:
            return list(session.exec(query.limit(limit)).all())

    def recoverable_messages(self, endpoint_id: str, since: datetime) -> list[str]:
        """Messages to resend when recovering an endpoint, oldest first.

        Those created at or after ``since``, of a type the endpoint subscribes to now, whose
        delivery to it failed or was skipped.

        Raises:
            NotFound: no such endpoint.
        """
        with self._session() as session:
            endpoint = load_endpoint(session, endpoint_id)
            query = (
                select(Message.id)
                .join(Delivery, col(Delivery.message_id) == col(Message.id))
                .where(col(Delivery.endpoint_id) == endpoint_id)
                .where(col(Delivery.status).in_(RECOVERABLE))
                .where(col(Message.created_at) >= since)
                .where(col(Message.event_type).in_(endpoint.event_types))
                .order_by(col(Message.created_at), col(Message.id))
            )
            return list(session.exec(query).all())


# Reads and writes inside a session ---------------------------------------------------------
def load_message(session: Session, message_id: str) -> Message:
    """The message ``message_id``.

    Raises:
        NotFound: no such message.
    """
    return get_or_not_found(session, Message, message_id, "message")


def _deliveries(session: Session, message_id: str) -> list[Delivery]:
    query = (
        select(Delivery)
        .where(col(Delivery.message_id) == message_id)
        .order_by(col(Delivery.endpoint_id))
    )
    return list(session.exec(query).all())


def _endpoint_ids(deliveries: Sequence[Delivery], status: DeliveryStatus) -> list[str]:
    return sorted(delivery.endpoint_id for delivery in deliveries if delivery.status == status)


def _delivery(
    session: Session, message_id: str, endpoint_id: str, now: datetime, *, lock: bool = False
) -> Delivery:
    """The delivery of a message to an endpoint, created ``pending`` if there is none.

    ``lock`` takes its row lock (PostgreSQL; SQLite's writes are serialized already), so
    attempts of one delivery take their numbers one after the other.
    """
    key = (message_id, endpoint_id)
    delivery = session.get(Delivery, key, with_for_update=lock or None)
    if delivery is None:
        row = delivery_row(message_id, endpoint_id, DeliveryStatus.PENDING, now)
        insert_ignore(session, Delivery, [row])
        delivery = session.get(Delivery, key, with_for_update=lock or None)
    if delivery is None:  # pragma: no cover - the row was just inserted in this transaction
        raise Conflict(f"could not create the delivery of {message_id} to {endpoint_id}")
    return delivery


def _status_counts(
    session: Session, message_ids: list[str]
) -> dict[str, dict[DeliveryStatus, int]]:
    """Per message, its deliveries counted by status (every status present, zeros included)."""
    counts = {message_id: dict.fromkeys(DeliveryStatus, 0) for message_id in message_ids}
    query = (
        select(Delivery.message_id, Delivery.status, sa.func.count())
        .where(col(Delivery.message_id).in_(message_ids))
        .group_by(col(Delivery.message_id), col(Delivery.status))
    )
    for message_id, status, count in session.exec(query).all():
        counts[message_id][DeliveryStatus(status)] = count
    return counts
