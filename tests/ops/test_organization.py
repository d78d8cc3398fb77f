"""The organization's settings (``BILLHOOK_ORGANIZATION_*``): read, checked, given to invoices."""

from __future__ import annotations

from pathlib import Path

import pytest

from config import InvalidSettings, get_settings
from models.organization import Organization
from tests.models import fixtures


def read(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, **env: str) -> Organization:
    """The organization of the settings read with ``env`` only (no ``.env`` file)."""
    monkeypatch.chdir(tmp_path)
    for name, value in env.items():
        monkeypatch.setenv(f"BILLHOOK_{name.upper()}", value)
    get_settings.cache_clear()
    try:
        return get_settings().organization()
    finally:
        get_settings.cache_clear()


def test_the_organization_is_in_utc_by_default(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    assert read(monkeypatch, tmp_path).timezone == "UTC"


def test_the_organizations_timezone_is_read(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    assert read(monkeypatch, tmp_path, organization_timezone="Europe/Paris").timezone == (
        "Europe/Paris"
    )


def test_an_unknown_timezone_is_a_one_line_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    with pytest.raises(InvalidSettings) as raised:
        read(monkeypatch, tmp_path, organization_timezone="Mars/Olympus")

    assert str(raised.value) == (
        "invalid settings: BILLHOOK_ORGANIZATION_TIMEZONE: unknown timezone 'Mars/Olympus': "
        "use an IANA name such as UTC"
    )


def test_the_seller_is_read_from_the_organizations_settings(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    organization = read(
        monkeypatch,
        tmp_path,
        organization_name="Example Billing Co.",
        organization_email="invoices@billing.example",
        organization_phone="+1 212 555 0100",
        organization_address="line1=100 Broadway; city=New York;state=NY;postal_code=10005;"
        "country=US",
    )

    # The seller of the payload tests' golden invoices, which have a PDF URL too.
    assert organization == fixtures.ORGANIZATION.model_copy(update={"pdf_base_url": None})


def test_no_seller_settings_mean_no_seller(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    organization = read(monkeypatch, tmp_path, organization_name="", organization_address="")

    assert (organization.name, organization.address, organization.email) == (None, None, None)


@pytest.mark.parametrize(
    ("name", "value", "says"),
    [
        ("organization_address", "line1=1 Main St;city=Paris", "has no country"),
        ("organization_address", "line1=1 Main St;city=Paris;country=France", "two-letter ISO"),
        ("organization_address", "street=1 Main St", "is not KEY=VALUE with KEY one of city,"),
        ("organization_address", "line1=a;line1=b;city=c;country=FR", "line1 is given twice"),
        ("organization_email", "invoices at example.com", "is not an email address"),
        ("organization_name", "x" * 201, "is 201 characters long; give at most 200"),
    ],
)
def test_a_bad_seller_setting_is_a_one_line_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, name: str, value: str, says: str
) -> None:
    with pytest.raises(InvalidSettings) as raised:
        read(monkeypatch, tmp_path, **{name: value})

    message = str(raised.value)
    assert message.startswith(f"invalid settings: BILLHOOK_{name.upper()}: ")
    assert says in message and "\n" not in message


def test_the_organizations_net_terms_are_read(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    assert read(monkeypatch, tmp_path, organization_net_terms="15").net_terms_days == 15
    assert read(monkeypatch, tmp_path, organization_net_terms="").net_terms_days is None
    assert read(monkeypatch, tmp_path).net_terms_days is None  # unset: no due date


@pytest.mark.parametrize("value", ["-1", "3651", "thirty"])
def test_bad_net_terms_are_a_one_line_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, value: str
) -> None:
    with pytest.raises(InvalidSettings) as raised:
        read(monkeypatch, tmp_path, organization_net_terms=value)

    message = str(raised.value)
    assert message.startswith("invalid settings: BILLHOOK_ORGANIZATION_NET_TERMS: ")
    assert "\n" not in message


def test_the_pdf_base_url_is_read_without_its_trailing_slash(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    organization = read(
        monkeypatch, tmp_path, invoice_pdf_base_url="https://billing.example.com/pdf/"
    )

    assert (
        organization.pdf_url("invoice_1")
        == "https://billing.example.com/pdf/invoices/invoice_1.pdf"
    )
    monkeypatch.delenv("BILLHOOK_INVOICE_PDF_BASE_URL")
    assert read(monkeypatch, tmp_path).pdf_url("invoice_1") is None


@pytest.mark.parametrize("value", ["billing.example.com", "ftp://x.example", "https://a b.example"])
def test_a_bad_pdf_base_url_is_a_one_line_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, value: str
) -> None:
    with pytest.raises(InvalidSettings) as raised:
        read(monkeypatch, tmp_path, invoice_pdf_base_url=value)

    assert str(raised.value) == (
        "invalid settings: BILLHOOK_INVOICE_PDF_BASE_URL: is not an http(s) URL like "
        "https://billing.example.com"
    )
