"""Subscription records: upserted from workflow state, listed newest first."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from store_testing import T0

from errors import InvalidInput, NotFound
from models.billing import SubscriptionState, SubscriptionStatus
from store.catalog import Catalog

MARCH = datetime(2025, 3, 1, tzinfo=UTC)
APRIL = datetime(2025, 4, 1, tzinfo=UTC)
MAY = datetime(2025, 5, 1, tzinfo=UTC)
TICK = timedelta(microseconds=1)


def _state(
    subscription_id: str = "sub_1", customer_id: str = "acme", **changes: object
) -> SubscriptionState:
    state = SubscriptionState(
        subscription_id=subscription_id,
        customer_id=customer_id,
        plan_id="plan_1",
        plan_version_id="plan_version_1",
        status=SubscriptionStatus.ACTIVE,
        auto_renew=True,
        sequence=0,
        period_start=MARCH,
        period_end=APRIL - TICK,
    )
    return state.model_copy(update=changes)


def test_record_then_get(catalog: Catalog) -> None:
    catalog.record_subscription(_state(), T0)
    assert catalog.get_subscription("sub_1") == _state()


def test_recording_again_updates_the_record(catalog: Catalog) -> None:
    catalog.record_subscription(_state(), T0)
    cancelled = _state(status=SubscriptionStatus.CANCELLED, auto_renew=False)
    catalog.record_subscription(cancelled, T0 + timedelta(days=3))
    assert catalog.get_subscription("sub_1") == cancelled
    renewed = _state(
        sequence=1,
        plan_version_id="plan_version_2",
        period_start=APRIL,
        period_end=MAY - TICK,
    )
    catalog.record_subscription(renewed, T0 + timedelta(days=31))
    assert catalog.get_subscription("sub_1") == renewed
    assert catalog.list_subscriptions() == [renewed]


def test_a_late_state_of_an_earlier_period_is_ignored(catalog: Catalog) -> None:
    renewed = _state(sequence=1, period_start=APRIL, period_end=MAY - TICK)
    catalog.record_subscription(renewed, T0 + timedelta(days=31))
    catalog.record_subscription(_state(status=SubscriptionStatus.ENDED), T0 + timedelta(days=32))
    assert catalog.get_subscription("sub_1") == renewed


def test_period_bounds_keep_their_instant(catalog: Catalog) -> None:
    paris = ZoneInfo("Europe/Paris")
    start = datetime(2025, 3, 1, tzinfo=paris)
    catalog.record_subscription(
        _state(period_start=start, period_end=start + timedelta(days=31)), T0
    )
    stored = catalog.get_subscription("sub_1")
    assert stored.period_start == start
    assert stored.period_start.utcoffset() == timedelta(0)


def test_usage_stays_in_the_workflow(catalog: Catalog) -> None:
    catalog.record_subscription(_state(usage={"metric_1": Decimal(5)}, alerts_fired=["a"]), T0)
    stored = catalog.get_subscription("sub_1")
    assert (stored.usage, stored.alerts_fired, stored.invoice_ids) == ({}, [], [])


def test_list_is_newest_first_and_filters(catalog: Catalog) -> None:
    catalog.record_subscription(_state("sub_old", "acme"), T0)
    catalog.record_subscription(
        _state("sub_mid", "globex", status=SubscriptionStatus.ENDED), T0 + timedelta(hours=1)
    )
    catalog.record_subscription(_state("sub_new", "acme"), T0 + timedelta(hours=2))
    # An update keeps a record's place: it is ordered by when it was first recorded.
    catalog.record_subscription(_state("sub_old", "acme", auto_renew=False), T0 + timedelta(days=1))

    def ids(**filters: object) -> list[str]:
        return [s.subscription_id for s in catalog.list_subscriptions(**filters)]  # type: ignore[arg-type]

    assert ids() == ["sub_new", "sub_mid", "sub_old"]
    assert ids(customer_id="acme") == ["sub_new", "sub_old"]
    assert ids(status=SubscriptionStatus.ENDED) == ["sub_mid"]
    assert ids(customer_id="acme", status=SubscriptionStatus.ACTIVE) == ["sub_new", "sub_old"]
    assert ids(customer_id="nobody") == []


def test_unknown_subscription_is_not_found(catalog: Catalog) -> None:
    with pytest.raises(NotFound) as raised:
        catalog.get_subscription("sub_nope")
    assert str(raised.value) == (
        "no subscription sub_nope; list them with: billhook subscription list"
    )


def test_naive_period_bound_is_refused(
    catalog: Catalog, catalog_rows: Callable[[], dict[str, int]]
) -> None:
    with pytest.raises(InvalidInput) as raised:
        catalog.record_subscription(_state(period_start=datetime(2025, 3, 1)), T0)
    assert str(raised.value) == (
        "the period start 2025-03-01 00:00:00 has no timezone; give an aware datetime"
    )
    assert set(catalog_rows().values()) == {0}
