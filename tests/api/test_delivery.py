"""Endpoints, event types, messages and attempts over HTTP, as an application in any language."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
import svix.webhooks

from models.events import EventType
from tests.api.conftest import Api, cli_error, error_of, ok, received
from tests.receiver import Receiver, serve


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    yield from serve(Receiver())


async def test_endpoint_lifecycle(
    api: Api,
    receiver: Receiver,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    body = {"url": receiver.url, "event_types": ["invoice.paid"], "name": "billing"}
    created = await ok(await api.http.post("/endpoints", json=body), 201)
    endpoint_id, secret = created["endpoint"]["id"], created["secret"]
    assert endpoint_id.startswith("whend_") and secret.startswith("whsec_")
    assert "secret" not in created["endpoint"]
    shown = await ok(await api.http.get(f"/endpoints/{endpoint_id}"))
    assert (shown["name"], shown["status"], shown["event_types"]) == (
        "billing",
        "enabled",
        ["invoice.paid"],
    )
    revealed = await ok(await api.http.get(f"/endpoints/{endpoint_id}/secret"))
    assert revealed == {"endpoint_id": endpoint_id, "secret": secret}

    patched = await api.http.patch(
        f"/endpoints/{endpoint_id}", json={"event_types": ["invoice.paid", "invoice.created"]}
    )
    assert (await ok(patched))["event_types"] == ["invoice.paid", "invoice.created"]
    disabled = await ok(await api.http.post(f"/endpoints/{endpoint_id}/disable"))
    assert disabled["status"] == "disabled"
    enabled = await ok(await api.http.post(f"/endpoints/{endpoint_id}/enable"))
    assert enabled["status"] == "enabled"

    rotated = await ok(await api.http.post(f"/endpoints/{endpoint_id}/rotate-secret"))
    assert rotated["secret"] != secret and rotated["secret"].startswith("whsec_")
    now = await ok(await api.http.get(f"/endpoints/{endpoint_id}/secret"))
    assert now["secret"] == rotated["secret"]

    recovered = await ok(
        await api.http.post(f"/endpoints/{endpoint_id}/recover", json={"since": "1h"})
    )
    assert recovered["endpoint"]["status"] == "enabled" and recovered["resent"] is None
    bad_since = await api.http.post(f"/endpoints/{endpoint_id}/recover", json={"since": "soon"})
    assert "is neither an ISO 8601 time" in error_of(bad_since, 422)["message"]

    deleted = await api.http.delete(f"/endpoints/{endpoint_id}")
    assert deleted.status_code == 204
    gone = error_of(await api.http.get(f"/endpoints/{endpoint_id}"), 404)
    assert gone["code"] == "not_found"
    assert gone["message"] == cli_error(
        monkeypatch, capsys, api.settings, "endpoint", "show", endpoint_id
    )


async def test_bad_input_is_the_command_lines_message_and_changes_nothing(
    api: Api, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for url, events in (
        ("ftp://example.com/hook", "invoice.paid"),
        ("http://169.254.169.254/latest", "invoice.paid"),
        ("https://example.com/hook", "invoice.teleported"),
    ):
        response = await api.http.post(
            "/endpoints", json={"url": url, "event_types": events.split(",")}
        )
        error = error_of(response, 422)
        assert error["code"] == "invalid_input"
        assert error["message"] == cli_error(
            monkeypatch, capsys, api.settings, "endpoint", "create", url, "--events", events
        )
    assert (await ok(await api.http.get("/endpoints")))["data"] == []
    missing = await api.http.patch("/endpoints/whend_nope", json={"name": "x"})
    assert error_of(missing, 404)["message"].startswith("no endpoint whend_nope")


async def test_listings_are_paged_by_cursor(api: Api) -> None:
    ids = []
    for n in range(5):
        body = {"url": f"https://example.com/{n}", "event_types": ["invoice.paid"]}
        ids.append((await ok(await api.http.post("/endpoints", json=body), 201))["endpoint"]["id"])
    seen, cursor, pages = [], None, 0
    while True:
        params = {"limit": 2} | ({"cursor": cursor} if cursor else {})
        page = await ok(await api.http.get("/endpoints", params=params))
        seen += [e["id"] for e in page["data"]]
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert (seen, pages) == (ids, 3)
    bad = await api.http.get("/endpoints", params={"cursor": "not-a-cursor"})
    assert error_of(bad, 400)["code"] == "bad_request"
    too_many = await api.http.get("/endpoints", params={"limit": 0})
    assert error_of(too_many, 422)["code"] == "invalid_input"


async def test_messages_deliveries_resend_and_attempts(api: Api, receiver: Receiver) -> None:
    types = await ok(await api.http.get("/event-types"))
    assert [t["name"] for t in types] == [t.value for t in EventType]
    assert types[0]["emitted_when"] == "a customer is created"
    body = {"url": receiver.url, "event_types": ["customer.created"]}
    created = await ok(await api.http.post("/endpoints", json=body), 201)
    endpoint_id, secret = created["endpoint"]["id"], created["secret"]
    customer = await ok(await api.http.post("/customers", json={"customer_id": "acme-msg"}), 201)
    message_id = customer["message_id"]
    [delivered] = await received(receiver, secret, "customer.created")
    assert delivered["properties"]["payload"]["customer_id"] == "acme-msg"

    listed = await ok(await api.http.get("/messages", params={"event_type": "customer.created"}))
    assert [m["id"] for m in listed["data"]] == [message_id]
    assert (await ok(await api.http.get("/messages", params={"status": "failed"})))["data"] == []
    bad_filter = await api.http.get("/messages", params={"event_type": "invoice.teleported"})
    assert error_of(bad_filter, 422)["code"] == "invalid_input"
    details = await ok(await api.http.get(f"/messages/{message_id}"))
    assert [(d["endpoint_id"], d["status"]) for d in details["deliveries"]] == [
        (endpoint_id, "succeeded")
    ]

    outcomes = await ok(await api.http.post(f"/messages/{message_id}/resend"))
    assert [(o["endpoint_id"], o["status"], o["attempt"]["attempt"]) for o in outcomes] == [
        (endpoint_id, "succeeded", 2)
    ]
    again = receiver.requests[-1]
    svix.webhooks.Webhook(secret).verify(again.body, again.headers)
    assert again.headers["svix-id"] == message_id
    attempts = await ok(await api.http.get("/attempts", params={"message_id": message_id}))
    assert [a["attempt"] for a in attempts["data"]] == [2, 1]
    nowhere = await api.http.post(
        f"/messages/{message_id}/resend", json={"endpoint_id": "whend_nope"}
    )
    assert error_of(nowhere, 404)["message"].startswith("no endpoint whend_nope")
    assert error_of(await api.http.get("/messages/msg_nope"), 404)["code"] == "not_found"


async def test_messages_are_paged_newest_first_while_new_ones_arrive(api: Api) -> None:
    ids = []
    for n in range(3):
        created = await api.http.post("/customers", json={"customer_id": f"acme-page-{n}"})
        ids.append((await ok(created, 201))["message_id"])
    params: dict[str, str | int] = {"event_type": "customer.created", "limit": 2}
    for _ in range(200):
        first = await ok(await api.http.get("/messages", params=params))
        if first["next_cursor"] is not None:
            break
        await asyncio.sleep(0.05)
    assert [m["id"] for m in first["data"]] == ids[::-1][:2]
    # A newer message in front does not shift the next page.
    await ok(await api.http.post("/customers", json={"customer_id": "acme-page-new"}), 201)
    await asyncio.sleep(1)
    rest = await ok(
        await api.http.get("/messages", params=params | {"cursor": first["next_cursor"]})
    )
    assert ([m["id"] for m in rest["data"]], rest["next_cursor"]) == ([ids[0]], None)
