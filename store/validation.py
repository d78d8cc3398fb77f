"""Checks on endpoint input that the store applies before writing anything.

Production-only rules (credentials in URLs) and address checks belong to the callers and the
transport; the store only refuses what can never be delivered.
"""

from __future__ import annotations

from collections.abc import Sequence
from urllib.parse import SplitResult, urlsplit

from errors import InvalidUrl, UnknownEventType
from models.events import EventType

SCHEMES = ("http", "https")


def endpoint_host(url: str) -> str:
    """The host of a valid endpoint URL, which is also an endpoint's default name.

    Raises:
        InvalidUrl: not ``http``/``https``, no host, a bad port, or whitespace in the URL.
    """
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - parsing the port is the check; it raises ValueError
    except ValueError as exc:
        raise InvalidUrl(f"endpoint URL {_shown(url)} cannot be parsed: {exc}") from None
    if parts.scheme.lower() not in SCHEMES:
        raise InvalidUrl(
            f"endpoint URL {_shown(url, parts)} must use http or https, "
            f"not {parts.scheme or 'no scheme'!r}"
        )
    if not parts.hostname:
        raise InvalidUrl(f"endpoint URL {_shown(url, parts)} has no host")
    if any(char.isspace() for char in url):
        raise InvalidUrl(f"endpoint URL {_shown(url, parts)} contains whitespace")
    return parts.hostname


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


def _shown(url: str, parts: SplitResult | None = None) -> str:
    """``url`` quoted for a message, its password (if any) masked: messages reach logs."""
    if parts is not None and parts.password is not None:
        user, _, host = parts.netloc.rpartition("@")
        url = parts._replace(netloc=f"{user.partition(':')[0]}:***@{host}").geturl()
    return repr(url)
