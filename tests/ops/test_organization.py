"""The organization's settings (``BILLHOOK_ORGANIZATION_*``): read, checked, given to invoices."""

from __future__ import annotations

from pathlib import Path

import pytest

from config import InvalidSettings, get_settings
from models.organization import Organization


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
