"""API keys guard every route but /health; the OpenAPI document validates."""

from __future__ import annotations

import sqlalchemy as sa
from openapi_spec_validator import validate

from client.api_keys import ApiKeys
from client.core import Core
from tests.api.conftest import Api, error_of, make_key, ok


async def test_health_needs_no_key_and_everything_else_does(api: Api) -> None:
    async with api.anonymous() as anonymous:
        assert await ok(await anonymous.get("/health")) == {"status": "ok"}
        for path in ("/endpoints", "/customers", "/invoices", "/event-types", "/messages"):
            response = await anonymous.get(path)
            error = error_of(response, 401)
            assert error == {
                "code": "unauthorized",
                "message": "an API key is required: Authorization: Bearer bh_...",
            }
            assert response.headers["www-authenticate"] == "Bearer"
        wrong = await anonymous.get("/endpoints", headers={"Authorization": "Bearer bh_nope"})
        assert error_of(wrong, 401)["message"] == "the API key is not valid or was revoked"
        basic = await anonymous.get("/endpoints", headers={"Authorization": f"Basic {api.key}"})
        assert error_of(basic, 401)["code"] == "unauthorized"
        # Refused before anything is written.
        created = await anonymous.post(
            "/endpoints", json={"url": "http://127.0.0.1:9/", "event_types": ["invoice.paid"]}
        )
        error_of(created, 401)
    assert (await ok(await api.http.get("/endpoints")))["data"] == []


async def test_a_revoked_key_is_refused_and_keys_are_stored_hashed(api: Api) -> None:
    other = await make_key(api.settings, api.store, "ci")
    headers = {"Authorization": f"Bearer {other}"}
    async with api.anonymous() as anonymous:
        await ok(await anonymous.get("/event-types", headers=headers))
        with api.store.engine.connect() as connection:
            rows = connection.execute(sa.text("SELECT * FROM apikey")).all()
        stored = " ".join(str(value) for row in rows for value in row)
        assert other not in stored and api.key not in stored
        key_id = next(row.id for row in rows if row.name == "ci")
        await ApiKeys(Core(api.settings, store=api.store)).revoke(key_id)
        refused = await anonymous.get("/event-types", headers=headers)
        assert error_of(refused, 401)["message"] == "the API key is not valid or was revoked"
    # The other key still works.
    assert len(await ok(await api.http.get("/event-types"))) == 8


async def test_openapi_document_validates_and_docs_are_served(api: Api) -> None:
    async with api.anonymous() as anonymous:
        # The document and the interactive docs are public, as the routes they describe are not.
        document = await ok(await anonymous.get("/openapi.json"))
        docs = await anonymous.get("/docs")
    validate(document)
    assert docs.status_code == 200 and "swagger" in docs.text.lower()
    paths = document["paths"]
    for path in (
        "/endpoints/{endpoint_id}/rotate-secret",
        "/messages/{message_id}/resend",
        "/usage",
        "/invoices/{invoice_id}/pay",
        "/subscriptions/{subscription_id}/cancel",
        "/integrations/stripe/webhook",
    ):
        assert path in paths
    assert "HTTPBearer" in document["components"]["securitySchemes"]
    assert "security" in paths["/usage"]["post"] and "security" not in paths["/health"]["get"]


async def test_unknown_routes_and_bad_json_are_json_errors(api: Api) -> None:
    assert error_of(await api.http.get("/nope"), 404)["code"] == "not_found"
    bad = await api.http.post(
        "/endpoints", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert error_of(bad, 400)["code"] == "bad_request"
    missing = await api.http.post("/endpoints", json={"event_types": ["invoice.paid"]})
    assert error_of(missing, 422) == {"code": "invalid_input", "message": "url: Field required"}
