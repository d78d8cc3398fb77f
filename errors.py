"""Errors billhook raises on purpose, each naming what failed and what to do.

Error tree::

    BillhookError                  base: a one-line message fit for the command line
    ├── InvalidInput               a request that was refused and changed nothing
    │   ├── InvalidUrl             not http(s), no host, too long, control characters, a host
    │   │                          that is never a receiver, or credentials in production
    │   ├── UnknownEventType       an event type outside the catalog (models.events.EventType)
    │   └── InvalidSecret          not ``whsec_`` + base64
    ├── NotFound                   no endpoint / message with that id
    ├── Conflict                   the object exists already, or is in the wrong state
    ├── StoreNotReady              the database is unreachable or not migrated
    │   └── StoreUnreachable       no connection could be opened
    └── TemporalError              Temporal is unreachable, refused a request, or a workflow failed
        └── NoWorker               no worker answered in time; the request may still be applied

Delivery outcomes are not errors of this tree: they are Temporal ``ApplicationError``s raised by
the delivery activity (see ``activities.delivery``) so that Temporal schedules the retry.
"""

from __future__ import annotations


class BillhookError(Exception):
    """Base of every error billhook raises on purpose."""


class InvalidInput(BillhookError):
    """A request that was refused and changed nothing."""


class InvalidUrl(InvalidInput):
    """An endpoint URL billhook will not deliver to."""


class UnknownEventType(InvalidInput):
    """An event type outside the catalog."""


class InvalidSecret(InvalidInput):
    """A signing secret that is not ``whsec_`` followed by base64."""


class NotFound(BillhookError):
    """No object with that id."""


class Conflict(BillhookError):
    """The object exists already, or is in a state that forbids the request."""


class StoreNotReady(BillhookError):
    """The database is unreachable or its schema is not migrated."""


class StoreUnreachable(StoreNotReady):
    """No connection to the database could be opened (it may come back; a migration will not)."""


class TemporalError(BillhookError):
    """Temporal is unreachable or refused a request, or a workflow failed."""


class NoWorker(TemporalError):
    """No worker answered in time: what was asked may still be done once one runs."""
