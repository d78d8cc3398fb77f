"""Routes of delivery: endpoints, event types, messages and their resends, attempts.

Each route makes one call of ``BillhookClient`` (``client.endpoints``, ``client.delivery``) and
answers with what it returned, as the command line prints it.
"""

from __future__ import annotations

import argparse

from fastapi import APIRouter, Response
from pydantic import BaseModel

from api.deps import Client
from api.pagination import MAX_PAGE
from api.routes import listing
from client.inputs import EndpointInput, EndpointUpdate
from client.results import (
    DeliveryOutcome,
    EndpointCreated,
    MessageDetails,
    RecoverResult,
    SecretRotated,
)
from errors import InvalidInput
from models.delivery import DeliveryStatus
from models.events import EVENT_DESCRIPTIONS, EventType
from starter.times import parse_since
from store.store import MessageSummary
from store.tables import Attempt, Endpoint

router = APIRouter()


class EventTypeInfo(BaseModel):
    """An event type endpoints can subscribe to, and when it is emitted."""

    name: str
    emitted_when: str


class RotateInput(BaseModel):
    """The new secret (``whsec_`` + base64); a generated one when None."""

    secret: str | None = None


class SecretValue(BaseModel):
    """An endpoint's current signing secret."""

    endpoint_id: str
    secret: str


class RecoverInput(BaseModel):
    """Since when failed or skipped messages are resent: ISO 8601 (naive: UTC) or ``2h``, ``3d``."""

    since: str


class ResendInput(BaseModel):
    """The endpoint to resend to; every endpoint the message went to when None."""

    endpoint_id: str | None = None


# Endpoints -------------------------------------------------------------------------------
@router.post("/endpoints", status_code=201, tags=["endpoints"])
async def create_endpoint(billhook: Client, body: EndpointInput) -> EndpointCreated:
    """Add an endpoint; its signing secret is in the answer (and at ``/secret``)."""
    return await billhook.endpoints.create(body)


@listing(router, "/endpoints", key="id", tag="endpoints")
async def list_endpoints(billhook: Client) -> list[Endpoint]:
    """Endpoints, oldest first (never their secrets)."""
    return await billhook.endpoints.list()


@router.get("/endpoints/{endpoint_id}", tags=["endpoints"])
async def get_endpoint(billhook: Client, endpoint_id: str) -> Endpoint:
    """One endpoint."""
    return await billhook.endpoints.get(endpoint_id)


@router.patch("/endpoints/{endpoint_id}", tags=["endpoints"])
async def update_endpoint(billhook: Client, endpoint_id: str, body: EndpointUpdate) -> Endpoint:
    """Change an endpoint's URL, event types or name (what is absent stays)."""
    return await billhook.endpoints.update(endpoint_id, body)


@router.post("/endpoints/{endpoint_id}/disable", tags=["endpoints"])
async def disable_endpoint(billhook: Client, endpoint_id: str) -> Endpoint:
    """Disable an endpoint: its events are recorded as skipped."""
    return await billhook.endpoints.disable(endpoint_id)


@router.post("/endpoints/{endpoint_id}/enable", tags=["endpoints"])
async def enable_endpoint(billhook: Client, endpoint_id: str) -> Endpoint:
    """Enable an endpoint again (``recover`` also resends what it missed)."""
    return await billhook.endpoints.enable(endpoint_id)


@router.delete("/endpoints/{endpoint_id}", status_code=204, tags=["endpoints"])
async def delete_endpoint(billhook: Client, endpoint_id: str) -> Response:
    """Delete an endpoint with its secrets and delivery records."""
    await billhook.endpoints.delete(endpoint_id)
    return Response(status_code=204)


@router.post("/endpoints/{endpoint_id}/rotate-secret", tags=["endpoints"])
async def rotate_secret(
    billhook: Client, endpoint_id: str, body: RotateInput | None = None
) -> SecretRotated:
    """A new signing secret; the previous one stays valid for the grace period."""
    return await billhook.endpoints.rotate_secret(endpoint_id, body.secret if body else None)


@router.get("/endpoints/{endpoint_id}/secret", tags=["endpoints"])
async def reveal_secret(billhook: Client, endpoint_id: str) -> SecretValue:
    """An endpoint's current signing secret (``billhook endpoint reveal-secret``)."""
    secret = await billhook.endpoints.reveal_secret(endpoint_id)
    return SecretValue(endpoint_id=endpoint_id, secret=secret)


@router.post("/endpoints/{endpoint_id}/recover", tags=["endpoints"])
async def recover_endpoint(billhook: Client, endpoint_id: str, body: RecoverInput) -> RecoverResult:
    """Enable the endpoint, then resend every failed or skipped message since ``since``."""
    try:
        since = parse_since(body.since)
    except argparse.ArgumentTypeError as exc:
        raise InvalidInput(f"since: {exc}") from None
    return await billhook.endpoints.recover(endpoint_id, since)


# Event types, messages, attempts ---------------------------------------------------------
@router.get("/event-types", tags=["messages"])
async def event_types() -> list[EventTypeInfo]:
    """The event types and when each is emitted."""
    return [EventTypeInfo(name=t.value, emitted_when=EVENT_DESCRIPTIONS[t]) for t in EventType]


@listing(router, "/messages", key="id", tag="messages")
async def list_messages(
    billhook: Client,
    n: int,
    status: DeliveryStatus | None = None,
    event_type: EventType | None = None,
) -> list[MessageSummary]:
    """Messages newest first, each with its deliveries counted by status."""
    return await billhook.messages.list(status=status, event_type=event_type, limit=n)


@router.get("/messages/{message_id}", tags=["messages"])
async def get_message(billhook: Client, message_id: str) -> MessageDetails:
    """A message with its deliveries."""
    return await billhook.messages.show(message_id)


@router.post("/messages/{message_id}/resend", tags=["messages"])
async def resend_message(
    billhook: Client, message_id: str, body: ResendInput | None = None
) -> list[DeliveryOutcome]:
    """Resend a message now (one manual attempt per endpoint); each endpoint's outcome."""
    return await billhook.messages.resend(message_id, body.endpoint_id if body else None)


@listing(router, "/attempts", key="id", tag="messages")
async def list_attempts(
    billhook: Client, n: int, message_id: str | None = None, endpoint_id: str | None = None
) -> list[Attempt]:
    """Attempts newest first, of one message and/or to one endpoint."""
    return await billhook.attempts.list(message_id, endpoint_id, min(n, 50 * MAX_PAGE))
