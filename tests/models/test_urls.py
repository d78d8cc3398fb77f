"""``models.urls``: what counts as credentials in a URL, and the two ways a URL is shown."""

from __future__ import annotations

import pytest

from models.urls import credentials_in, has_credentials, mask_credentials, redact_url


@pytest.mark.parametrize(
    ("url", "redacted"),
    [
        ("https://user:pass@example.com/hook?x=1", "https://example.com/hook?x=1"),
        ("https://token@example.com:8443/", "https://example.com:8443/"),
        ("https://a:b@c@example.com/", "https://example.com/"),
        ("https://example.com/a@b", "https://example.com/a@b"),
        ("not a url", "not a url"),
        (
            "to https://u:p@a.example/ and http://v@b.example/x",
            "to https://a.example/ and http://b.example/x",
        ),
    ],
)
def test_redact_url_drops_every_userinfo(url: str, redacted: str) -> None:
    assert redact_url(url) == redacted


@pytest.mark.parametrize(
    ("url", "masked"),
    [
        ("https://alice:hunter2@hooks.example.com/x", "https://alice:***@hooks.example.com/x"),
        ("https://alice:@hooks.example.com/", "https://alice:***@hooks.example.com/"),
        ("https://tok_hunter2@hooks.example.com/", "https://***@hooks.example.com/"),
        ("ftp://user:s3cret@example.com/", "ftp://user:***@example.com/"),
        ("https://a:b@c@example.com/", "https://a:***@example.com/"),
        ("https://user:pw@example.com:99999/", "https://user:***@example.com:99999/"),
        ("https://example.com/a@b?x=1", "https://example.com/a@b?x=1"),
        ("http://u:p@[::1/", "http://[::1/"),  # unparsable: the userinfo goes altogether
        ("files.example.com/hook", "files.example.com/hook"),
    ],
)
def test_mask_credentials_keeps_the_user_of_a_password(url: str, masked: str) -> None:
    assert mask_credentials(url) == masked


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://alice:hunter2@example.com/", True),
        ("https://tok_123@example.com/", True),
        ("https://@example.com/", True),
        ("http://hooks.example.com@169.254.169.254/", True),
        ("https://example.com/a@b", False),
        ("https://example.com/?next=a@b", False),
        ("https://example.com:8443/#a@b", False),
        ("example.com@evil/", False),  # no scheme: no authority either
    ],
)
def test_has_credentials(url: str, expected: bool) -> None:
    assert has_credentials(url) is expected


def test_credentials_in_gives_raw_and_decoded_parts() -> None:
    found = credentials_in("https://al%40ce:p%3Ass@example.com/ and more")
    assert {"al%40ce:p%3Ass", "al%40ce", "p%3Ass", "al@ce", "p:ss"} <= found
    assert credentials_in("https://example.com/a@b") == set()
