"""Fixtures of the client tests: ``BillhookClient`` on the dev server, with a worker running."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from temporalio.testing import WorkflowEnvironment

from client import BillhookClient
from config import Settings
from models.billing import InvoiceState
from store import Store
from tests.conftest import RunWorker


@pytest.fixture
def dev_settings(dev_env: WorkflowEnvironment, settings: Settings) -> Settings:
    """The test's settings, pointed at the dev server as an application would configure it."""
    address = dev_env.client.service_client.config.target_host
    return settings.model_copy(update={"temporal_address": address})


@pytest.fixture
async def billhook(
    dev_env: WorkflowEnvironment, dev_settings: Settings, store: Store, run_worker: RunWorker
) -> AsyncIterator[BillhookClient]:
    """A client connected as ``BillhookClient.connect`` connects, and a worker on its queue."""
    async with run_worker(dev_env.client, dev_settings):
        client = await BillhookClient.connect(dev_settings, store=store, worker_wait=10.0)
        async with client:
            yield client


async def first_invoice(billhook: BillhookClient, subscription_id: str) -> InvoiceState:
    """A subscription's first invoice, once its workflow has issued it (moments after the start)."""
    for _ in range(300):
        if invoices := await billhook.invoices.list(subscription_id=subscription_id):
            return invoices[-1]
        await asyncio.sleep(0.05)
    raise AssertionError(f"no invoice of {subscription_id} within 15 s")
