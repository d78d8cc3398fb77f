"""Which dispatcher an event goes to: a subscription's events together, the rest spread."""

from __future__ import annotations

import subprocess
import sys
import uuid
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pytest

from models.delivery import Event, SearchKeys, shard_of
from models.events import EventType

ROOT = Path(__file__).resolve().parents[2]
NOW = datetime(2026, 12, 1, tzinfo=UTC)


def event(event_type: EventType, key: str, search: SearchKeys | None = None) -> Event:
    return Event.for_event(event_type, key, {}, NOW, search)


@pytest.mark.parametrize("shards", [2, 3, 4, 16, 64])
def test_a_renewals_events_share_a_dispatcher(shards: int) -> None:
    # subscription.renewed and invoice.created of one renewal: one signal, one batch.
    for n in range(50):
        keys = SearchKeys(customer_id=f"cus_{n}", subscription_id=f"sub_{n}")
        renewed = event(EventType.SUBSCRIPTION_RENEWED, f"sub_{n}:period:1", keys)
        keys_of_invoice = keys.model_copy(update={"invoice_id": f"invoice_{n}"})
        created = event(EventType.INVOICE_CREATED, f"invoice_{n}", keys_of_invoice)
        assert renewed.message_id != created.message_id
        assert shard_of(renewed, shards) == shard_of(created, shards)


def test_subscriptions_and_keyless_events_spread_evenly() -> None:
    subscriptions = Counter(
        shard_of(event(EventType.SUBSCRIPTION_RENEWED, "k", SearchKeys(subscription_id=s)), 4)
        for s in (f"sub_{uuid.uuid4().hex}" for _ in range(4000))
    )
    keyless = Counter(
        shard_of(event(EventType.INVOICE_CREATED, uuid.uuid4().hex), 4) for _ in range(4000)
    )
    for spread in (subscriptions, keyless):
        assert sorted(spread) == [0, 1, 2, 3]
        assert all(800 <= n <= 1200 for n in spread.values()), spread


def test_events_of_a_customer_without_a_subscription_share_a_dispatcher() -> None:
    for n in range(50):
        keys = SearchKeys(customer_id=f"cus_{n}")
        created = event(EventType.CUSTOMER_CREATED, f"cus_{n}", keys)
        alert = event(EventType.USAGE_ALERT_TRIGGERED, f"alert_{n}", keys)
        assert shard_of(created, 16) == shard_of(alert, 16)


def test_the_shard_is_the_same_in_every_process() -> None:
    # Two emitters of one event (a retried step, a second worker) must pick one dispatcher,
    # which drops the second emission while the first is queued: no per-process hash().
    keys = SearchKeys(subscription_id="sub_0123")
    renewed = event(EventType.SUBSCRIPTION_RENEWED, "sub_0123:period:1", keys)
    code = (
        "from datetime import UTC, datetime\n"
        "from models.delivery import Event, SearchKeys, shard_of\n"
        "from models.events import EventType\n"
        "e = Event.for_event(EventType.SUBSCRIPTION_RENEWED, 'sub_0123:period:1', {},"
        " datetime(2026, 12, 1, tzinfo=UTC), SearchKeys(subscription_id='sub_0123'))\n"
        "print(shard_of(e, 16))\n"
    )
    other = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT
    ).stdout
    assert int(other) == shard_of(renewed, 16) == 12
