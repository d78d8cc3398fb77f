"""The demo's receiver: verifies every webhook and shows the demo customer's as they arrive.

A ``WebhookReceiver`` on a free local port, and an endpoint pointing at it that subscribes to
every event type. Only the demo customer's events are shown, so other billing running on the
same worker does not leak into the story. Imported only by ``billhook demo`` (svix is slow).
"""

from __future__ import annotations

import asyncio
import io
from collections import Counter
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import datetime
from decimal import Decimal
from typing import Any

from client import BillhookClient
from client.inputs import EndpointInput
from models.events import EventType
from models.signing import generate_secret
from starter.billing import money, number
from starter.receiver import ReceivedEvent, WebhookReceiver
from starter.runtime import Progress
from starter.table import render

#: How often arrivals are looked for; short, so each shows up as it arrives.
POLL_SECONDS = 0.1


class DemoReceiver:
    """The receiver and its endpoint; an async context manager that stops and disables both.

    Args:
        billhook: the client that creates the endpoint, and disables it at the end.
        customer_id: whose events to show.
        progress: the status line on stderr, ended before an event is printed.
    """

    def __init__(self, billhook: BillhookClient, customer_id: str, progress: Progress) -> None:
        self.billhook = billhook
        self.customer_id = customer_id
        self.progress = progress
        self._secret = generate_secret()
        # Its own one-line-per-request log is not shown: ``poll`` prints the story's lines.
        self.receiver = WebhookReceiver(self._secret, out=io.StringIO())
        self.endpoint_id = ""
        #: The demo customer's verified requests, in the order they arrived.
        self.arrived: list[ReceivedEvent] = []
        self._read = 0

    async def __aenter__(self) -> DemoReceiver:
        self.receiver.start()
        endpoint = EndpointInput(
            url=self.receiver.url,
            event_types=[t.value for t in EventType],
            name="billhook demo",
            secret=self._secret,
        )
        try:
            created = await self.billhook.endpoints.create(endpoint)
        except BaseException:
            self.receiver.stop()
            raise
        self.endpoint_id = created.endpoint.id
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        self.receiver.stop()
        if self.endpoint_id:
            # Disabled, not deleted: its deliveries stay inspectable with `billhook message`.
            await self.billhook.endpoints.disable(self.endpoint_id)

    @property
    def url(self) -> str:
        """Where the endpoint delivers."""
        return self.receiver.url

    def poll(self) -> None:
        """Show the demo customer's requests that arrived since the last poll."""
        events = self.receiver.events[self._read :]  # appended by the server's threads
        self._read += len(events)
        for event in events:
            if customer_of(event.payload) == self.customer_id:
                self.progress.done()
                self.arrived.append(event)
                print(arrival_line(event), flush=True)

    @asynccontextmanager
    async def watching(self) -> AsyncIterator[None]:
        """Poll in the background for the block's duration, then once more."""

        async def pump() -> None:
            while True:
                self.poll()
                await asyncio.sleep(POLL_SECONDS)

        task = asyncio.create_task(pump())
        try:
            yield
        finally:
            task.cancel()
            self.poll()

    async def wait_for(self, done: Callable[[], bool], seconds: float) -> bool:
        """Whether ``done()`` became true within ``seconds``, looking as events arrive."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds
        while not done():
            if loop.time() > deadline:
                return False
            self.poll()
            await asyncio.sleep(POLL_SECONDS)
        return True

    def has(self, event_type: EventType, **fields: Any) -> bool:
        """Whether an event of ``event_type`` whose payload has ``fields`` arrived."""
        return any(
            event.event_type == event_type.value
            and all(_get(event.payload, name) == value for name, value in fields.items())
            for event in self.arrived
        )

    def counts(self) -> Counter[str]:
        """Messages arrived by event type, each message once however often it was sent."""
        first = {event.message_id: event.event_type or "" for event in self.arrived}
        return Counter(first.values())

    def summary(self) -> str:
        """Every arrival as a table, in order."""
        rows = [
            (
                number,
                event.received_at.strftime("%H:%M:%S"),
                event.event_type,
                event.attempt,
                event.message_id,
                describe(event.event_type, event.payload),
            )
            for number, event in enumerate(self.arrived, start=1)
        ]
        headers = ["#", "received", "event type", "attempt", "message", "summary"]
        return render(headers, rows, max_width=60)


def customer_of(payload: Any) -> str | None:
    """The customer an event's payload concerns, whatever its type."""
    for path in ("customer_id", "customer.customer_id", "subscription.customer.customer_id"):
        if isinstance(found := _get(payload, path), str):
            return found
    return None


def arrival_line(event: ReceivedEvent) -> str:
    """``12:00:01 ✓ verified invoice.created  attempt 1  invoice 250101-000001 10.00 USD``."""
    return (
        f"{event.received_at.strftime('%H:%M:%S')} ✓ verified {event.event_type or '?':<22} "
        f"attempt {event.attempt}  {describe(event.event_type, event.payload)}"
    )


def describe(event_type: str | None, payload: Any) -> str:
    """A few words on what an event says: the customer, the period, the invoice or the usage."""
    if event_type == EventType.CUSTOMER_CREATED:
        return f"customer {_get(payload, 'customer_id')}, {_get(payload, 'timezone')}"
    if event_type and event_type.startswith("subscription."):
        start, end = (_clock(_get(payload, key)) for key in ("start_date", "end_date"))
        renews = "renews" if _get(payload, "auto_renew") else "does not renew"
        return f"period {start} → {end}, {renews}"
    if event_type and event_type.startswith("invoice."):
        amount = _amount(_get(payload, "amount"), _get(payload, "currency.code"))
        return (
            f"invoice {_get(payload, 'invoice_number')} {amount} {_get(payload, 'payment_status')}"
        )
    if event_type == EventType.USAGE_ALERT_TRIGGERED:
        usage, threshold = _get(payload, "usage"), _get(payload, "usage_alert.threshold")
        return f"usage {_decimal(usage)} reached the threshold {_decimal(threshold)}"
    return ""


def _amount(value: Any, currency: Any) -> str:
    """A JSON amount as the command line shows money: ``10.00 USD``."""
    if isinstance(value, int | float) and isinstance(currency, str):
        return money(Decimal(str(value)), currency)
    return f"{value} {currency}"


def _decimal(value: Any) -> str:
    """A JSON number without the float's trailing ``.0``."""
    return number(Decimal(str(value))) if isinstance(value, int | float) else str(value)


def _get(payload: Any, path: str) -> Any:
    """``payload["a"]["b"]`` for ``"a.b"``; None when any part is missing."""
    for name in path.split("."):
        if not isinstance(payload, dict):
            return None
        payload = payload.get(name)
    return payload


def _clock(text: Any) -> str:
    """The wall-clock time of an ISO 8601 time: ``10:00:19``."""
    try:
        return datetime.fromisoformat(str(text)).strftime("%H:%M:%S")
    except ValueError:
        return str(text)
