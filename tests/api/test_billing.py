"""The billing story over HTTP: customer, plan, subscription, usage in batches, invoices."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from temporalio.testing import WorkflowEnvironment

from config import Settings
from store import Store
from tests.api.conftest import Api, cli_error, error_of, make_key, ok, received, serving
from tests.conftest import RunWorker
from tests.receiver import Receiver, serve


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    yield from serve(Receiver())


def usage_rows(api: Api) -> int:
    with api.store.engine.connect() as connection:
        return connection.scalar(sa.text("SELECT count(*) FROM usagerecord")) or 0


async def invoices_of(api: Api, sub_id: str, count: int) -> list[dict[str, Any]]:
    """The subscription's invoices, newest first, once there are ``count``."""
    for _ in range(300):
        page = await ok(await api.http.get("/invoices", params={"subscription_id": sub_id}))
        if len(page["data"]) >= count:
            return list(page["data"])
        await asyncio.sleep(0.05)
    raise AssertionError(f"{sub_id} has fewer than {count} invoices")


async def billing_setup(api: Api, customer_id: str) -> tuple[str, str, str]:
    """A customer, a metric, a plan billing it (flat 10 in advance) with an alert at 500:
    the subscription id, the metric id and the alert id."""
    await ok(await api.http.post("/customers", json={"customer_id": customer_id}), 201)
    metric = await ok(
        await api.http.post("/metrics", json={"name": "API calls", "event_name": "api_call"}), 201
    )
    metric_id = metric["metric_id"]
    plan = await ok(
        await api.http.post(
            "/plans",
            json={
                "name": "Pro",
                "flat_amount": "10",
                "components": [{"metric_id": metric_id, "unit_price": "0.01"}],
            },
        ),
        201,
    )
    alert = await ok(
        await api.http.post(
            "/alerts", json={"metric_id": metric_id, "plan_id": plan["plan_id"], "threshold": 500}
        ),
        201,
    )
    sub = await ok(
        await api.http.post(
            "/subscriptions", json={"customer_id": customer_id, "plan_id": plan["plan_id"]}
        ),
        201,
    )
    return sub["state"]["subscription_id"], metric_id, alert["alert"]["alert_id"]


def records(sub_id: str, metric_id: str, keys: range, quantity: str = "1") -> dict[str, Any]:
    return {
        "records": [
            {
                "subscription_id": sub_id,
                "metric_id": metric_id,
                "quantity": quantity,
                "idempotency_key": f"k{n}",
            }
            for n in keys
        ]
    }


async def test_the_billing_story(api: Api, receiver: Receiver) -> None:
    hook = {"url": receiver.url, "event_types": ["invoice.paid", "usage_alert.triggered"]}
    secret = (await ok(await api.http.post("/endpoints", json=hook), 201))["secret"]
    sub_id, metric_id, alert_id = await billing_setup(api, "acme-story")
    customer = await ok(await api.http.get("/customers/acme-story"))
    assert [s["subscription_id"] for s in customer["subscriptions"]] == [sub_id]
    plans = await ok(await api.http.get("/plans"))
    assert [v["version"] for v in plans["data"]] == [1]

    # 1,000 records in one request, each with its key.
    started = time.perf_counter()
    batch = await ok(await api.http.post("/usage", json=records(sub_id, metric_id, range(1000))))
    seconds = time.perf_counter() - started
    assert (batch["accepted"], batch["duplicates"]) == (1000, 0)
    assert batch["usage"] == [
        {
            "subscription_id": sub_id,
            "metric_id": metric_id,
            "usage": "1000",
            "alerts_triggered": [alert_id],
        }
    ]
    assert seconds < 5, f"1,000 records took {seconds:.2f} s"
    [alerted] = await received(receiver, secret, "usage_alert.triggered")
    assert Decimal(alerted["properties"]["payload"]["usage"]) == 1000

    # Sent again: every key is a duplicate and nothing is added; an overlap adds the new ones.
    again = await ok(await api.http.post("/usage", json=records(sub_id, metric_id, range(1000))))
    assert (again["accepted"], again["duplicates"], again["usage"]) == (0, 1000, [])
    overlap = await ok(
        await api.http.post("/usage", json=records(sub_id, metric_id, range(995, 1005)))
    )
    assert (overlap["accepted"], overlap["duplicates"]) == (5, 5)
    assert [r["status"] for r in overlap["records"]] == ["duplicate"] * 5 + ["accepted"] * 5
    assert overlap["usage"][0]["usage"] == "1005"
    live = await ok(await api.http.get(f"/subscriptions/{sub_id}"))
    assert live["live"] and Decimal(live["state"]["usage"][metric_id]) == 1005

    # The in-advance invoice: shown with its lines, paid once.
    [first] = await invoices_of(api, sub_id, 1)
    shown = await ok(await api.http.get(f"/invoices/{first['invoice_id']}"))
    assert Decimal(shown["invoice"]["amount"]) == 10 and len(shown["lines"]) == 1
    payment = {"external_payment_obj_id": "pi_1", "external_payment_obj_type": "manual"}
    paid = await ok(await api.http.post(f"/invoices/{first['invoice_id']}/pay", json=payment))
    assert (paid["invoice"]["payment_status"], paid["already_paid"]) == ("paid", False)
    [event] = await received(receiver, secret, "invoice.paid")
    assert event["properties"]["payload"]["external_payment_obj_id"] == "pi_1"
    twice = await ok(await api.http.post(f"/invoices/{first['invoice_id']}/pay", json=payment))
    assert twice["already_paid"] is True
    refused = await api.http.post(f"/invoices/{first['invoice_id']}/void")
    assert error_of(refused, 409)["message"].startswith(f"invoice {first['invoice_id']} is paid")

    # Cancelled now: a final invoice for the usage so far, which is voided.
    cancelled = await ok(await api.http.post(f"/subscriptions/{sub_id}/cancel", json={}))
    assert cancelled["state"]["status"] == "ended"
    final = (await invoices_of(api, sub_id, 2))[0]
    assert Decimal(final["amount"]) == Decimal("10.05")
    voided = await ok(await api.http.post(f"/invoices/{final['invoice_id']}/void"))
    assert voided["payment_status"] == "voided"
    ended = await api.http.post("/usage", json=records(sub_id, metric_id, range(2000, 2001)))
    assert error_of(ended, 409)["message"] == f"record 0: subscription {sub_id} has ended"
    unpaid = await ok(await api.http.get("/invoices", params={"status": "unpaid"}))
    assert unpaid["data"] == []
    # invoice.paid was sent once.
    await asyncio.sleep(0.5)
    assert len(await received(receiver, secret, "invoice.paid")) == 1


async def test_a_bad_record_refuses_the_batch_and_writes_nothing(
    api: Api, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    sub_id, metric_id, _ = await billing_setup(api, "acme-bad")
    good = records(sub_id, metric_id, range(3))["records"]

    def spoiled(**change: str) -> list[dict[str, Any]]:
        return [*good[:2], {**good[2], **change}]

    cases: list[tuple[list[dict[str, Any]], int, str]] = [
        (spoiled(subscription_id="sub_nope"), 404, "record 2: no subscription sub_nope"),
        (spoiled(metric_id="metric_nope"), 422, "record 2: metric metric_nope is not billed"),
        (spoiled(quantity="-1"), 422, "record 2: "),
        (spoiled(quantity="NaN"), 422, "records.2.quantity: "),
        (spoiled(idempotency_key="k0"), 422, "record 2: idempotency key 'k0' appears twice"),
        (spoiled(idempotency_key="a\nb"), 422, "record 2: "),
        (spoiled(idempotency_key=""), 422, "record 2: the idempotency key is empty"),
        ([], 422, "a usage batch holds 1 to 10000 records, not 0"),
    ]
    for batch, status, message in cases:
        response = await api.http.post("/usage", json={"records": batch})
        assert error_of(response, status)["message"].startswith(message)
        assert usage_rows(api) == 0
    missing = error_of(await api.http.post("/usage", json={"records": [good[0], {}]}), 422)
    assert missing["message"].startswith("records.1.subscription_id: Field required")
    # The same refusal as the command line's, after the record's position.
    nope = await api.http.post(
        "/usage", json={"records": [{**good[0], "subscription_id": "sub_x"}]}
    )
    assert error_of(nope, 404)["message"] == "record 0: " + cli_error(
        monkeypatch, capsys, api.settings, "usage", "record", "sub_x", metric_id, "1"
    )
    assert usage_rows(api) == 0
    live = await ok(await api.http.get(f"/subscriptions/{sub_id}"))
    assert live["state"]["usage"] == {}


async def test_catalog_refusals_match_the_command_line(
    api: Api, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    await ok(await api.http.post("/customers", json={"customer_id": "acme-twice"}), 201)
    taken = error_of(await api.http.post("/customers", json={"customer_id": "acme-twice"}), 409)
    assert taken["message"] == cli_error(
        monkeypatch, capsys, api.settings, "customer", "create", "acme-twice"
    )
    zone = await api.http.post("/customers", json={"customer_id": "x", "timezone": "Mars/Olympus"})
    assert error_of(zone, 422)["message"] == cli_error(
        monkeypatch, capsys, api.settings, "customer", "create", "x", "--timezone", "Mars/Olympus"
    )
    period = await api.http.post("/plans", json={"name": "Bad", "period": "fortnightly"})
    assert error_of(period, 422)["message"] == cli_error(
        monkeypatch, capsys, api.settings, "plan", "create", "Bad", "--period", "fortnightly"
    )
    assert (await ok(await api.http.get("/plans")))["data"] == []
    customers = await ok(await api.http.get("/customers"))
    assert [c["customer_id"] for c in customers["data"]] == ["acme-twice"]
    unknown = await api.http.post("/subscriptions", json={"customer_id": "nobody", "plan_id": "p"})
    assert error_of(unknown, 404)["message"].startswith("no customer nobody")
    assert error_of(await api.http.get("/invoices/invoice_nope"), 404)["code"] == "not_found"
    assert error_of(await api.http.post("/invoices/invoice_nope/pay"), 404)["code"] == "not_found"


async def test_records_a_missing_worker_left_count_once_when_sent_again(
    dev_env: WorkflowEnvironment, api_settings: Settings, store: Store, run_worker: RunWorker
) -> None:
    key = await make_key(api_settings, store)
    with serving(api_settings, store, worker_wait=2.0) as url:
        headers = {"Authorization": f"Bearer {key}"}
        async with httpx.AsyncClient(base_url=url, headers=headers, timeout=60) as http:
            api = Api(url, key, http, api_settings, store)
            async with run_worker(dev_env.client, api_settings):
                sub_id, metric_id, _ = await billing_setup(api, "acme-alone")
            batch = records(sub_id, metric_id, range(10))
            alone = error_of(await http.post("/usage", json=batch), 503)
            assert alone["code"] == "no_worker"
            assert alone["message"].endswith(
                "the records are stored: send them again with the same keys and they count once"
            )
            assert usage_rows(api) == 10
            async with run_worker(dev_env.client, api_settings):
                again = await ok(await http.post("/usage", json=batch))
                assert (again["accepted"], again["duplicates"]) == (0, 10)
                assert again["usage"][0]["usage"] == "10"
                live = await ok(await http.get(f"/subscriptions/{sub_id}"))
                assert live["live"] and Decimal(live["state"]["usage"][metric_id]) == 10
