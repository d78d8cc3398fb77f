"""What ``BillhookClient`` takes besides the workflows' own models, one pydantic model each.

The models the workflows and the catalog already take are taken as they are: a customer is a
``CustomerSnapshot``, a plan version a ``PlanVersionSpec``, usage a ``UsageInput``, a payment a
``PayInput``. Every value is checked by the store, the catalog or the workflow it reaches,
before anything is written or started.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from pydantic import BaseModel

from models.billing import Aggregation


class MetricInput(BaseModel):
    """A usage metric: what it counts (events named ``event_name``) or sums (a property)."""

    name: str
    event_name: str
    aggregation: Aggregation = Aggregation.COUNT
    #: The property a ``sum`` metric adds up; required for ``sum``.
    property_name: str | None = None


class AlertInput(BaseModel):
    """An alert on a plan version: usage of ``metric_id`` reaching ``threshold`` in a period."""

    metric_id: str
    threshold: Decimal
    #: The version it watches; when None, the newest version of ``plan_id``.
    plan_version_id: str | None = None
    plan_id: str | None = None


class SubscriptionInput(BaseModel):
    """A customer subscribed to a plan's newest version."""

    customer_id: str
    plan_id: str
    #: The first period's start: a naive time is the customer's clock; now when None.
    start: datetime | None = None
    auto_renew: bool = True


class EndpointInput(BaseModel):
    """An endpoint to deliver to: its URL, the event types it receives, a name, a secret."""

    url: str
    event_types: list[str]
    #: A label; the URL's host when None.
    name: str | None = None
    #: An existing ``whsec_`` secret to keep (Lotus's); generated when None.
    secret: str | None = None


class EndpointUpdate(BaseModel):
    """What changes on an endpoint; what is None stays as it is."""

    url: str | None = None
    event_types: list[str] | None = None
    name: str | None = None
