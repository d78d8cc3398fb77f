"""``Store``: every read and write billhook makes to its database, as short transactions.

All methods are blocking: activities call them from plain ``def`` activities (the worker's thread
pool) or through ``asyncio.to_thread``. Returned rows are detached copies, safe to read after the
session closed. ``now`` is always passed in, so tests control time.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from pydantic import BaseModel
from sqlalchemy.engine import Engine

from models.delivery import (
    AttemptTrigger,
    DeliveryStatus,
    DisabledReason,
    ErrorKind,
    PlannedDeliveries,
)
from store.tables import Attempt, Delivery, Endpoint, Message


class NewAttempt(BaseModel):
    """One attempt as the delivery activity measured it."""

    message_id: str
    endpoint_id: str
    attempt: int
    trigger: AttemptTrigger
    started_at: datetime
    duration_ms: int
    url: str
    response_status: int | None
    response_body: str | None
    error_kind: ErrorKind | None
    error: str | None
    next_retry_at: datetime | None


class DeliveryContext(BaseModel):
    """What one attempt needs: the message, where to send it, and the secrets to sign with."""

    message_id: str
    event_type: str
    payload: dict[str, Any]
    created_at: datetime
    endpoint_id: str
    url: str
    enabled: bool
    secrets: list[str]  # current first, then rotated-out ones still inside their grace
    attempts_so_far: int


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
        raise NotImplementedError

    def upgrade(self) -> None:
        raise NotImplementedError

    def check_ready(self) -> None:
        raise NotImplementedError

    # Endpoints ---------------------------------------------------------------------------
    def create_endpoint(
        self,
        url: str,
        event_types: Sequence[str],
        now: datetime,
        name: str | None = None,
        secret: str | None = None,
    ) -> tuple[Endpoint, str]:
        raise NotImplementedError

    def get_endpoint(self, endpoint_id: str) -> Endpoint:
        raise NotImplementedError

    def list_endpoints(self) -> list[Endpoint]:
        raise NotImplementedError

    def update_endpoint(
        self,
        endpoint_id: str,
        now: datetime,
        *,
        url: str | None = None,
        event_types: Sequence[str] | None = None,
        name: str | None = None,
    ) -> Endpoint:
        raise NotImplementedError

    def enable_endpoint(self, endpoint_id: str, now: datetime) -> Endpoint:
        raise NotImplementedError

    def disable_endpoint(self, endpoint_id: str, reason: DisabledReason, now: datetime) -> Endpoint:
        raise NotImplementedError

    def delete_endpoint(self, endpoint_id: str) -> None:
        raise NotImplementedError

    def rotate_secret(
        self, endpoint_id: str, now: datetime, grace: timedelta, secret: str | None = None
    ) -> str:
        raise NotImplementedError

    def reveal_secret(self, endpoint_id: str) -> str:
        raise NotImplementedError

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
        raise NotImplementedError

    def delivery_context(self, message_id: str, endpoint_id: str, now: datetime) -> DeliveryContext:
        raise NotImplementedError

    def record_attempt(
        self,
        attempt: NewAttempt,
        status: DeliveryStatus,
        *,
        disable_after: timedelta,
        disable_reason: DisabledReason | None = None,
    ) -> bool:
        raise NotImplementedError

    def settle_delivery(
        self, message_id: str, endpoint_id: str, status: DeliveryStatus, now: datetime
    ) -> None:
        raise NotImplementedError

    def get_message(self, message_id: str) -> Message:
        raise NotImplementedError

    def list_messages(
        self,
        *,
        status: DeliveryStatus | None = None,
        event_type: str | None = None,
        limit: int = 50,
    ) -> list[MessageSummary]:
        raise NotImplementedError

    def deliveries_for_message(self, message_id: str) -> list[Delivery]:
        raise NotImplementedError

    def list_attempts(
        self,
        *,
        message_id: str | None = None,
        endpoint_id: str | None = None,
        limit: int = 100,
    ) -> list[Attempt]:
        raise NotImplementedError

    def recoverable_messages(self, endpoint_id: str, since: datetime) -> list[str]:
        raise NotImplementedError
