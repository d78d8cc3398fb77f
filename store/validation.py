"""Checks on endpoint input that the store applies before writing anything.

Production-only rules (credentials in URLs) and address checks belong to the callers and the
transport; the store only refuses what can never be delivered. The URL rules themselves (schemes,
credentials, masking) live in ``models.urls``.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from urllib.parse import urlsplit

from errors import InvalidInput, InvalidUrl, UnknownEventType
from models.events import EventType
from models.urls import DEFAULT_PORTS, mask_credentials

#: Longer URLs are refused: browsers and proxies cap them near here, and no receiver needs more.
MAX_URL_LENGTH = 2048
#: The most characters of a name, label or id a person gives (customer, plan, metric, endpoint).
MAX_NAME_LENGTH = 200
#: Bidirectional formatting characters: they make text display other than it reads
#: (CVE-2021-42574, "Trojan Source"); refused with the control characters.
_BIDI = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def unsafe_character(text: str) -> str | None:
    """The first control or bidirectional formatting character of ``text`` (escaped), if any."""
    for char in text:
        if char in _BIDI or unicodedata.category(char) == "Cc":
            return f"U+{ord(char):04X}"
    return None


def check_text(what: str, value: str, max_length: int = MAX_NAME_LENGTH) -> str:
    """``value`` if it is fit to store and show: not too long, no control or bidi characters.

    Any other text is kept verbatim (quotes, SQL, emoji, any script): it is stored as data.

    Raises:
        InvalidInput: ``value`` is longer than ``max_length`` or has such a character.
    """
    if len(value) > max_length:
        raise InvalidInput(f"the {what} is {len(value)} characters long; give at most {max_length}")
    if (char := unsafe_character(value)) is not None:
        raise InvalidInput(
            f"the {what} contains the control or bidirectional character {char}; remove it"
        )
    return value


def check_name(what: str, value: str, max_length: int = MAX_NAME_LENGTH) -> str:
    """``check_text``, and not blank unless empty (an empty name means the default).

    Raises:
        InvalidInput: see ``check_text``, or only whitespace.
    """
    if value and not value.strip():
        raise InvalidInput(f"the {what} is blank; give one, or leave it out")
    return check_text(what, value, max_length)


def endpoint_host(url: str) -> str:
    """The host of a valid endpoint URL, which is also an endpoint's default name.

    Raises:
        InvalidUrl: not ``http``/``https``, no host, a bad port, a host no resolver can look up,
            whitespace or control characters in the URL, or longer than ``MAX_URL_LENGTH``.
    """
    if len(url) > MAX_URL_LENGTH:
        raise InvalidUrl(
            f"the endpoint URL is {len(url)} characters long; give at most {MAX_URL_LENGTH}"
        )
    if (char := unsafe_character(url)) is not None:
        # Not quoted: it could carry a password, and the character itself is what is wrong.
        raise InvalidUrl(
            f"the endpoint URL contains the control or bidirectional character {char}; remove it"
        )
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - parsing the port is the check; it raises ValueError
    except ValueError as exc:
        raise InvalidUrl(f"endpoint URL {_shown(url)} cannot be parsed: {exc}") from None
    if parts.scheme.lower() not in DEFAULT_PORTS:
        raise InvalidUrl(
            f"endpoint URL {_shown(url)} must use http or https, "
            f"not {parts.scheme or 'no scheme'!r}"
        )
    if not parts.hostname:
        raise InvalidUrl(f"endpoint URL {_shown(url)} has no host")
    if any(char.isspace() for char in url):
        raise InvalidUrl(f"endpoint URL {_shown(url)} contains whitespace")
    _check_host(url, parts.hostname)
    return parts.hostname


def _check_host(url: str, host: str) -> None:
    """Refuse a host name no resolver can look up (an empty label, over 63 characters, ...)."""
    if ":" in host:
        return  # an IPv6 literal, which urlsplit checked
    try:
        host.encode("idna")
    except UnicodeError as exc:
        raise InvalidUrl(f"endpoint URL {_shown(url)} has an invalid host name: {exc}") from None


def event_types(values: Sequence[str]) -> list[str]:
    """The catalog's event types in ``values``, deduplicated in the order given.

    Raises:
        UnknownEventType: ``values`` is empty or names a type outside the catalog.
    """
    valid = ", ".join(EventType)
    if isinstance(values, str):
        values = [values]  # one type given bare; iterating it would yield characters
    if not values:
        raise UnknownEventType(f"an endpoint needs at least one event type; valid types: {valid}")
    unknown = [value for value in values if value not in EventType._value2member_map_]
    if unknown:
        names = ", ".join(repr(value) for value in unknown)
        raise UnknownEventType(f"unknown event type {names}; valid types: {valid}")
    return list(dict.fromkeys(str(value) for value in values))


def _shown(url: str) -> str:
    """``url`` quoted for a message, its credentials masked: messages reach logs."""
    return repr(mask_credentials(url))
