"""``billhook demo`` on the real dev server: every event arrives, verified, in order."""

from __future__ import annotations

import asyncio
import re
from collections import Counter

import pytest
from temporalio.testing import WorkflowEnvironment

import config
from config import Settings
from models.billing import PaymentStatus, SubscriptionStatus
from models.delivery import EndpointStatus
from models.events import EventType
from starter import demo_story
from store import Store
from store.catalog import Catalog
from tests.conftest import RunWorker
from tests.starter.conftest import Cli

EVENT = re.compile(r"\b(customer|subscription|invoice|usage_alert)\.[a-z_]+\b")


@pytest.fixture
def demo_cli(
    cli: Cli, dev_env: WorkflowEnvironment, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> Cli:
    """``billhook`` pointed at the dev server and the test's own task queue."""
    monkeypatch.setenv(
        "BILLHOOK_TEMPORAL_ADDRESS", dev_env.client.service_client.config.target_host
    )
    monkeypatch.setenv("BILLHOOK_TASK_QUEUE", settings.task_queue)
    config.get_settings.cache_clear()
    return cli


def in_order(types: list[str], *expected: str) -> bool:
    """Whether ``expected`` occur in ``types`` in this order (others may come between)."""
    remaining = iter(types)
    return all(event_type in remaining for event_type in expected)


@pytest.mark.timeout(120)
async def test_the_demo_shows_every_event_in_order(
    demo_cli: Cli,
    dev_env: WorkflowEnvironment,
    settings: Settings,
    run_worker: RunWorker,
    store: Store,
) -> None:
    async with run_worker(dev_env.client, settings):
        result = await asyncio.to_thread(demo_cli, "demo", "--period", "PT5S")

    assert result.code == 0, result.err
    assert re.search(r"^period 1 of 3 ends in \d+ s$", result.err, re.MULTILINE)
    story, summary = result.out.split("each verified, in this order:")
    assert "14 events received" in story
    assert story.count("✓ verified") == 14
    rows = summary.strip().splitlines()[2:16]
    types = [found.group(0) for row in rows if (found := EVENT.search(row))]
    assert len(types) == 14
    assert set(types) == {t.value for t in EventType}
    assert in_order(types, "customer.created", "subscription.created", "usage_alert.triggered")
    assert in_order(types, "invoice.created", "invoice.past_due", "invoice.paid")
    assert in_order(types, "subscription.renewed", "subscription.renewed", "subscription.cancelled")
    counts = Counter(types)
    assert [counts[f"invoice.{name}"] for name in ("created", "past_due", "paid")] == [4, 3, 1]
    assert all(re.search(r"\s1\s+msg_[0-9a-f]{32}\s", row) for row in rows)  # attempt 1 each

    # Nothing is left running: the subscription ended, no invoice waits, the endpoint is off.
    catalog = Catalog(store.engine)
    [subscription] = catalog.list_subscriptions()
    assert subscription.status is SubscriptionStatus.ENDED and subscription.sequence == 2
    statuses = sorted(i.payment_status for i in catalog.list_invoices())
    assert statuses == [PaymentStatus.PAID] * 2 + [PaymentStatus.VOIDED] * 2
    [endpoint] = store.list_endpoints()
    assert endpoint.status is EndpointStatus.DISABLED


async def test_the_demo_says_when_no_worker_runs(
    demo_cli: Cli, store: Store, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(demo_story, "EVENT_SECONDS", 1.0)

    result = await asyncio.to_thread(demo_cli, "demo", "--period", "PT5S")

    assert result.code == 1
    assert result.err.endswith(
        f"error: no worker answered on task queue {settings.task_queue} within 1 s; "
        "is `make run` up?\n"
    )
    [endpoint] = store.list_endpoints()
    assert endpoint.status is EndpointStatus.DISABLED


def test_the_demo_refuses_a_period_it_cannot_wait_through(cli: Cli) -> None:
    for period, reason in [("monthly", "from PT5S to PT5M"), ("PT1S", "is 1 s"), ("soon", "soon")]:
        result = cli("demo", "--period", period)
        assert result.code == 1 and result.out == ""
        assert result.err.startswith("error: ") and reason in result.err
