"""Helpers of the operations tests: free ports, emitting an event, reading Prometheus text."""

from __future__ import annotations

import re
import socket
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from config import Settings
from models.delivery import Event
from models.events import EventType
from tests.conftest import emit_events

PAYLOAD = {"invoice_id": "invoice_0123", "amount": 42.5}
_SAMPLE = re.compile(r"^(?P<name>[a-zA-Z_:][\w:]*)(?:\{(?P<labels>.*)\})? (?P<value>\S+)$")
_LABEL = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')


def free_port() -> int:
    """A TCP port nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def address_of(env: WorkflowEnvironment) -> str:
    """The dev server's ``host:port``, as ``BILLHOOK_TEMPORAL_ADDRESS`` takes it."""
    return env.client.service_client.config.target_host


async def emit(
    client: Client, settings: Settings, event_type: EventType = EventType.INVOICE_CREATED
) -> Event:
    """Emit a fresh event of ``event_type`` as a starter would."""
    event = Event.for_event(event_type, f"ops:{uuid.uuid4().hex}", PAYLOAD, datetime.now(UTC))
    await emit_events(client, settings, event)
    return event


@dataclass(frozen=True)
class Sample:
    """One line of the Prometheus text format."""

    name: str
    labels: dict[str, str]
    value: float


def parse_prometheus(text: str) -> list[Sample]:
    """Every sample of a ``/metrics`` page (comments skipped)."""
    samples = []
    for line in text.splitlines():
        match = _SAMPLE.match(line)
        if match and not line.startswith("#"):
            labels = dict(_LABEL.findall(match["labels"] or ""))
            samples.append(Sample(match["name"], labels, float(match["value"])))
    return samples


def value_of(samples: list[Sample], name: str, **labels: str) -> float | None:
    """The value of the one sample named ``name`` whose labels include ``labels``."""
    found = [s for s in samples if s.name == name and labels.items() <= s.labels.items()]
    assert len(found) <= 1, found
    return found[0].value if found else None
