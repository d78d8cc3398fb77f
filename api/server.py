"""Running the API: uvicorn serving ``api.app.create_app`` (``billhook serve``, ``make run``)."""

from __future__ import annotations

import uvicorn

from api.app import create_app
from client.core import WORKER_WAIT_SECONDS
from config import Settings
from store import Store


def build_server(
    settings: Settings,
    host: str,
    port: int,
    *,
    store: Store | None = None,
    worker_wait: float = WORKER_WAIT_SECONDS,
) -> uvicorn.Server:
    """A uvicorn server of the API on ``host:port``; ``run()`` serves until it is told to stop.

    Access lines are not logged: they would hold nothing an operator needs that the API's
    answers do not, and a query string may carry ids that need not be in logs.
    """
    config = uvicorn.Config(
        create_app(settings, store=store, worker_wait=worker_wait),
        host=host,
        port=port,
        access_log=False,
        log_level="warning",
        lifespan="on",
    )
    return uvicorn.Server(config)
