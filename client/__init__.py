"""billhook's client: ``BillhookClient`` (async) and ``SyncBillhookClient`` (blocking, scripts).

The one way any caller (the command line, an application) starts, signals, updates and
queries billhook's workflows and reads the store; it owns the workflow ids (``client.ids``).
Importing the package loads nothing: ``client.ids`` is imported by workflows inside the
sandbox, and the classes load (the store, then Temporal when first needed) when first named.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from client.billhook import BillhookClient
    from client.sync import SyncBillhookClient

__all__ = ["BillhookClient", "SyncBillhookClient"]

_HOMES = {"BillhookClient": "client.billhook", "SyncBillhookClient": "client.sync"}


def __getattr__(name: str) -> Any:
    if name in _HOMES:
        return getattr(importlib.import_module(_HOMES[name]), name)
    raise AttributeError(f"module 'client' has no attribute {name!r}")
