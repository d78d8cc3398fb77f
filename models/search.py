"""Custom search attributes that make billhook's workflows filterable in the Temporal Web UI."""

from __future__ import annotations

from temporalio.common import (
    SearchAttributeKey,
    SearchAttributePair,
    SearchAttributeUpdate,
    TypedSearchAttributes,
)

from models.delivery import SearchKeys

CUSTOMER_ID = SearchAttributeKey.for_keyword("CustomerId")
SUBSCRIPTION_ID = SearchAttributeKey.for_keyword("SubscriptionId")
INVOICE_ID = SearchAttributeKey.for_keyword("InvoiceId")
BILLING_STATUS = SearchAttributeKey.for_keyword("BillingStatus")
EVENT_TYPE = SearchAttributeKey.for_keyword("EventType")
ENDPOINT_ID = SearchAttributeKey.for_keyword("EndpointId")

ALL_KEYS = (CUSTOMER_ID, SUBSCRIPTION_ID, INVOICE_ID, BILLING_STATUS, EVENT_TYPE, ENDPOINT_ID)


#: The dev server's SQLite file in WAL mode, synced at checkpoints rather than on every commit:
#: nothing is lost when the server process dies (only when the machine loses power), and a
#: write costs no fsync, which is what bounds the embedded default's latency and throughput.
DEV_SERVER_PRAGMAS = ("journal_mode=wal", "synchronous=normal")


def dev_server_args() -> list[str]:
    """``temporal server start-dev`` flags: every attribute above, and the SQLite tuning."""
    attributes = [arg for key in ALL_KEYS for arg in ("--search-attribute", f"{key.name}=Keyword")]
    return attributes + [arg for p in DEV_SERVER_PRAGMAS for arg in ("--sqlite-pragma", p)]


def _known(keys: SearchKeys) -> list[tuple[SearchAttributeKey[str], str]]:
    """The customer, subscription and invoice attributes whose ids are known."""
    pairs = [
        (CUSTOMER_ID, keys.customer_id),
        (SUBSCRIPTION_ID, keys.subscription_id),
        (INVOICE_ID, keys.invoice_id),
    ]
    return [(key, value) for key, value in pairs if value]


def business_attributes(keys: SearchKeys) -> list[SearchAttributeUpdate[str]]:
    """Updates setting the customer, subscription and invoice attributes that are known."""
    return [key.value_set(value) for key, value in _known(keys)]


def typed_attributes(keys: SearchKeys, *pairs: SearchAttributePair[str]) -> TypedSearchAttributes:
    """Search attributes for a workflow start: ``pairs``, then the business ids that are known."""
    known = (SearchAttributePair(key, value) for key, value in _known(keys))
    return TypedSearchAttributes([*pairs, *known])


def delivery_attributes(
    event_type: str, endpoint_id: str, keys: SearchKeys
) -> TypedSearchAttributes:
    """A delivery's retries in the Web UI: its event type, endpoint and business ids."""
    return typed_attributes(
        keys,
        SearchAttributePair(EVENT_TYPE, event_type),
        SearchAttributePair(ENDPOINT_ID, endpoint_id),
    )
