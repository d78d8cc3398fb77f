"""Postal addresses: a customer's (given at creation) and the seller's (settings).

One shape, Lotus's ``{city, country, line1, line2, postal_code, state}``, for the payloads and
for what billhook stores; one rule for what a usable address has (``address_problem``) and one
way to read one from ``KEY=VALUE`` pairs (``parse_address``), for the command line and settings.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from pydantic import BaseModel, ConfigDict

#: The most characters of one field of an address.
MAX_FIELD_LENGTH = 200
_COUNTRY = re.compile(r"[A-Z]{2}")


class Address(BaseModel):
    """A postal address, as payloads show it (Lotus's Address)."""

    model_config = ConfigDict(extra="forbid")

    city: str | None = None
    country: str | None = None  # ISO 3166-1 alpha-2: US, FR
    line1: str | None = None
    line2: str | None = None
    postal_code: str | None = None
    state: str | None = None


FIELDS = tuple(Address.model_fields)
#: What an address must have to be sent (Lotus required them too).
REQUIRED = ("line1", "city", "country")


def address_problem(address: Address) -> str | None:
    """What makes ``address`` unusable, in words, or None when it is fine."""
    missing = [name for name in REQUIRED if not (getattr(address, name) or "").strip()]
    if missing:
        return f"has no {', '.join(missing)} (it needs at least {', '.join(REQUIRED)})"
    for name in FIELDS:
        value = getattr(address, name)
        if value is not None and len(value) > MAX_FIELD_LENGTH:
            return f"{name} is {len(value)} characters long; give at most {MAX_FIELD_LENGTH}"
    if not _COUNTRY.fullmatch(address.country or ""):
        return f"country {address.country!r} is not a two-letter ISO 3166 code like US or FR"
    return None


def parse_address(pairs: Iterable[str]) -> Address:
    """The address of ``KEY=VALUE`` pairs (``line1=548 Market St``, ``country=US``).

    Raises:
        ValueError: a pair without ``=``, an unknown or repeated key, or an unusable address;
            the message is one line.
    """
    fields: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        key = key.strip().lower()
        if not sep or key not in FIELDS:
            raise ValueError(f"{pair!r} is not KEY=VALUE with KEY one of {', '.join(FIELDS)}")
        if key in fields:
            raise ValueError(f"{key} is given twice")
        fields[key] = value.strip()
    address = Address.model_validate({k: v or None for k, v in fields.items()})
    if (problem := address_problem(address)) is not None:
        raise ValueError(problem)
    return address
