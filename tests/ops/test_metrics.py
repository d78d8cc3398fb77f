"""Prometheus metrics: billhook's and Temporal's SDK's, served together by the worker's runtime."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime

import httpx
import pytest
from temporalio.testing import WorkflowEnvironment

from activities.metrics import attempt_result
from config import Settings
from models.delivery import DeliveryStatus, ErrorKind
from store import Store
from temporal_client import connect
from tests.conftest import RunWorker, settled
from tests.ops.conftest import Sample, address_of, emit, free_port, parse_prometheus, value_of
from tests.receiver import Receiver
from worker import telemetry_runtime


async def scrape(port: int, until: Callable[[list[Sample]], bool]) -> list[Sample]:
    """The worker's ``/metrics``, once its samples satisfy ``until`` (the runtime exports its
    instruments periodically, not as they change)."""
    async with httpx.AsyncClient() as http:
        for _ in range(150):
            response = await http.get(f"http://127.0.0.1:{port}/metrics")
            response.raise_for_status()
            samples = parse_prometheus(response.text)
            if until(samples):
                return samples
            await asyncio.sleep(0.1)
    raise AssertionError(f"the samples never appeared on :{port}/metrics:\n{response.text}")


async def test_deliveries_attempts_latency_and_disabling_are_scraped_with_temporal_metrics(
    dev_env: WorkflowEnvironment,
    store: Store,
    settings: Settings,
    run_worker: RunWorker,
    receiver: Receiver,
) -> None:
    port = free_port()
    metered = settings.model_copy(
        update={"metrics_port": port, "temporal_address": address_of(dev_env)}
    )
    # A runtime of its own: a Prometheus port is bound once, for the runtime's lifetime.
    client = await connect(metered, runtime=telemetry_runtime(metered))
    endpoint, _ = store.create_endpoint(receiver.url, ["invoice.created"], now=datetime.now(UTC))
    receiver.statuses = [500]  # then 204: one retry, then success
    async with run_worker(client, metered):
        first = await emit(client, metered)
        assert await settled(store, first.message_id) == {endpoint.id: DeliveryStatus.SUCCEEDED}
        receiver.default = 410  # the receiver asks to stop: the endpoint is disabled
        second = await emit(client, metered)
        assert await settled(store, second.message_id) == {endpoint.id: DeliveryStatus.FAILED}
        third = await emit(client, metered)
        assert await settled(store, third.message_id) == {endpoint.id: DeliveryStatus.SKIPPED}
        samples = await scrape(
            port,
            until=lambda samples: (
                any(s.name == "temporal_activity_execution_latency_count" for s in samples)
                and value_of(samples, "billhook_deliveries_total", outcome="skipped") is not None
            ),
        )

    def deliveries(outcome: str) -> float | None:
        return value_of(
            samples, "billhook_deliveries_total", event_type="invoice.created", outcome=outcome
        )

    assert [deliveries(o) for o in ("succeeded", "retrying", "failed", "skipped")] == [1, 1, 1, 1]
    latency = "billhook_delivery_latency_seconds"
    assert value_of(samples, f"{latency}_count", event_type="invoice.created") == 1
    assert 0 < (value_of(samples, f"{latency}_sum", event_type="invoice.created") or 0) < 30
    assert value_of(samples, f"{latency}_bucket", le="86400") == 1
    attempts = {
        result: value_of(samples, "billhook_attempts_total", trigger="scheduled", result=result)
        for result in ("5xx", "2xx", "4xx")
    }
    assert attempts == {"5xx": 1, "2xx": 1, "4xx": 1}
    assert value_of(samples, "billhook_endpoints_disabled_total", reason="gone") == 1
    # Every billhook sample names its queue; Temporal's own metrics share the port.
    ours = [s for s in samples if s.name.startswith("billhook_")]
    assert {s.labels["task_queue"] for s in ours} == {metered.task_queue}
    names = {s.name for s in samples}
    assert "temporal_activity_execution_latency_count" in names
    assert "temporal_workflow_completed" in names


def test_no_runtime_of_its_own_and_nothing_listens_when_metrics_are_off(
    settings: Settings,
) -> None:
    assert settings.metrics_port is None
    assert telemetry_runtime(settings) is None


@pytest.mark.parametrize(("value", "port"), [("", None), (" ", None), ("9464", 9464)])
def test_an_empty_metrics_port_means_off(
    monkeypatch: pytest.MonkeyPatch, value: str, port: int | None
) -> None:
    monkeypatch.setenv("BILLHOOK_METRICS_PORT", value)
    assert Settings(_env_file=None).metrics_port == port  # type: ignore[call-arg]


@pytest.mark.parametrize(
    ("status", "error_kind", "result"),
    [
        (204, None, "2xx"),
        (503, ErrorKind.HTTP_STATUS, "5xx"),
        (410, ErrorKind.HTTP_STATUS, "4xx"),
        (302, ErrorKind.REDIRECT, "redirect"),
        (200, ErrorKind.TOO_LARGE, "too_large"),
        (None, ErrorKind.TIMEOUT, "timeout"),
        (None, ErrorKind.BLOCKED, "blocked"),
    ],
)
def test_attempt_result_is_the_status_class_or_the_error_kind(
    status: int | None, error_kind: ErrorKind | None, result: str
) -> None:
    assert attempt_result(status, error_kind) == result
