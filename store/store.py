"""``Store``: every read and write billhook makes to its database, as short transactions.

All methods are blocking: activities call them from plain ``def`` activities (the worker's thread
pool) or through ``asyncio.to_thread``. Returned rows are detached copies, safe to read after the
session closed. ``now`` is always passed in, so tests control time.

The methods live with their aggregate: ``store.endpoints`` (endpoints and secrets) and
``store.messages`` (messages, deliveries, attempts); this module adds the schema's own.
"""

from __future__ import annotations

from errors import StoreNotReady
from store import migrate
from store.documents import Documents
from store.endpoints import ENDPOINT_ID_PREFIX, Endpoints
from store.engine import create_engine
from store.messages import RECOVERABLE, Messages, MessageSummary
from store.persist import connect

__all__ = ["ENDPOINT_ID_PREFIX", "RECOVERABLE", "MessageSummary", "Store"]


class Store(Endpoints, Messages, Documents):
    """The database behind billhook; see the module docstring."""

    @classmethod
    def from_url(cls, url: str) -> Store:
        """A store on ``url`` (``sqlite:///path`` or ``postgresql+psycopg://...``)."""
        return cls(create_engine(url))

    def upgrade(self) -> None:
        """Migrate the database to the newest schema (``billhook db upgrade``), in one transaction.

        Raises:
            StoreNotReady: the database is unreachable.
        """
        with connect(self.engine) as connection, connection.begin():
            migrate.upgrade(connection)

    def check_ready(self) -> None:
        """Check the database answers and is migrated to the head revision.

        Raises:
            StoreNotReady: unreachable, or not at the head revision; the message says what to do.
        """
        with connect(self.engine) as connection:
            current = migrate.current_revision(connection)
        head = migrate.head_revision()
        if current != head:
            raise StoreNotReady(
                f"the store is not migrated (at {current or 'no revision'}, head is {head}); "
                "run: billhook db upgrade"
            )
