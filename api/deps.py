"""What the routes take from the application: its ``BillhookClient``."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from client import BillhookClient


def client_of(request: Request) -> BillhookClient:
    """The application's ``BillhookClient`` (made when the server starts, on its event loop)."""
    client: BillhookClient = request.app.state.billhook
    return client


#: A route's parameter of this type is the application's client.
Client = Annotated[BillhookClient, Depends(client_of)]
