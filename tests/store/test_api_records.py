"""The REST API's records on SQLite and PostgreSQL: keys, Stripe events, ingested usage."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from errors import InvalidInput, NotFound
from store import Store
from store.api_records import ApiRecords, NewUsage, StripeEventInfo

NOW = datetime(2026, 12, 4, 12, tzinfo=UTC)


@pytest.fixture
def records(store: Store) -> ApiRecords:
    return ApiRecords(store.engine)


def usage(sub: str, key: str, quantity: str = "1.5", metric: str = "metric_a") -> NewUsage:
    return NewUsage(
        subscription_id=sub, metric_id=metric, quantity=Decimal(quantity), idempotency_key=key
    )


def test_api_keys_are_found_by_hash_until_revoked(records: ApiRecords) -> None:
    key = records.create_api_key("ci", "bh_abcdefgh", "f" * 64, NOW)
    assert records.api_key_hash("f" * 64) == "f" * 64
    assert records.api_key_hash("e" * 64) is None
    revoked = records.revoke_api_key(key.id, NOW)
    assert revoked.revoked_at == NOW and records.api_key_hash("f" * 64) is None
    assert [k.id for k in records.list_api_keys()] == [key.id]
    with pytest.raises(NotFound):
        records.revoke_api_key("apikey_nope", NOW)
    with pytest.raises(InvalidInput):
        records.create_api_key("", "bh_x", "0" * 64, NOW)
    assert len(records.list_api_keys()) == 1


def test_a_stripe_event_is_recorded_once(records: ApiRecords) -> None:
    event = StripeEventInfo(
        id="evt_1",
        type="invoice.paid",
        invoice_id="i",
        outcome="paid",
        detail=None,
        received_at=NOW,
    )
    assert records.stripe_event("evt_1") is None
    assert records.record_stripe_event(event) is True
    assert records.record_stripe_event(event.model_copy(update={"outcome": "x"})) is False
    assert records.stripe_event("evt_1") == event
    assert records.list_stripe_events() == [event]


def test_ingested_usage_counts_each_key_once_and_groups_what_is_pending(
    records: ApiRecords,
) -> None:
    batch, fresh = records.ingest_usage(
        [usage("sub_a", "k1"), usage("sub_a", "k2", "2.25"), usage("sub_b", "k1", "3")], NOW
    )
    assert fresh == {0, 1, 2}
    again, fresh_again = records.ingest_usage([usage("sub_a", "k2"), usage("sub_a", "k3")], NOW)
    assert fresh_again == {1} and again != batch
    pending = {(g.batch_id, g.subscription_id): g for g in records.pending_usage(["sub_a"])}
    assert set(pending) == {(batch, "sub_a"), (again, "sub_a")}
    first = pending[(batch, "sub_a")]
    assert (first.quantity, first.records, str(first.quantity)) == (Decimal("3.75"), 2, "3.75")
    records.settle_usage([first], [pending[(again, "sub_a")]])  # the second refused: forgotten
    assert records.pending_usage(["sub_a"]) == []
    # A forgotten key may be sent again; a forwarded one stays a duplicate.
    _, retried = records.ingest_usage([usage("sub_a", "k3"), usage("sub_a", "k1")], NOW)
    assert retried == {0}
    [other] = records.pending_usage(["sub_b"])
    assert (other.quantity, str(other.quantity)) == (Decimal(3), "3")
