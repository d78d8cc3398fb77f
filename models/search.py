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


def dev_server_args() -> list[str]:
    """``temporal server start-dev`` flags that register every attribute above."""
    return [arg for key in ALL_KEYS for arg in ("--search-attribute", f"{key.name}=Keyword")]


def business_attributes(keys: SearchKeys) -> list[SearchAttributeUpdate[str]]:
    """Updates setting the customer, subscription and invoice attributes that are known."""
    pairs = [
        (CUSTOMER_ID, keys.customer_id),
        (SUBSCRIPTION_ID, keys.subscription_id),
        (INVOICE_ID, keys.invoice_id),
    ]
    return [key.value_set(value) for key, value in pairs if value]


def delivery_attributes(
    event_type: str, endpoint_id: str, keys: SearchKeys
) -> TypedSearchAttributes:
    """A delivery's retries in the Web UI: its event type, endpoint and business ids."""
    pairs: list[SearchAttributePair[str]] = [
        SearchAttributePair(EVENT_TYPE, event_type),
        SearchAttributePair(ENDPOINT_ID, endpoint_id),
    ]
    known = [
        (CUSTOMER_ID, keys.customer_id),
        (SUBSCRIPTION_ID, keys.subscription_id),
        (INVOICE_ID, keys.invoice_id),
    ]
    pairs.extend(SearchAttributePair(key, value) for key, value in known if value)
    return TypedSearchAttributes(pairs)
