"""``billhook event-types``, ``message ...`` and ``attempt list`` over records a worker wrote."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from models.delivery import DeliveryStatus
from models.events import EVENT_DESCRIPTIONS, EventType, business_key, message_id
from models.samples import sample_payload
from store.attempts import Claim
from tests.starter.conftest import Cli
from tests.store.store_testing import claimed, record_attempt

CREATED = datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)


def _seed(cli: Cli) -> tuple[str, str, str]:
    """An invoice.paid message to two endpoints: one failed attempt, then a success."""
    store = cli.store
    first, _ = store.create_endpoint("https://a.example.com/h", ["invoice.paid"], CREATED)
    second, _ = store.create_endpoint("https://b.example.com/h", ["invoice.paid"], CREATED)
    msg = message_id(EventType.INVOICE_PAID, "invoice_1")
    store.plan_deliveries(
        message_id=msg,
        event_type=EventType.INVOICE_PAID.value,
        business_key=business_key(EventType.INVOICE_PAID, "invoice_1"),
        payload=sample_payload(EventType.INVOICE_PAID),
        created_at=CREATED,
        now=CREATED,
        max_attempts=8,
    )
    _attempt(cli, msg, first.id, 1, 503, CREATED + timedelta(seconds=1), DeliveryStatus.PENDING)
    _attempt(cli, msg, first.id, 2, 204, CREATED + timedelta(seconds=7), DeliveryStatus.SUCCEEDED)
    return msg, first.id, second.id


def _attempt(
    cli: Cli,
    msg: str,
    endpoint_id: str,
    number: int,
    status: int,
    started_at: datetime,
    after: DeliveryStatus,
) -> None:
    """A scheduled attempt as the worker makes one: recorded in flight, then completed."""
    retry = started_at + timedelta(seconds=5) if status >= 300 else None
    made, _ = record_attempt(
        cli.store,
        msg,
        endpoint_id,
        after,
        started_at,
        response_status=status,
        next_retry_at=retry,
    )
    assert made.attempt == number


def test_event_types_lists_the_catalog(cli: Cli) -> None:
    lines = cli.ok("event-types").splitlines()

    assert lines[0].split() == ["type", "emitted", "when"]
    assert set(lines[1]) == {"-", " "}
    assert len(lines) == 2 + 8
    for event_type, line in zip(EventType, lines[2:], strict=True):
        assert line.startswith(event_type.value)
        assert line.endswith(EVENT_DESCRIPTIONS[event_type])


def test_empty_listings(cli: Cli) -> None:
    assert cli.ok("message", "list") == "(none)\n"
    assert cli.ok("attempt", "list") == "(none)\n"


def test_message_list(cli: Cli) -> None:
    msg, _, _ = _seed(cli)

    listing = cli.ok("message", "list").splitlines()

    assert len(listing) == 3
    assert listing[2].startswith(
        f"{msg}  invoice.paid  2024-05-01 12:00:00  invoice.paid:invoice_1"
    )
    assert listing[2].endswith("1 pending, 1 succeeded")
    assert cli.ok("message", "list", "--status", "succeeded").splitlines()[2] == listing[2]
    assert cli.ok("message", "list", "--status", "failed") == "(none)\n"
    assert cli.ok("message", "list", "--event-type", "invoice.created") == "(none)\n"
    assert cli("message", "list", "--event-type", "invoice.nope").code == 2
    assert cli("message", "list", "--limit", "0").code == 2


def test_message_show(cli: Cli) -> None:
    msg, first, second = _seed(cli)

    shown = cli.ok("message", "show", msg)

    header, rest = shown.split("\npayload:\n")
    assert f"message       {msg}" in header and "created       2024-05-01 12:00:00" in header
    payload_text, deliveries = rest.split("\ndeliveries:\n")
    assert json.loads(payload_text) == sample_payload(EventType.INVOICE_PAID)
    rows = deliveries.splitlines()
    assert rows[0].split() == ["endpoint", "status", "attempts", "next", "attempt"]
    assert {rows[2].split()[0], rows[3].split()[0]} == {first, second}
    assert f"{first}  succeeded  2" in deliveries
    assert f"{second}  pending    0" in deliveries


def test_attempt_list(cli: Cli) -> None:
    msg, first, _ = _seed(cli)

    rows = cli.ok("attempt", "list", "--message", msg).splitlines()

    assert rows[0].split() == [
        "time", "message", "endpoint", "#", "trigger", "result", "ms", "next", "retry"
    ]  # fmt: skip
    assert rows[2].split() == [
        "2024-05-01",
        "12:00:07",
        msg,
        first,
        "2",
        "scheduled",
        "204",
        "120",
        "-",
    ]
    assert rows[3].split() == [
        "2024-05-01", "12:00:01", msg, first, "1", "scheduled", "503", "120",
        "2024-05-01", "12:00:06",
    ]  # fmt: skip
    assert len(cli.ok("attempt", "list", "--endpoint", first, "--limit", "1").splitlines()) == 3
    assert cli.ok("attempt", "list", "--message", "msg_other") == "(none)\n"


def test_attempt_list_shows_attempts_in_flight_and_interrupted(cli: Cli) -> None:
    msg, _, second = _seed(cli)

    def claim(at: datetime) -> Claim:
        return claimed(cli.store, msg, second, at)

    claim(CREATED + timedelta(seconds=2))  # its worker dies before recording an outcome
    rows = cli.ok("attempt", "list", "--endpoint", second).splitlines()
    assert rows[2].split()[4:7] == ["1", "scheduled", "in"] and "in flight" in rows[2]
    later = claim(CREATED + timedelta(seconds=30))  # the next attempt finds it dead

    rows = cli.ok("attempt", "list", "--endpoint", second).splitlines()
    assert later.attempt == 2
    assert "in flight" in rows[2] and rows[2].split()[4] == "2"
    assert "interrupted" in rows[3] and rows[3].split()[4] == "1"


def test_resend_refuses_unknown_ids(cli: Cli) -> None:
    msg, _, _ = _seed(cli)

    unknown_message = cli("message", "resend", "msg_" + "0" * 32)
    unknown_endpoint = cli("message", "resend", msg, "--endpoint", "whend_" + "0" * 32)

    for result in (unknown_message, unknown_endpoint):
        assert result.code == 1 and result.out == "" and result.err.count("\n") == 1
    assert "no message" in unknown_message.err and "no endpoint" in unknown_endpoint.err


@pytest.mark.parametrize("command", [["message", "resend"], ["trigger"]])
def test_temporal_unreachable(cli: Cli, command: list[str]) -> None:
    msg, _, _ = _seed(cli)
    argv = [*command, msg] if command[0] == "message" else [*command, "invoice.paid"]

    result = cli(*argv)

    assert result.code == 1
    assert result.err == "error: cannot reach Temporal at 127.0.0.1:1: is `make run` up?\n"
