"""Endpoints: creation, validation that writes nothing, updates, secrets and their rotation."""

from __future__ import annotations

import base64
import re
from datetime import UTC, datetime, timedelta, timezone

import pytest
from store_testing import T0, claimed, plan, record_attempt

from errors import InvalidSecret, InvalidUrl, NotFound, UnknownEventType
from models.delivery import DisabledReason, EndpointStatus
from models.events import EventType
from store import Store
from store.validation import endpoint_host

LOTUS_SECRET = "whsec_" + "0123456789abcdef0123456789abcdef"
GRACE = timedelta(hours=24)


def test_create_endpoint_defaults(store: Store) -> None:
    endpoint, secret = store.create_endpoint(
        "https://hooks.example.com/billing", ["invoice.paid", "invoice.created"], T0
    )
    assert re.fullmatch(r"whend_[0-9a-f]{32}", endpoint.id)
    assert re.fullmatch(r"whsec_[A-Za-z0-9+/]{32}", secret)
    assert len(base64.b64decode(secret.removeprefix("whsec_"))) == 24
    stored = store.get_endpoint(endpoint.id)
    assert stored.name == "hooks.example.com"
    assert stored.url == "https://hooks.example.com/billing"
    assert stored.event_types == ["invoice.paid", "invoice.created"]
    assert stored.status == EndpointStatus.ENABLED
    assert stored.disabled_reason is None
    assert stored.failing_since is None
    assert stored.created_at == T0
    assert store.reveal_secret(endpoint.id) == secret


def test_generated_secrets_differ(store: Store) -> None:
    _, first = store.create_endpoint("https://a.example/hook", ["invoice.paid"], T0)
    _, second = store.create_endpoint("https://a.example/hook", ["invoice.paid"], T0)
    assert first != second


def test_create_endpoint_with_name_and_lotus_secret_keeps_it_unchanged(store: Store) -> None:
    endpoint, secret = store.create_endpoint(
        "http://localhost:8000/lotus", ["customer.created"], T0, name="lotus", secret=LOTUS_SECRET
    )
    assert secret == LOTUS_SECRET
    assert endpoint.name == "lotus"
    assert store.reveal_secret(endpoint.id) == LOTUS_SECRET
    assert store.signing_secrets(endpoint.id, T0) == [LOTUS_SECRET]


def test_list_endpoints_oldest_first(store: Store) -> None:
    later, _ = store.create_endpoint("https://b.example/", ["invoice.paid"], T0 + timedelta(1))
    earlier, _ = store.create_endpoint("https://a.example/", ["invoice.paid"], T0)
    assert [endpoint.id for endpoint in store.list_endpoints()] == [earlier.id, later.id]


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("ftp://files.example.com/hook", "must use http or https, not 'ftp'"),
        ("files.example.com/hook", "must use http or https, not 'no scheme'"),
        ("https:///hook", "has no host"),
        ("https://example.com:99999/hook", "cannot be parsed"),
        ("https://exa mple.com/hook", "contains whitespace"),
    ],
)
def test_invalid_url_names_it_and_writes_nothing(store: Store, url: str, expected: str) -> None:
    with pytest.raises(InvalidUrl) as raised:
        store.create_endpoint(url, ["invoice.paid"], T0)
    assert expected in str(raised.value)
    assert repr(url) in str(raised.value)
    assert store.list_endpoints() == []


def test_invalid_url_masks_a_password() -> None:
    with pytest.raises(InvalidUrl) as raised:
        endpoint_host("ftp://user:s3cret@example.com/")
    assert "s3cret" not in str(raised.value)
    assert "'ftp://user:***@example.com/'" in str(raised.value)


def test_unknown_event_type_lists_valid_ones_and_writes_nothing(store: Store) -> None:
    with pytest.raises(UnknownEventType) as raised:
        store.create_endpoint("https://a.example/", ["invoice.paid", "invoice.exploded"], T0)
    message = str(raised.value)
    assert "'invoice.exploded'" in message
    assert all(event_type.value in message for event_type in EventType)
    with pytest.raises(UnknownEventType, match="at least one event type"):
        store.create_endpoint("https://a.example/", [], T0)
    assert store.list_endpoints() == []


@pytest.mark.parametrize(
    "secret",
    [
        "sk_live_0123456789abcdef0123456789abcdef",  # no whsec_ prefix
        "whsec_not*base64*at*all*but*long*enough",  # not base64
        "whsec_" + base64.b64encode(b"short-key").decode(),  # 9 bytes
        "whsec_",
    ],
)
def test_invalid_secret_is_not_quoted_and_writes_nothing(store: Store, secret: str) -> None:
    with pytest.raises(InvalidSecret) as raised:
        store.create_endpoint("https://a.example/", ["invoice.paid"], T0, secret=secret)
    message = str(raised.value)
    assert message.startswith("invalid signing secret: ")
    if key_text := secret.removeprefix("whsec_"):  # the bare prefix is no secret
        assert key_text not in message
    # Nor in a chained exception a traceback would print.
    assert raised.value.__cause__ is None
    assert raised.value.__context__ is None or raised.value.__suppress_context__
    assert store.list_endpoints() == []


def test_unknown_endpoint_is_not_found_everywhere(store: Store) -> None:
    missing = "whend_" + "0" * 32
    expected = f"no endpoint {missing}; list them with: billhook endpoint list"
    calls = [
        lambda: store.get_endpoint(missing),
        lambda: store.update_endpoint(missing, T0, name="x"),
        lambda: store.enable_endpoint(missing, T0),
        lambda: store.disable_endpoint(missing, DisabledReason.MANUAL, T0),
        lambda: store.delete_endpoint(missing),
        lambda: store.rotate_secret(missing, T0, GRACE),
        lambda: store.reveal_secret(missing),
        lambda: store.signing_secrets(missing, T0),
        lambda: store.recoverable_messages(missing, T0),
    ]
    for call in calls:
        with pytest.raises(NotFound) as raised:
            call()
        assert str(raised.value) == expected


def test_update_endpoint_changes_what_is_given(store: Store) -> None:
    endpoint, _ = store.create_endpoint("https://a.example/", ["invoice.paid"], T0, name="a")
    later = T0 + timedelta(hours=1)
    updated = store.update_endpoint(
        endpoint.id, later, url="https://b.example/v2", event_types=["invoice.created"]
    )
    assert (updated.url, updated.event_types, updated.name) == (
        "https://b.example/v2",
        ["invoice.created"],
        "a",
    )
    assert updated.updated_at == later
    renamed = store.update_endpoint(endpoint.id, later, name="")
    assert renamed.name == "b.example"
    assert store.get_endpoint(endpoint.id).event_types == ["invoice.created"]


def test_update_endpoint_validates_and_writes_nothing(store: Store) -> None:
    endpoint, _ = store.create_endpoint("https://a.example/", ["invoice.paid"], T0)
    with pytest.raises(InvalidUrl):
        store.update_endpoint(endpoint.id, T0, url="ftp://a.example/", name="renamed")
    with pytest.raises(UnknownEventType):
        store.update_endpoint(endpoint.id, T0, event_types=["nope"], name="renamed")
    stored = store.get_endpoint(endpoint.id)
    assert (stored.url, stored.event_types, stored.name) == (
        "https://a.example/",
        ["invoice.paid"],
        "a.example",
    )


def test_disable_and_enable(store: Store) -> None:
    endpoint, _ = store.create_endpoint("https://a.example/", ["invoice.paid"], T0)
    disabled = store.disable_endpoint(endpoint.id, DisabledReason.MANUAL, T0)
    assert (disabled.status, disabled.disabled_reason) == (
        EndpointStatus.DISABLED,
        DisabledReason.MANUAL,
    )
    enabled = store.enable_endpoint(endpoint.id, T0 + timedelta(minutes=1))
    assert (enabled.status, enabled.disabled_reason, enabled.failing_since) == (
        EndpointStatus.ENABLED,
        None,
        None,
    )
    assert store.get_endpoint(endpoint.id).status == EndpointStatus.ENABLED


def test_delete_endpoint_cascades(store: Store) -> None:
    endpoint, _ = store.create_endpoint("https://a.example/", ["invoice.paid"], T0)
    assert plan(store, "msg_1") == [endpoint.id]
    plan(store, "msg_2")
    record_attempt(store, "msg_1", endpoint.id)
    claimed(store, "msg_2", endpoint.id)  # one still in flight
    store.delete_endpoint(endpoint.id)
    assert store.list_endpoints() == []
    assert store.deliveries_for_message("msg_1") == []
    assert store.list_attempts() == []
    with pytest.raises(NotFound):
        store.reveal_secret(endpoint.id)


def test_rotation_keeps_the_old_secret_valid_for_the_grace(store: Store) -> None:
    endpoint, old = store.create_endpoint("https://a.example/", ["invoice.paid"], T0)
    rotated_at = T0 + timedelta(hours=1)
    new = store.rotate_secret(endpoint.id, rotated_at, GRACE)
    assert new != old
    assert new.startswith("whsec_")
    assert store.reveal_secret(endpoint.id) == new
    assert store.signing_secrets(endpoint.id, rotated_at) == [new, old]
    assert store.signing_secrets(endpoint.id, rotated_at + GRACE - timedelta(seconds=1)) == [
        new,
        old,
    ]
    assert store.signing_secrets(endpoint.id, rotated_at + GRACE) == [new]


def test_rotation_to_a_given_secret_and_twice_within_grace(store: Store) -> None:
    endpoint, first = store.create_endpoint("https://a.example/", ["invoice.paid"], T0)
    second = store.rotate_secret(endpoint.id, T0 + timedelta(hours=1), GRACE, LOTUS_SECRET)
    third = store.rotate_secret(endpoint.id, T0 + timedelta(hours=2), GRACE)
    assert second == LOTUS_SECRET
    assert store.signing_secrets(endpoint.id, T0 + timedelta(hours=3)) == [third, second, first]
    assert store.signing_secrets(endpoint.id, T0 + timedelta(hours=25)) == [third, second]
    assert store.signing_secrets(endpoint.id, T0 + timedelta(hours=26)) == [third]


def test_rotation_to_a_bad_secret_changes_nothing(store: Store) -> None:
    endpoint, secret = store.create_endpoint("https://a.example/", ["invoice.paid"], T0)
    with pytest.raises(InvalidSecret):
        store.rotate_secret(endpoint.id, T0, GRACE, "whsec_???")
    assert store.signing_secrets(endpoint.id, T0 + timedelta(days=30)) == [secret]


def test_times_come_back_as_aware_utc(store: Store) -> None:
    paris = timezone(timedelta(hours=2))
    local = datetime(2025, 6, 1, 14, 30, 15, 123456, tzinfo=paris)
    endpoint, _ = store.create_endpoint("https://a.example/", ["invoice.paid"], local)
    stored = store.get_endpoint(endpoint.id)
    assert stored.created_at == local
    assert stored.created_at.tzinfo is UTC
    assert stored.created_at.isoformat() == "2025-06-01T12:30:15.123456+00:00"
