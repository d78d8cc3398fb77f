"""Endpoints and their signing secrets: ``Store``'s part for them (delivery.md, Endpoints)."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from errors import Conflict
from models.delivery import DisabledReason, EndpointStatus
from models.signing import generate_secret, validate_secret
from store import validation
from store.persist import Repository, get_or_not_found, oldest_first
from store.tables import Endpoint, EndpointSecret

ENDPOINT_ID_PREFIX = "whend_"


class Endpoints(Repository):
    """``Store``'s endpoint methods: create, change, enable and disable, rotate secrets."""

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
            return load_endpoint(session, endpoint_id)

    def list_endpoints(self) -> list[Endpoint]:
        """Every endpoint, oldest first."""
        return self._all(oldest_first(Endpoint))

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
            endpoint = load_endpoint(session, endpoint_id, lock=True)
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
            endpoint = load_endpoint(session, endpoint_id, lock=True)
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
            endpoint = load_endpoint(session, endpoint_id, lock=True)
            disable(endpoint, reason, now)
            return endpoint

    def delete_endpoint(self, endpoint_id: str) -> None:
        """Delete an endpoint with its secrets, deliveries and attempts.

        Raises:
            NotFound: no such endpoint.
        """
        with self._session() as session:
            # The database cascades to the dependent rows (ON DELETE CASCADE).
            session.delete(load_endpoint(session, endpoint_id))

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
            load_endpoint(session, endpoint_id, lock=True)
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
            load_endpoint(session, endpoint_id)
            return _current_secret(session, endpoint_id).secret

    def signing_secrets(self, endpoint_id: str, now: datetime) -> list[str]:
        """Secrets that sign a request at ``now``: the current one, then older ones in grace.

        Raises:
            NotFound: no such endpoint.
        """
        with self._session() as session:
            load_endpoint(session, endpoint_id)
            return signing_secrets_at(session, [endpoint_id], now)[endpoint_id]


# Reads and writes inside a session ---------------------------------------------------------
def load_endpoint(session: Session, endpoint_id: str, *, lock: bool = False) -> Endpoint:
    """The endpoint ``endpoint_id``, row-locked when ``lock`` (see ``get_or_not_found``).

    Raises:
        NotFound: no such endpoint.
    """
    return get_or_not_found(session, Endpoint, endpoint_id, "endpoint", lock=lock)


def disable(endpoint: Endpoint, reason: DisabledReason, now: datetime) -> None:
    """Mark ``endpoint`` disabled for ``reason`` (its new events are recorded ``skipped``)."""
    endpoint.status = EndpointStatus.DISABLED
    endpoint.disabled_reason = reason
    endpoint.updated_at = now


def locked_endpoints(session: Session, endpoint_ids: list[str]) -> list[Endpoint]:
    """The endpoints ``endpoint_ids``, row-locked in id order (two batches cannot deadlock)."""
    # FOR NO KEY UPDATE: blocks other writers of these endpoints but not the inserts of
    # deliveries and attempts referencing them (their foreign keys take KEY SHARE).
    query = (
        select(Endpoint)
        .where(col(Endpoint.id).in_(endpoint_ids))
        .order_by(col(Endpoint.id))
        .with_for_update(key_share=True)
    )
    return list(session.exec(query))


def signing_secrets_at(
    session: Session, endpoint_ids: Iterable[str], now: datetime
) -> dict[str, list[str]]:
    """Per endpoint, the secrets that sign a request at ``now``: the current one first, then
    the most recently replaced ones still inside their grace."""
    wanted = list(endpoint_ids)
    secrets: dict[str, list[str]] = {endpoint_id: [] for endpoint_id in wanted}
    if not wanted:
        return secrets
    query = (
        select(EndpointSecret)
        .where(col(EndpointSecret.endpoint_id).in_(wanted))
        .where(
            sa.or_(col(EndpointSecret.expires_at).is_(None), col(EndpointSecret.expires_at) > now)
        )
    )
    rows = sorted(session.exec(query), key=lambda r: (r.expires_at is not None, -(r.id or 0)))
    for row in rows:
        secrets[row.endpoint_id].append(row.secret)
    return secrets


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
