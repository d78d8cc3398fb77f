"""The FastAPI application: routes, bearer-key authentication, billhook's errors as JSON.

Every route but ``/health`` (and Stripe's webhook, which Stripe signs instead) needs a key made
by ``billhook api-key create``: ``Authorization: Bearer bh_...``; without a valid one the answer
is 401. Errors are ``{"error": {"code": ..., "message": ...}}``, the message being the one line
the command line prints for the same error; a refused request changed nothing.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.exceptions import HTTPException

from api import billing, catalog, delivery, stripe
from api.deps import client_of
from api.pagination import BadRequest
from client import BillhookClient
from client.core import WORKER_WAIT_SECONDS
from config import InvalidSettings, Settings
from errors import (
    BillhookError,
    Conflict,
    InvalidInput,
    NotFound,
    NoWorker,
    StoreNotReady,
    TemporalError,
)
from starter.cli import one_line
from store import Store

#: Status and code of each error billhook raises on purpose; the first that matches wins.
STATUSES: tuple[tuple[type[BillhookError], int, str], ...] = (
    (BadRequest, 400, "bad_request"),
    (InvalidInput, 422, "invalid_input"),
    (NotFound, 404, "not_found"),
    (Conflict, 409, "conflict"),
    (StoreNotReady, 503, "store_not_ready"),
    (NoWorker, 503, "no_worker"),
    (TemporalError, 502, "temporal_error"),
    (InvalidSettings, 503, "not_configured"),
)
#: Codes of the HTTP errors Starlette raises itself (unknown route, wrong method).
HTTP_CODES = {400: "bad_request", 401: "unauthorized", 404: "not_found", 405: "not_allowed"}

_bearer = HTTPBearer(auto_error=False, description="an API key: billhook api-key create NAME")


class Unauthorized(Exception):
    """A request without a valid API key."""


def error_response(status: int, code: str, message: str, **headers: str) -> JSONResponse:
    """``{"error": {"code": ..., "message": ...}}`` with ``status``, the message on one line."""
    body = {"error": {"code": code, "message": one_line(Exception(message))}}
    return JSONResponse(body, status_code=status, headers=headers or None)


async def require_key(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> None:
    """Refuse a request without a valid, unrevoked API key (401)."""
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise Unauthorized("an API key is required: Authorization: Bearer bh_...")
    if not await client_of(request).api_keys.verify(credentials.credentials):
        raise Unauthorized("the API key is not valid or was revoked")


def _validation_message(error: RequestValidationError) -> tuple[int, str]:
    """A request that did not fit its schema, on one line: 400 for malformed JSON, else 422."""
    problems, status = [], 422
    for problem in error.errors():
        if problem.get("type") == "json_invalid":
            status = 400
        where = ".".join(str(part) for part in problem.get("loc", ()) if part != "body")
        problems.append(f"{where}: {problem.get('msg')}" if where else str(problem.get("msg")))
    return status, "; ".join(problems) or "the request does not fit its schema"


def create_app(
    settings: Settings,
    *,
    store: Store | None = None,
    client: BillhookClient | None = None,
    worker_wait: float = WORKER_WAIT_SECONDS,
) -> FastAPI:
    """billhook's REST API on ``settings`` (``BILLHOOK_*``).

    Args:
        settings: the store, Temporal, the task queue, the Stripe signing secret.
        store: a store to use instead of opening ``settings.database_url``.
        client: a client to use; by default one is made as the server starts, on its loop.
        worker_wait: seconds a request waits for a worker before answering 503 ``no_worker``.
    """

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        billhook = client or BillhookClient(settings, store=store, worker_wait=worker_wait)
        app.state.billhook = billhook
        try:
            yield
        finally:
            if client is None:
                await billhook.close()

    app = FastAPI(
        title="billhook",
        version="0.1.0",
        description=(
            "Billing lifecycle webhooks on Temporal. Authenticate with `Authorization: Bearer "
            "bh_...` (`billhook api-key create NAME`). Errors are "
            '`{"error": {"code": ..., "message": ...}}`.'
        ),
        lifespan=lifespan,
    )
    app.state.settings = settings

    @app.exception_handler(BillhookError)
    async def billhook_error(request: Request, exc: BillhookError) -> JSONResponse:
        for kind, status, code in STATUSES:
            if isinstance(exc, kind):
                return error_response(status, code, str(exc))
        return error_response(500, "error", str(exc))

    @app.exception_handler(Unauthorized)
    async def unauthorized(request: Request, exc: Unauthorized) -> JSONResponse:
        return error_response(401, "unauthorized", str(exc), **{"WWW-Authenticate": "Bearer"})

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        status, message = _validation_message(exc)
        return error_response(status, "bad_request" if status == 400 else "invalid_input", message)

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> JSONResponse:
        code = HTTP_CODES.get(exc.status_code, "error")
        return error_response(exc.status_code, code, str(exc.detail))

    @app.exception_handler(Exception)
    async def failure(request: Request, exc: Exception) -> JSONResponse:
        # A bug, not a refusal: the server's log has the traceback; the answer names no detail.
        return error_response(500, "internal", "the API failed on this request; see its log")

    @app.get("/health", tags=["health"])
    async def health() -> dict[str, Any]:
        """Whether the API runs (no key needed)."""
        return {"status": "ok"}

    secured = [Depends(require_key)]
    for router in (delivery.router, catalog.router, billing.router):
        app.include_router(router, dependencies=secured)
    app.include_router(stripe.router)
    return app
