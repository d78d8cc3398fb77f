"""``Store``: every read and write billhook makes to its database, as short transactions.

All methods are blocking: activities call them from plain ``def`` activities (the worker's thread
pool) or through ``asyncio.to_thread``. Returned rows are detached copies, safe to read after the
session closed. ``now`` is always passed in, so tests control time.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from pydantic import BaseModel
from sqlalchemy.engine import Connection, Engine
from sqlmodel import Session, col, select

from errors import Conflict, NotFound, StoreNotReady, StoreUnreachable
from models.delivery import (
    AttemptTrigger,
    DeliveryStatus,
    DisabledReason,
    EndpointStatus,
    Event,
    PlannedDeliveries,
)
from store import attempts as attempt_log
from store import migrate, validation
from store.attempts import Accepted, Claim, Deferred, Finished, Redact, Settled, delivery_row
from store.engine import create_engine, display_url, insert_ignore, transaction
from store.secrets import generate_secret, validate_secret
from store.tables import Attempt, Delivery, Endpoint, EndpointSecret, Message

ENDPOINT_ID_PREFIX = "whend_"

#: Statuses ``recoverable_messages`` resends: the ones that never reached the endpoint.
RECOVERABLE = (DeliveryStatus.FAILED, DeliveryStatus.SKIPPED)


class MessageSummary(BaseModel):
    """A message with its deliveries' statuses counted, for listings."""

    id: str
    event_type: str
    created_at: datetime
    business_key: str
    statuses: dict[DeliveryStatus, int]


class Store:
    """The database behind billhook; see the module docstring."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    @classmethod
    def from_url(cls, url: str) -> Store:
        """A store on ``url`` (``sqlite:///path`` or ``postgresql+psycopg://...``)."""
        return cls(create_engine(url))

    def upgrade(self) -> None:
        """Migrate the database to the newest schema (``billhook db upgrade``), in one transaction.

        Raises:
            StoreNotReady: the database is unreachable.
        """
        with self._connect() as connection, connection.begin():
            migrate.upgrade(connection)

    def check_ready(self) -> None:
        """Check the database answers and is migrated to the head revision.

        Raises:
            StoreNotReady: unreachable, or not at the head revision; the message says what to do.
        """
        with self._connect() as connection:
            current = migrate.current_revision(connection)
        head = migrate.head_revision()
        if current != head:
            raise StoreNotReady(
                f"the store is not migrated (at {current or 'no revision'}, head is {head}); "
                "run: billhook db upgrade"
            )

    # Endpoints ---------------------------------------------------------------------------
    def create_endpoint(
        self,
        url: str,
        event_types: Sequence[str],
        now: datetime,
        name: str | None = None,
        secret: str | None = None,
    ) -> tuple[Endpoint, str]:
        """Create an enabled endpoint and its first signing secret.

        Args:
            url: where to POST; ``http`` or ``https`` with a host.
            event_types: the catalog types it subscribes to, at least one.
            now: its creation time.
            name: a label; the URL's host when not given.
            secret: an existing ``whsec_`` secret to keep (e.g. Lotus's); generated when None.

        Returns:
            The endpoint and its whole secret, which is shown to the user this once.

        Raises:
            InvalidInput: a bad URL, event type or secret; nothing was written.
        """
        host = validation.endpoint_host(url)
        types = validation.event_types(event_types)
        if name is not None:
            validation.check_name("endpoint name", name)
        whole_secret = generate_secret() if secret is None else validate_secret(secret)
        endpoint = Endpoint(
            id=ENDPOINT_ID_PREFIX + uuid.uuid4().hex,
            name=name or host,
            url=url,
            event_types=types,
            status=EndpointStatus.ENABLED,
            created_at=now,
            updated_at=now,
        )
        with self._session() as session:
            session.add(endpoint)
            session.add(
                EndpointSecret(endpoint_id=endpoint.id, secret=whole_secret, created_at=now)
            )
        return endpoint, whole_secret

    def get_endpoint(self, endpoint_id: str) -> Endpoint:
        """The endpoint ``endpoint_id``.

        Raises:
            NotFound: no such endpoint.
        """
        with self._session() as session:
            return _endpoint(session, endpoint_id)

    def list_endpoints(self) -> list[Endpoint]:
        """Every endpoint, oldest first."""
        with self._session() as session:
            query = select(Endpoint).order_by(col(Endpoint.created_at), col(Endpoint.id))
            return list(session.exec(query).all())

    def update_endpoint(
        self,
        endpoint_id: str,
        now: datetime,
        *,
        url: str | None = None,
        event_types: Sequence[str] | None = None,
        name: str | None = None,
    ) -> Endpoint:
        """Change what is given; affects events emitted from now on (delivery.md, Endpoints).

        Raises:
            InvalidInput: a bad URL or event type; nothing was written.
            NotFound: no such endpoint.
        """
        changes: dict[str, Any] = {}
        if url is not None:
            changes["url"] = url
            validation.endpoint_host(url)
        if event_types is not None:
            changes["event_types"] = validation.event_types(event_types)
        if name is not None:
            validation.check_name("endpoint name", name)
        with self._session() as session:
            endpoint = _endpoint(session, endpoint_id, lock=True)
            if name is not None:
                changes["name"] = name or validation.endpoint_host(changes.get("url", endpoint.url))
            for field, value in changes.items():
                setattr(endpoint, field, value)
            endpoint.updated_at = now
            return endpoint

    def enable_endpoint(self, endpoint_id: str, now: datetime) -> Endpoint:
        """Enable an endpoint and forget its failure streak, so it gets 5 fresh days.

        Raises:
            NotFound: no such endpoint.
        """
        with self._session() as session:
            endpoint = _endpoint(session, endpoint_id, lock=True)
            endpoint.status = EndpointStatus.ENABLED
            endpoint.disabled_reason = None
            endpoint.failing_since = None
            endpoint.updated_at = now
            return endpoint

    def disable_endpoint(self, endpoint_id: str, reason: DisabledReason, now: datetime) -> Endpoint:
        """Disable an endpoint: its new events are recorded as ``skipped``.

        Raises:
            NotFound: no such endpoint.
        """
        with self._session() as session:
            endpoint = _endpoint(session, endpoint_id, lock=True)
            _disable(endpoint, reason, now)
            return endpoint

    def delete_endpoint(self, endpoint_id: str) -> None:
        """Delete an endpoint with its secrets, deliveries and attempts.

        Raises:
            NotFound: no such endpoint.
        """
        with self._session() as session:
            # The database cascades to the dependent rows (ON DELETE CASCADE).
            session.delete(_endpoint(session, endpoint_id))

    def rotate_secret(
        self, endpoint_id: str, now: datetime, grace: timedelta, secret: str | None = None
    ) -> str:
        """Make a new secret current; the current one stays valid until ``now + grace``.

        Args:
            endpoint_id: the endpoint.
            now: the rotation time.
            grace: how long the replaced secret still signs (24 hours by default).
            secret: the new secret; generated when None.

        Returns:
            The new secret, whole.

        Raises:
            InvalidSecret: ``secret`` is malformed; nothing was written.
            NotFound: no such endpoint.
        """
        new_secret = generate_secret() if secret is None else validate_secret(secret)
        with self._session() as session:
            # The lock serializes rotations, so exactly one secret is current afterwards.
            _endpoint(session, endpoint_id, lock=True)
            session.exec(
                sa.update(EndpointSecret)
                .where(col(EndpointSecret.endpoint_id) == endpoint_id)
                .where(col(EndpointSecret.expires_at).is_(None))
                .values(expires_at=now + grace)
            )
            session.add(EndpointSecret(endpoint_id=endpoint_id, secret=new_secret, created_at=now))
        return new_secret

    def reveal_secret(self, endpoint_id: str) -> str:
        """The endpoint's current secret, whole.

        Raises:
            NotFound: no such endpoint.
        """
        with self._session() as session:
            _endpoint(session, endpoint_id)
            return _current_secret(session, endpoint_id).secret

    def signing_secrets(self, endpoint_id: str, now: datetime) -> list[str]:
        """Secrets that sign a request at ``now``: the current one, then older ones in grace.

        Raises:
            NotFound: no such endpoint.
        """
        with self._session() as session:
            _endpoint(session, endpoint_id)
            return attempt_log.signing_secrets(session, [endpoint_id], now)[endpoint_id]

    # Messages and deliveries -------------------------------------------------------------
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
        with self._session() as session:
            _insert_message(session, message_id, event_type, business_key, payload, created_at)
            deliveries = _deliveries(session, message_id)
            if not deliveries:
                message = _message(session, message_id)
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
            message = _message(session, message_id)
            endpoint = _endpoint(session, endpoint_id)
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
            return attempt_log.finish(session, results, disable_after)

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
            return _message(session, message_id)

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
        if event_type is not None:
            query = query.where(col(Message.event_type) == event_type)
        with self._session() as session:
            messages = session.exec(query.limit(limit)).all()
            counts = _status_counts(session, [message.id for message in messages])
        return [
            MessageSummary(
                id=message.id,
                event_type=message.event_type,
                created_at=message.created_at,
                business_key=message.business_key,
                statuses=counts.get(message.id, {}),
            )
            for message in messages
        ]

    def deliveries_for_message(self, message_id: str) -> list[Delivery]:
        """The deliveries of a message, by endpoint id.

        Raises:
            NotFound: no such message.
        """
        with self._session() as session:
            _message(session, message_id)
            return _deliveries(session, message_id)

    def list_attempts(
        self,
        *,
        message_id: str | None = None,
        endpoint_id: str | None = None,
        limit: int = 100,
    ) -> list[Attempt]:
        """Attempts newest first, of one message and/or to one endpoint when given."""
        query = select(Attempt).order_by(col(Attempt.started_at).desc(), col(Attempt.id).desc())
        if message_id is not None:
            query = query.where(col(Attempt.message_id) == message_id)
        if endpoint_id is not None:
            query = query.where(col(Attempt.endpoint_id) == endpoint_id)
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
            endpoint = _endpoint(session, endpoint_id)
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

    @contextmanager
    def _connect(self) -> Iterator[Connection]:
        """A connection; failing to open one is ``StoreUnreachable`` naming the database."""
        try:
            connection = self.engine.connect()
        except sa.exc.DBAPIError as exc:
            reason = _first_line(exc.orig) or type(exc.orig).__name__
            raise StoreUnreachable(
                f"cannot reach the database at {display_url(self.engine.url)}: {reason}"
            ) from exc
        with connection:
            yield connection

    def _session(self) -> AbstractContextManager[Session]:
        """One transaction, committed on exit; its rows stay readable after it closed."""
        return transaction(self.engine)


# Reads and writes inside a session ---------------------------------------------------------
def _endpoint(session: Session, endpoint_id: str, *, lock: bool = False) -> Endpoint:
    query = select(Endpoint).where(col(Endpoint.id) == endpoint_id)
    if lock:
        # FOR NO KEY UPDATE: blocks other writers of this endpoint but not the inserts of
        # deliveries and attempts referencing it (their foreign keys take KEY SHARE).
        query = query.with_for_update(key_share=True)
    endpoint = session.exec(query).first()
    if endpoint is None:
        raise NotFound(f"no endpoint {endpoint_id}; list them with: billhook endpoint list")
    return endpoint


def _message(session: Session, message_id: str) -> Message:
    message = session.get(Message, message_id)
    if message is None:
        raise NotFound(f"no message {message_id}; list them with: billhook message list")
    return message


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


def _insert_message(
    session: Session,
    message_id: str,
    event_type: str,
    business_key: str,
    payload: dict[str, Any],
    created_at: datetime,
) -> None:
    """Insert the message unless it exists; a business key taken by another id is a bug."""
    row = {
        "id": message_id,
        "event_type": event_type,
        "business_key": business_key,
        "payload": payload,
        "created_at": created_at,
    }
    insert_ignore(session, Message, [row])
    if session.get(Message, message_id) is None:
        raise Conflict(
            f"business key {business_key!r} already belongs to another message than "
            f"{message_id}; message ids derive from business keys, so the emitter is wrong"
        )


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


def _current_secret(session: Session, endpoint_id: str) -> EndpointSecret:
    query = (
        select(EndpointSecret)
        .where(col(EndpointSecret.endpoint_id) == endpoint_id)
        .where(col(EndpointSecret.expires_at).is_(None))
        .order_by(col(EndpointSecret.id).desc())
    )
    current = session.exec(query).first()
    if current is None:
        raise Conflict(f"endpoint {endpoint_id} has no current secret; rotate its secret")
    return current


def _disable(endpoint: Endpoint, reason: DisabledReason, now: datetime) -> None:
    endpoint.status = EndpointStatus.DISABLED
    endpoint.disabled_reason = reason
    endpoint.updated_at = now


def _first_line(error: BaseException | None) -> str:
    lines = str(error or "").strip().splitlines()
    return lines[0].strip() if lines else ""
