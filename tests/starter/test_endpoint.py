"""``billhook endpoint ...``: a full round trip, and refused input that changes nothing."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest

from tests.starter.conftest import Cli, use_environment

LOTUS_SECRET = "whsec_" + "0123456789abcdef" * 2  # Lotus's form: whsec_ + 32 hex chars
URL = "https://hooks.example.com/billing"


def _created(output: str) -> tuple[str, str]:
    """The endpoint id and the secret ``endpoint create`` printed."""
    endpoint_id = re.search(r"created endpoint (whend_[0-9a-f]{32})", output)
    secret = re.search(r"^secret\s+(whsec_\S+)$", output, re.MULTILINE)
    assert endpoint_id and secret, output
    return endpoint_id.group(1), secret.group(1)


def _row(listing: str, endpoint_id: str) -> str:
    return next(line for line in listing.splitlines() if line.startswith(endpoint_id))


def test_round_trip(cli: Cli) -> None:
    created = cli.ok("endpoint", "create", URL, "--events", "invoice.created,invoice.paid")
    endpoint_id, secret = _created(created)
    assert "reveal-secret" in created and "verify(body, headers)" in created

    listing = cli.ok("endpoint", "list")
    assert listing.splitlines()[0].split() == ["id", "name", "url", "events", "status", "created"]
    row = _row(listing, endpoint_id)
    assert "hooks.example.com" in row and URL in row
    assert "invoice.created, invoice.paid" in row and "enabled" in row
    assert datetime.now(UTC).strftime("%Y-%m-%d") in row
    assert secret not in listing

    shown = cli.ok("endpoint", "show", endpoint_id)
    assert f"id             {endpoint_id}" in shown and "status         enabled" in shown
    assert secret not in shown

    updated = cli.ok(
        "endpoint", "update", endpoint_id, "--name", "Acme", "--events", "customer.created",
        "--url", "https://acme.example.com/hooks",
    )  # fmt: skip
    assert "events emitted from now on" in updated
    row = _row(cli.ok("endpoint", "list"), endpoint_id)
    assert "Acme" in row and "https://acme.example.com/hooks" in row
    assert "customer.created" in row and "invoice.paid" not in row

    assert "recorded as skipped" in cli.ok("endpoint", "disable", endpoint_id)
    assert "disabled (by hand)" in _row(cli.ok("endpoint", "list"), endpoint_id)
    assert "recover" in cli.ok("endpoint", "enable", endpoint_id)
    assert "enabled" in _row(cli.ok("endpoint", "list"), endpoint_id)


def test_secrets_rotate_reveal_and_delete(cli: Cli) -> None:
    endpoint_id, first = _created(cli.ok("endpoint", "create", URL, "--events", "invoice.paid"))
    assert cli.ok("endpoint", "reveal-secret", endpoint_id) == first + "\n"

    rotated = cli.ok("endpoint", "rotate-secret", endpoint_id)
    second = re.search(r"(whsec_\S+)", rotated)
    assert second and second.group(1) != first
    assert "stays valid for 24 h" in rotated
    assert cli.ok("endpoint", "reveal-secret", endpoint_id) == second.group(1) + "\n"
    # Both sign during the grace: receivers still holding the first one keep verifying.
    assert cli.store.signing_secrets(endpoint_id, datetime.now(UTC)) == [second.group(1), first]

    assert cli.ok("endpoint", "delete", endpoint_id) == f"deleted endpoint {endpoint_id}\n"
    assert cli.ok("endpoint", "list") == "(none)\n"
    assert cli("endpoint", "show", endpoint_id).code == 1


def test_lotus_secret_is_kept_unchanged(cli: Cli) -> None:
    endpoint_id, secret = _created(
        cli.ok("endpoint", "create", URL, "--events", "invoice.paid", "--secret", LOTUS_SECRET)
    )
    assert secret == LOTUS_SECRET
    assert cli.ok("endpoint", "reveal-secret", endpoint_id).strip() == LOTUS_SECRET


def test_credentials_are_masked_in_development(cli: Cli) -> None:
    url = "https://alice:hunter2@hooks.example.com/x"
    created = cli.ok("endpoint", "create", url, "--events", "invoice.paid")
    endpoint_id, _ = _created(created)
    for output in (created, cli.ok("endpoint", "list"), cli.ok("endpoint", "show", endpoint_id)):
        assert "hunter2" not in output
        assert "alice:***@hooks.example.com" in output


BAD_CREATES = {
    "ftp URL": (["ftp://files.example.com/in", "--events", "invoice.paid"], "http or https"),
    "no host": (["https:///path", "--events", "invoice.paid"], "no host"),
    "unknown event type": ([URL, "--events", "invoice.paid,invoice.voided"], "invoice.voided"),
    "no event type": ([URL, "--events", ","], "at least one event type"),
    "bad secret": ([URL, "--events", "invoice.paid", "--secret", "whsec_not base64!"], "secret"),
    "short secret": ([URL, "--events", "invoice.paid", "--secret", "whsec_c2hvcnQ="], "secret"),
    "secret without prefix": ([URL, "--events", "invoice.paid", "--secret", "abc"], "whsec_"),
}


@pytest.mark.parametrize("argv,reason", BAD_CREATES.values(), ids=BAD_CREATES.keys())
def test_refused_create_changes_nothing(cli: Cli, argv: list[str], reason: str) -> None:
    cli.ok("endpoint", "create", URL, "--events", "invoice.created")
    before = cli.ok("endpoint", "list")

    result = cli("endpoint", "create", *argv)

    assert result.code == 1
    assert result.out == ""
    assert result.err.startswith("error: ") and result.err.count("\n") == 1
    assert reason in result.err
    assert "not base64!" not in result.err  # a rejected secret is never echoed
    assert cli.ok("endpoint", "list") == before


def test_credentials_refused_in_production(cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    endpoint_id, _ = _created(cli.ok("endpoint", "create", URL, "--events", "invoice.paid"))
    before = cli.ok("endpoint", "list")
    use_environment(monkeypatch, "production")
    url = "https://alice:hunter2@hooks.example.com/x"

    for argv in (
        ["endpoint", "create", url, "--events", "invoice.paid"],
        ["endpoint", "update", endpoint_id, "--url", url],
    ):
        result = cli(*argv)
        assert result.code == 1 and result.out == ""
        assert result.err.startswith("error: ") and result.err.count("\n") == 1
        assert "credentials" in result.err and "hunter2" not in result.err
    assert cli.ok("endpoint", "list") == before


UNKNOWN = "whend_" + "0" * 32
UNKNOWN_ID_COMMANDS = {
    "show": ["show", UNKNOWN],
    "update": ["update", UNKNOWN, "--name", "x"],
    "disable": ["disable", UNKNOWN],
    "enable": ["enable", UNKNOWN],
    "delete": ["delete", UNKNOWN],
    "rotate-secret": ["rotate-secret", UNKNOWN],
    "reveal-secret": ["reveal-secret", UNKNOWN],
    "recover": ["recover", UNKNOWN, "--since", "1d"],
}


@pytest.mark.parametrize("argv", UNKNOWN_ID_COMMANDS.values(), ids=UNKNOWN_ID_COMMANDS.keys())
def test_unknown_endpoint(cli: Cli, argv: list[str]) -> None:
    cli.ok("endpoint", "create", URL, "--events", "invoice.paid")
    before = cli.ok("endpoint", "list")

    result = cli("endpoint", *argv)

    assert result.code == 1 and result.out == ""
    assert result.err == f"error: no endpoint {UNKNOWN}; list them with: billhook endpoint list\n"
    assert cli.ok("endpoint", "list") == before


def test_bad_update_changes_nothing(cli: Cli) -> None:
    endpoint_id, _ = _created(cli.ok("endpoint", "create", URL, "--events", "invoice.paid"))
    before = cli.ok("endpoint", "list")

    nothing = cli("endpoint", "update", endpoint_id)
    bad_events = cli("endpoint", "update", endpoint_id, "--events", "invoice.nope")
    bad_url = cli("endpoint", "update", endpoint_id, "--url", "mailto:ops@example.com")

    for result in (nothing, bad_events, bad_url):
        assert result.code == 1 and result.err.count("\n") == 1, result
    assert "nothing to update" in nothing.err
    assert cli.ok("endpoint", "list") == before


def test_usage_errors_exit_2(cli: Cli) -> None:
    assert cli("endpoint", "create", URL).code == 2  # --events is required
    assert cli("endpoint", "recover", UNKNOWN, "--since", "last week").code == 2
    assert cli("endpoint").code == 2
    assert cli().code == 2


def test_recover_needs_temporal_and_changes_nothing_without_it(cli: Cli) -> None:
    endpoint_id, _ = _created(cli.ok("endpoint", "create", URL, "--events", "invoice.paid"))
    cli.ok("endpoint", "disable", endpoint_id)

    result = cli("endpoint", "recover", endpoint_id, "--since", "2h")

    assert result.code == 1
    assert result.err == "error: cannot reach Temporal at 127.0.0.1:1: is `make run` up?\n"
    assert "disabled (by hand)" in _row(cli.ok("endpoint", "list"), endpoint_id)


def test_store_not_migrated(cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BILLHOOK_DATABASE_URL", "sqlite:///fresh.db")
    use_environment(monkeypatch, "development")

    result = cli("endpoint", "list")

    assert result.code == 1 and result.err.count("\n") == 1
    assert "billhook db upgrade" in result.err
