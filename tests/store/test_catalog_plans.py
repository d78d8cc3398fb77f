"""Metrics, plans and their versions, usage alerts: stored whole, versioned, checked first."""

from __future__ import annotations

import re
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from store_testing import T0

from errors import InvalidInput, NotFound
from models.billing import (
    Aggregation,
    AlertSnapshot,
    ChargeTiming,
    FlatCharge,
    MetricSnapshot,
    PlanVersionSnapshot,
    UsageComponent,
)
from store.catalog import Catalog, ComponentSpec, PlanVersionSpec

HEX_ID = "[0-9a-f]{32}"
Rows = Callable[[], dict[str, int]]


def _metrics(catalog: Catalog) -> tuple[MetricSnapshot, MetricSnapshot]:
    calls = catalog.create_metric("API calls", "api_call", Aggregation.COUNT, T0)
    gigabytes = catalog.create_metric(
        "Storage", "storage_used", Aggregation.SUM, T0, property_name="gb"
    )
    return calls, gigabytes


def _spec(*components: ComponentSpec, **changes: Any) -> PlanVersionSpec:
    fields: dict[str, Any] = {
        "currency": "EUR",
        "period": "monthly",
        "flat_amount": Decimal("49.99"),
        "flat_timing": ChargeTiming.IN_ARREARS,
        "components": list(components),
        "net_terms_days": 14,
    }
    return PlanVersionSpec(**(fields | changes))


# Metrics -------------------------------------------------------------------------------------
def test_metrics_are_created_read_and_listed(catalog: Catalog) -> None:
    calls, gigabytes = _metrics(catalog)
    assert re.fullmatch(f"metric_{HEX_ID}", calls.metric_id)
    assert calls == MetricSnapshot(
        metric_id=calls.metric_id,
        name="API calls",
        event_name="api_call",
        aggregation=Aggregation.COUNT,
        property_name=None,
    )
    assert gigabytes.aggregation == Aggregation.SUM
    assert gigabytes.property_name == "gb"
    assert {m.metric_id: m for m in catalog.list_metrics()} == {
        calls.metric_id: calls,
        gigabytes.metric_id: gigabytes,
    }


def test_metrics_list_oldest_first_and_accept_plain_aggregation_strings(catalog: Catalog) -> None:
    later = catalog.create_metric("b", "b", "sum", T0 + timedelta(seconds=1))  # type: ignore[arg-type]
    earlier = catalog.create_metric("a", "a", "count", T0)  # type: ignore[arg-type]
    assert later.aggregation == Aggregation.SUM
    assert catalog.list_metrics() == [earlier, later]


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (("", "api_call", "count"), "the metric name is empty; give a metric name"),
        (("Calls", " ", "count"), "the event name is empty; give a event name"),
        (("Calls", "api_call", "max"), "unknown aggregation 'max'; use one of: count, sum"),
    ],
)
def test_bad_metric_is_refused_and_writes_nothing(
    catalog: Catalog, catalog_rows: Rows, arguments: tuple[str, str, str], message: str
) -> None:
    name, event_name, aggregation = arguments
    with pytest.raises(InvalidInput) as raised:
        catalog.create_metric(name, event_name, aggregation, T0)  # type: ignore[arg-type]
    assert str(raised.value) == message
    assert set(catalog_rows().values()) == {0}


def test_empty_property_name_is_refused(catalog: Catalog, catalog_rows: Rows) -> None:
    with pytest.raises(InvalidInput, match="the property is empty"):
        catalog.create_metric("Storage", "storage", Aggregation.SUM, T0, property_name="")
    assert set(catalog_rows().values()) == {0}


# Plans and versions --------------------------------------------------------------------------
def test_create_plan_makes_version_1_with_full_metrics(catalog: Catalog) -> None:
    calls, gigabytes = _metrics(catalog)
    spec = _spec(
        ComponentSpec(metric_id=gigabytes.metric_id, unit_price=Decimal("0.25")),
        ComponentSpec(
            metric_id=calls.metric_id, unit_price=Decimal("0.001"), free_units=Decimal(1000)
        ),
    )
    created = catalog.create_plan("Pro", spec, T0)
    assert re.fullmatch(f"plan_{HEX_ID}", created.plan_id)
    assert re.fullmatch(f"plan_version_{HEX_ID}", created.version_id)
    assert created == PlanVersionSnapshot(
        plan_id=created.plan_id,
        plan_name="Pro",
        version_id=created.version_id,
        version=1,
        currency="EUR",
        period="monthly",
        flat_charge=FlatCharge(amount=Decimal("49.99"), timing=ChargeTiming.IN_ARREARS),
        # In the order given, each with its whole metric.
        components=[
            UsageComponent(metric=gigabytes, unit_price=Decimal("0.25"), free_units=Decimal(0)),
            UsageComponent(metric=calls, unit_price=Decimal("0.001"), free_units=Decimal(1000)),
        ],
        net_terms_days=14,
        alerts=[],
    )
    assert catalog.get_version(created.version_id) == created
    assert catalog.latest_version(created.plan_id) == created
    assert catalog.plan_versions(created.plan_id) == [created]


def test_plan_without_flat_charge_or_components(catalog: Catalog) -> None:
    spec = PlanVersionSpec(period="PT1M")
    created = catalog.create_plan("Free", spec, T0)
    stored = catalog.get_version(created.version_id)
    assert stored.flat_charge is None
    assert stored.components == []
    # No net terms: the organization's apply, else its invoices have no due date.
    assert (stored.currency, stored.period, stored.net_terms_days) == ("USD", "PT1M", None)


def test_components_can_be_given_as_tuples(catalog: Catalog) -> None:
    calls, gigabytes = _metrics(catalog)
    spec = PlanVersionSpec.model_validate(
        {
            "components": [
                (calls.metric_id, "0.01"),
                (gigabytes.metric_id, Decimal("2"), Decimal("5")),
            ]
        }
    )
    created = catalog.create_plan("Tuples", spec, T0)
    assert [(c.metric.metric_id, c.unit_price, c.free_units) for c in created.components] == [
        (calls.metric_id, Decimal("0.01"), Decimal(0)),
        (gigabytes.metric_id, Decimal(2), Decimal(5)),
    ]


def test_decimals_round_trip_exactly(catalog: Catalog) -> None:
    calls, gigabytes = _metrics(catalog)
    # 20 significant digits: more than a float (or SQLite's NUMERIC) keeps.
    largest = Decimal("99999999999999.999999")
    spec = _spec(
        ComponentSpec(
            metric_id=calls.metric_id, unit_price=Decimal("0.000001"), free_units=largest
        ),
        ComponentSpec(metric_id=gigabytes.metric_id, unit_price=Decimal("12345678901234.567891")),
        flat_amount=Decimal("0.1"),
    )
    version = catalog.get_version(catalog.create_plan("Exact", spec, T0).version_id)
    assert version.flat_charge is not None
    assert version.flat_charge.amount == Decimal("0.1")
    first, second = version.components
    assert (first.unit_price, first.free_units) == (Decimal("0.000001"), largest)
    assert str(first.free_units) == "99999999999999.999999"
    assert second.unit_price == Decimal("12345678901234.567891")
    alert = catalog.create_alert(calls.metric_id, version.version_id, Decimal("0.333333"), T0)
    assert catalog.list_alerts(version.version_id)[0].threshold == Decimal("0.333333")
    assert alert.threshold == Decimal("0.333333")


def test_new_versions_increment_and_latest_is_the_newest(catalog: Catalog) -> None:
    calls, gigabytes = _metrics(catalog)
    v1 = catalog.create_plan(
        "Pro", _spec(ComponentSpec(metric_id=calls.metric_id, unit_price=1)), T0
    )
    v2 = catalog.new_plan_version(
        v1.plan_id,
        _spec(ComponentSpec(metric_id=gigabytes.metric_id, unit_price=2), flat_amount=None),
        T0 + timedelta(days=1),
    )
    v3 = catalog.new_plan_version(v1.plan_id, _spec(currency="USD"), T0 + timedelta(days=2))
    assert [v.version for v in (v1, v2, v3)] == [1, 2, 3]
    assert len({v1.version_id, v2.version_id, v3.version_id}) == 3
    assert {v.plan_id for v in (v2, v3)} == {v1.plan_id}
    assert {v.plan_name for v in (v2, v3)} == {"Pro"}
    assert catalog.latest_version(v1.plan_id) == v3
    assert catalog.plan_versions(v1.plan_id) == [v1, v2, v3]
    # Versions are immutable: the old ones still hold what they held.
    assert catalog.get_version(v1.version_id) == v1
    assert catalog.get_version(v2.version_id).flat_charge is None
    assert [c.metric for c in catalog.get_version(v2.version_id).components] == [gigabytes]


def test_list_plans_gives_the_latest_version_of_each_plan(catalog: Catalog) -> None:
    basic = catalog.create_plan("Basic", _spec(), T0)
    pro = catalog.create_plan("Pro", _spec(), T0 + timedelta(seconds=1))
    pro_v2 = catalog.new_plan_version(pro.plan_id, _spec(flat_amount=Decimal(99)), T0)
    assert catalog.list_plans() == [basic, pro_v2]


def test_concurrent_new_versions_get_distinct_numbers(catalog: Catalog) -> None:
    plan = catalog.create_plan("Busy", _spec(), T0)
    with ThreadPoolExecutor(max_workers=6) as pool:
        versions = list(
            pool.map(lambda _: catalog.new_plan_version(plan.plan_id, _spec(), T0), range(12))
        )
    assert sorted(v.version for v in versions) == list(range(2, 14))
    assert catalog.latest_version(plan.plan_id).version == 13


def test_unknown_plan_or_version_is_not_found(catalog: Catalog) -> None:
    expected = "no plan plan_nope; list them with: billhook plan list"
    for call in (
        lambda: catalog.latest_version("plan_nope"),
        lambda: catalog.plan_versions("plan_nope"),
        lambda: catalog.new_plan_version("plan_nope", _spec(), T0),
    ):
        with pytest.raises(NotFound) as raised:
            call()
        assert str(raised.value) == expected
    with pytest.raises(NotFound) as raised:
        catalog.get_version("plan_version_nope")
    assert str(raised.value) == (
        "no plan version plan_version_nope; list them with: billhook plan list"
    )


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"currency": "eur"}, "currency 'eur' must be 3 upper-case letters, like USD or EUR"),
        ({"period": "fortnightly"}, "invalid billing period 'fortnightly': use monthly"),
        ({"period": "P0D"}, "billing period 'P0D'"),
        ({"flat_amount": Decimal("-0.01")}, "the flat amount is -0.01; give a number 0 or more"),
        ({"flat_amount": Decimal("1E+14")}, "the flat amount 1E+14 is too large"),
        ({"net_terms_days": -3}, "net terms of -3 days are negative; give 0 days or more"),
    ],
)
def test_bad_spec_is_refused_and_writes_nothing(
    catalog: Catalog, catalog_rows: Rows, changes: dict[str, Any], message: str
) -> None:
    plan = catalog.create_plan("Pro", _spec(), T0)
    before = catalog_rows()
    for call in (
        lambda: catalog.create_plan("Other", _spec(**changes), T0),
        lambda: catalog.new_plan_version(plan.plan_id, _spec(**changes), T0),
    ):
        with pytest.raises(InvalidInput) as raised:
            call()
        assert message in str(raised.value)
        assert "\n" not in str(raised.value)
    assert catalog_rows() == before
    assert catalog.latest_version(plan.plan_id) == plan


@pytest.mark.parametrize(
    ("component", "message"),
    [
        ({"unit_price": Decimal("-1")}, "the unit price of {calls} is -1; give a number 0 or more"),
        ({"free_units": Decimal("-5")}, "the free units of {calls} is -5; give a number 0 or more"),
        (
            {"unit_price": Decimal("0.0000001")},
            "the unit price of {calls} 1E-7 has more than 6 decimal places; round it to 6",
        ),
        (
            {"metric_id": "metric_ghost"},
            "unknown metric metric_ghost; create it first, or list them with: billhook metric list",
        ),
    ],
)
def test_bad_component_is_refused_and_writes_nothing(
    catalog: Catalog, catalog_rows: Rows, component: dict[str, Any], message: str
) -> None:
    calls, _ = _metrics(catalog)
    plan = catalog.create_plan("Pro", _spec(), T0)
    before = catalog_rows()
    bad = ComponentSpec(**({"metric_id": calls.metric_id, "unit_price": Decimal(1)} | component))
    for call in (
        lambda: catalog.create_plan("Other", _spec(bad), T0),
        lambda: catalog.new_plan_version(plan.plan_id, _spec(bad), T0),
    ):
        with pytest.raises(InvalidInput) as raised:
            call()
        assert str(raised.value) == message.format(calls=calls.metric_id)
    assert catalog_rows() == before


def test_a_metric_twice_is_refused(catalog: Catalog, catalog_rows: Rows) -> None:
    calls, _ = _metrics(catalog)
    before = catalog_rows()
    twice = [ComponentSpec(metric_id=calls.metric_id, unit_price=Decimal(n)) for n in (1, 2)]
    with pytest.raises(InvalidInput) as raised:
        catalog.create_plan("Twice", _spec(*twice), T0)
    assert str(raised.value) == (
        f"metric {calls.metric_id} is in two components; give each metric one"
    )
    assert catalog_rows() == before


def test_empty_plan_name_is_refused(catalog: Catalog, catalog_rows: Rows) -> None:
    with pytest.raises(InvalidInput, match="the plan name is empty"):
        catalog.create_plan("", _spec(), T0)
    assert set(catalog_rows().values()) == {0}


# Usage alerts --------------------------------------------------------------------------------
def test_alerts_belong_to_their_version(catalog: Catalog) -> None:
    calls, gigabytes = _metrics(catalog)
    components = [ComponentSpec(metric_id=m.metric_id, unit_price=1) for m in (calls, gigabytes)]
    v1 = catalog.create_plan("Pro", _spec(*components), T0)
    v2 = catalog.new_plan_version(v1.plan_id, _spec(*components), T0)
    first = catalog.create_alert(calls.metric_id, v1.version_id, Decimal(1000), T0)
    second = catalog.create_alert(
        gigabytes.metric_id, v1.version_id, Decimal("2.5"), T0 + timedelta(seconds=1)
    )
    other = catalog.create_alert(calls.metric_id, v2.version_id, Decimal(10), T0)
    assert re.fullmatch(f"usg_alert_{HEX_ID}", first.alert_id)
    assert first == AlertSnapshot(
        alert_id=first.alert_id, metric_id=calls.metric_id, threshold=Decimal(1000)
    )
    assert catalog.get_version(v1.version_id).alerts == [first, second]
    assert catalog.get_version(v2.version_id).alerts == [other]
    assert catalog.list_alerts(v1.version_id) == [first, second]
    assert catalog.list_alerts(v2.version_id) == [other]
    assert {a.alert_id for a in catalog.list_alerts()} == {
        first.alert_id,
        second.alert_id,
        other.alert_id,
    }
    assert catalog.latest_version(v1.plan_id).alerts == [other]
    assert catalog.list_plans()[0].alerts == [other]


def test_alert_on_a_metric_the_version_does_not_bill_is_refused(
    catalog: Catalog, catalog_rows: Rows
) -> None:
    calls, gigabytes = _metrics(catalog)
    version = catalog.create_plan(
        "Pro", _spec(ComponentSpec(metric_id=calls.metric_id, unit_price=1)), T0
    )
    before = catalog_rows()
    for metric_id in (gigabytes.metric_id, "metric_ghost"):
        with pytest.raises(InvalidInput) as raised:
            catalog.create_alert(metric_id, version.version_id, Decimal(5), T0)
        assert str(raised.value) == (
            f"metric {metric_id} is not a usage component of plan version "
            f"{version.version_id}; alert on one of its metrics ({calls.metric_id})"
        )
    assert catalog_rows() == before
    assert catalog.list_alerts() == []


@pytest.mark.parametrize(
    ("threshold", "message"),
    [
        (Decimal(0), "the alert threshold is 0; give a number greater than 0"),
        (Decimal(-1), "the alert threshold is -1; give a number greater than 0"),
        (Decimal("1.0000001"), "the alert threshold 1.0000001 has more than 6 decimal places"),
        (Decimal("NaN"), "the alert threshold is NaN; give a number greater than 0"),
    ],
)
def test_bad_threshold_is_refused(
    catalog: Catalog, catalog_rows: Rows, threshold: Decimal, message: str
) -> None:
    calls, _ = _metrics(catalog)
    version = catalog.create_plan(
        "Pro", _spec(ComponentSpec(metric_id=calls.metric_id, unit_price=1)), T0
    )
    before = catalog_rows()
    with pytest.raises(InvalidInput) as raised:
        catalog.create_alert(calls.metric_id, version.version_id, threshold, T0)
    assert message in str(raised.value)
    assert catalog_rows() == before


def test_alerts_of_an_unknown_version_are_not_found(catalog: Catalog) -> None:
    calls, _ = _metrics(catalog)
    for call in (
        lambda: catalog.create_alert(calls.metric_id, "plan_version_nope", Decimal(1), T0),
        lambda: catalog.list_alerts("plan_version_nope"),
    ):
        with pytest.raises(NotFound, match="no plan version plan_version_nope"):
            call()
