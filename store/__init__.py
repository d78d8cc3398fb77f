"""The delivery store: endpoints, secrets, messages, deliveries, attempts (delivery.md, Records).

Imported by activities and the command line, never by workflows.
"""

from store.store import Store

__all__ = ["Store"]
