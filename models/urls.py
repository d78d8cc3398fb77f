"""Endpoint URLs: the schemes billhook delivers to, credentials in them, and how they are shown.

The one home of these rules, for the store (validation), the transport (delivery) and the
command line (listings). A URL's userinfo (``user:password@`` or a bare ``token@``) is a
credential: production refuses it, and neither part is ever written to an attempt record or a
log line. Two ways to show a URL, for two readers:

- ``redact_url``: records and errors (attempt records, delivery failures, logs) get no part of
  the userinfo; it works on any text, so a message that quotes a URL can be passed whole.
- ``mask_credentials``: the endpoint's owner (listings, refusals of their own input) keeps the
  user name, so they can tell which account is configured, and the password becomes ``***``;
  a bare user, which is then a token, becomes ``***`` itself.

Database URLs follow SQLAlchemy's grammar instead, where a password may hold an unescaped ``/``
or ``#`` that these rules would cut short: ``store.engine.display_url`` masks them with
SQLAlchemy's own parser.
"""

from __future__ import annotations

import re
from urllib.parse import unquote, urlsplit

#: The schemes billhook delivers to, and the port each implies.
DEFAULT_PORTS = {"http": 80, "https": 443}
#: ``scheme://`` and the authority: up to the first ``/``, ``?`` or ``#`` (RFC 3986).
_AUTHORITY = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://([^/?#]*)")
#: ``scheme://userinfo@``: greedy up to the authority's last ``@``, anywhere in a text.
_USERINFO = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*://)([^/?#\s]*)@")


def has_credentials(url: str) -> bool:
    """Whether ``url`` carries a userinfo part (``user:password@``, ``token@``, even ``@``)."""
    authority = _AUTHORITY.match(url)
    return authority is not None and "@" in authority[1]


def redact_url(text: str) -> str:
    """``text`` without the userinfo of any URL in it (``https://u:p@host/`` -> ``https://host/``)."""
    return _USERINFO.sub(r"\1", text)


def mask_credentials(url: str) -> str:
    """``url`` with its password (or a bare user, a token) shown as ``***``, its user kept.

    ``https://alice:hunter2@host/`` becomes ``https://alice:***@host/`` and
    ``https://tok_123@host/`` becomes ``https://***@host/``; a URL without userinfo is unchanged,
    and one that cannot be parsed loses its userinfo as in ``redact_url``.
    """
    try:
        parts = urlsplit(url)
    except ValueError:
        return redact_url(url)
    if parts.username is None:
        return url
    userinfo, _, host = parts.netloc.rpartition("@")
    user, colon, _ = userinfo.partition(":")
    return parts._replace(netloc=f"{user}:***@{host}" if colon else f"***@{host}").geturl()


def credentials_in(text: str) -> set[str]:
    """Every userinfo of the URLs in ``text``, its user and its password, raw and decoded.

    What a message about a request to ``text`` must not quote: a library's error may echo any
    of these forms.
    """
    found: set[str] = set()
    for match in _USERINFO.finditer(text):
        parts = [match[2], *match[2].split(":", 1)]
        found.update(parts, (unquote(part) for part in parts))
    return found
