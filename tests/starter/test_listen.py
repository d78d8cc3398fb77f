"""``WebhookReceiver`` (``billhook listen``): verifies real signed requests like a receiver."""

from __future__ import annotations

import io
import time
from collections.abc import Iterator
from datetime import UTC, datetime

import httpx
import pytest

from models.events import EventType, envelope_body
from models.samples import sample_payload
from models.signing import generate_secret, webhook_headers
from starter.receiver import WebhookReceiver
from tests.starter.conftest import Cli

MSG = "msg_" + "ab" * 16
LOTUS_SECRET = "whsec_" + "0123456789abcdef" * 2


@pytest.fixture
def secret() -> str:
    return generate_secret()


@pytest.fixture
def out() -> io.StringIO:
    return io.StringIO()


@pytest.fixture
def receiver(secret: str, out: io.StringIO) -> Iterator[WebhookReceiver]:
    """A receiver failing the first two verified requests with a 503 and ``Retry-After: 7``."""
    receiver = WebhookReceiver(secret, fail_first=2, fail_status=503, retry_after=7, out=out)
    receiver.start()
    yield receiver
    receiver.stop()


def _post(receiver: WebhookReceiver, secrets: list[str], attempt: int) -> httpx.Response:
    body = envelope_body(
        attempt=attempt,
        created_at=datetime.now(UTC),
        event_type=EventType.INVOICE_PAID.value,
        payload=sample_payload(EventType.INVOICE_PAID),
    )
    headers = webhook_headers(secrets, MSG, int(time.time()), body, "billhook-test/1")
    return httpx.post(receiver.url, content=body, headers=headers, timeout=5)


def test_fails_first_k_then_accepts(
    receiver: WebhookReceiver, secret: str, out: io.StringIO
) -> None:
    responses = [_post(receiver, [secret], attempt) for attempt in (1, 2, 3)]

    assert [r.status_code for r in responses] == [503, 503, 204]
    assert [r.headers.get("retry-after") for r in responses] == ["7", "7", None]
    assert [(e.attempt, e.status) for e in receiver.events] == [(1, 503), (2, 503), (3, 204)]
    assert receiver.events[0].message_id == MSG
    assert receiver.events[0].event_type == "invoice.paid"
    assert receiver.events[2].payload == sample_payload(EventType.INVOICE_PAID)
    lines = out.getvalue().splitlines()
    assert len(lines) == 6  # one line per request, then its payload
    assert "✓ verified" in lines[0] and MSG in lines[0] and "invoice.paid attempt 1" in lines[0]
    assert lines[0].endswith("→ 503 (simulated failure 1 of 2, Retry-After: 7)")
    assert lines[4].endswith("invoice.paid attempt 3 → 204")
    assert lines[5].startswith('  {"invoice_id":"invoice_')


def test_rejects_a_bad_signature(receiver: WebhookReceiver, out: io.StringIO) -> None:
    response = _post(receiver, [generate_secret()], 1)

    assert response.status_code == 400
    assert receiver.events == []
    assert "✗ rejected" in out.getvalue() and "No matching signature found" in out.getvalue()
    assert out.getvalue().count("\n") == 1


def test_rejects_a_tampered_body(receiver: WebhookReceiver, secret: str) -> None:
    body = b'{"attempt":1}'
    headers = webhook_headers([secret], MSG, int(time.time()), body, "billhook-test/1")

    response = httpx.post(receiver.url, content=body + b" ", headers=headers, timeout=5)

    assert response.status_code == 400 and receiver.events == []


def test_rejects_missing_headers(receiver: WebhookReceiver, out: io.StringIO) -> None:
    response = httpx.post(receiver.url, content=b"{}", timeout=5)

    assert response.status_code == 400
    assert "Missing required headers" in out.getvalue()


def test_accepts_during_rotation_and_lotus_secrets(out: io.StringIO) -> None:
    new = generate_secret()
    receiver = WebhookReceiver(LOTUS_SECRET, out=out)  # still holds the rotated-out secret
    receiver.start()
    try:
        assert _post(receiver, [new, LOTUS_SECRET], 1).status_code == 204
    finally:
        receiver.stop()
    assert len(receiver.events) == 1


def test_listen_refuses_a_bad_secret(cli: Cli) -> None:
    result = cli("listen", "--port", "0", "--secret", "whsec_short")

    assert result.code == 1 and result.err.count("\n") == 1
    assert result.err.startswith("error: invalid signing secret")
    assert "whsec_short" not in result.err
