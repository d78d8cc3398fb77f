"""billhook's Prometheus metrics, served by Temporal's SDK runtime next to the SDK's own.

The worker builds one ``temporalio.runtime.Runtime`` whose telemetry exports Prometheus
(``prometheus_config``); its client, its worker and ``DeliveryMetrics`` all record through that
runtime's meter, so a single port serves both. Metric names pass through the exporter unchanged
(no ``temporal_`` prefix, no suffixes added), so the names below are the scraped names.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Literal

from temporalio.client import Client
from temporalio.common import MetricMeter
from temporalio.runtime import PrometheusConfig, Runtime

from models.delivery import AttemptTrigger, DisabledReason, ErrorKind

DELIVERIES = "billhook_deliveries_total"
LATENCY = "billhook_delivery_latency_seconds"
ATTEMPTS = "billhook_attempts_total"
ENDPOINTS_DISABLED = "billhook_endpoints_disabled_total"

#: Emission to 2xx spans from sub-second (first attempt) to about a day (the last retries).
LATENCY_BUCKETS = (
    *(0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0),
    *(300.0, 900.0, 1800.0, 3600.0, 7200.0, 18000.0, 36000.0, 86400.0),
)

#: What became of a delivery after an attempt (or at planning, for ``skipped``).
Outcome = Literal["succeeded", "failed", "skipped", "retrying"]


def prometheus_config(port: int) -> PrometheusConfig:
    """The exporter for ``0.0.0.0:port``, with latency buckets fit for webhook retries."""
    return PrometheusConfig(
        bind_address=f"0.0.0.0:{port}",
        histogram_bucket_overrides={LATENCY: LATENCY_BUCKETS},
    )


def attempt_result(status: int | None, error_kind: ErrorKind | None) -> str:
    """An attempt's ``result`` label: its status class (``2xx``) or why it got no usable answer."""
    if error_kind in (None, ErrorKind.HTTP_STATUS) and status is not None:
        return f"{status // 100}xx"
    # Timeouts, refused connections, blocked destinations, redirects, oversized bodies.
    return error_kind.value if error_kind is not None else "error"


class DeliveryMetrics:
    """The delivery activity's instruments, created once per worker on one meter.

    With ``MetricMeter.noop`` (metrics off) every call is a cheap no-op.
    """

    @classmethod
    def of(cls, client: Client, task_queue: str) -> DeliveryMetrics:
        """On the meter of ``client``'s runtime, labelled with its namespace and ``task_queue``."""
        runtime = client.service_client.config.runtime or Runtime.default()
        attributes = {"namespace": client.namespace, "task_queue": task_queue}
        return cls(runtime.metric_meter.with_additional_attributes(attributes))

    def __init__(self, meter: MetricMeter = MetricMeter.noop) -> None:
        self._deliveries = meter.create_counter(
            DELIVERIES, "Deliveries by event type and outcome (retrying: another attempt follows)"
        )
        self._latency = meter.create_histogram_float(
            LATENCY, "Seconds from the message's emission to its 2xx response", "s"
        )
        self._attempts = meter.create_counter(
            ATTEMPTS, "HTTP attempts by trigger and result (status class or error kind)"
        )
        self._disabled = meter.create_counter(
            ENDPOINTS_DISABLED, "Endpoints disabled by delivery, by reason (failing or gone)"
        )

    def delivery(self, event_type: str, outcome: Outcome, count: int = 1) -> None:
        """Count ``count`` deliveries of an ``event_type`` message ending as ``outcome``."""
        self._deliveries.add(count, {"event_type": event_type, "outcome": outcome})

    def latency(self, event_type: str, latency: timedelta) -> None:
        """Record how long an ``event_type`` message took from emission to its 2xx."""
        # Emission and attempt times come from different clocks: never record a negative.
        seconds = max(latency.total_seconds(), 0.0)
        self._latency.record(seconds, {"event_type": event_type})

    def attempt(self, trigger: AttemptTrigger, result: str) -> None:
        """Count one HTTP attempt (see ``attempt_result``)."""
        self._attempts.add(1, {"trigger": trigger.value, "result": result})

    def endpoint_disabled(self, reason: DisabledReason) -> None:
        """Count an endpoint that delivery disabled."""
        self._disabled.add(1, {"reason": reason.value})
