"""Webhook signatures that the Svix and Standard Webhooks libraries verify (delivery.md).

A secret is ``whsec_`` followed by base64; the HMAC key is the decoded part. Each attempt is
signed afresh with ``HMAC-SHA256(key, "{id}.{timestamp}.{body}")`` for every valid secret, and
the request carries both header families (``svix-*`` and ``webhook-*``) with the same values.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
import secrets as _random
from collections.abc import Sequence

from errors import InvalidSecret

SECRET_PREFIX = "whsec_"

#: Standard base64, optionally unpadded: the characters every Svix library decodes. Anything
#: else (spaces, URL-safe ``-_``) is rejected rather than silently skipped as ``b64decode`` would.
_BASE64 = re.compile(r"[A-Za-z0-9+/]+={0,2}")


def generate_secret() -> str:
    """A new signing secret: ``whsec_`` and base64 of 24 random bytes."""
    return SECRET_PREFIX + base64.b64encode(_random.token_bytes(24)).decode("ascii")


def secret_key(secret: str) -> bytes:
    """The HMAC key of a secret: its base64 part, decoded.

    Decodes exactly as the Svix libraries do, so a Lotus secret (``whsec_`` + 32 hex chars)
    works unchanged: its hex text is read as base64 and gives a 24-byte key.

    Raises:
        InvalidSecret: not ``whsec_`` followed by base64. The message never quotes the secret.
    """
    if not secret.startswith(SECRET_PREFIX):
        raise InvalidSecret(f"a signing secret must start with {SECRET_PREFIX!r}")
    encoded = secret.removeprefix(SECRET_PREFIX)
    if not _BASE64.fullmatch(encoded):
        raise InvalidSecret(f"a signing secret must be {SECRET_PREFIX!r} followed by base64")
    data = encoded.rstrip("=")
    try:
        # Svix pads before decoding, so unpadded secrets are accepted; so are they here.
        key = base64.b64decode(data + "=" * (-len(data) % 4), validate=True)
    except binascii.Error:
        # The library's message may quote the input: raise ours without it (and without cause).
        raise InvalidSecret("a signing secret's base64 part has an impossible length") from None
    if not key:
        raise InvalidSecret("a signing secret's key is empty")
    return key


def sign(key: bytes, msg_id: str, timestamp: int, body: bytes) -> str:
    """One ``v1,<base64>`` signature of ``{msg_id}.{timestamp}.{body}``.

    Args:
        key: the HMAC key (see ``secret_key``).
        msg_id: the message id, the same on every attempt.
        timestamp: this attempt's time in whole Unix seconds.
        body: the exact bytes sent.
    """
    signed = f"{msg_id}.{timestamp}.".encode() + body
    digest = hmac.new(key, signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode("ascii")


def signature_header(secrets: Sequence[str], msg_id: str, timestamp: int, body: bytes) -> str:
    """The signature header's value: one signature per valid secret, space-separated.

    During a rotation both the current and the previous secret sign, so receivers holding
    either one accept the request.

    Raises:
        InvalidSecret: no secret, or one that is not ``whsec_`` followed by base64.
    """
    if not secrets:
        raise InvalidSecret("an endpoint needs at least one signing secret")
    return " ".join(sign(secret_key(s), msg_id, timestamp, body) for s in secrets)


def webhook_headers(
    secrets: Sequence[str], msg_id: str, timestamp: int, body: bytes, user_agent: str
) -> dict[str, str]:
    """Every header of one attempt: content type, user agent, and both signature families.

    Args:
        secrets: the endpoint's valid secrets, current first.
        msg_id: the message id receivers de-duplicate on.
        timestamp: this attempt's time in whole Unix seconds; receivers reject it after 5 min.
        body: the exact bytes sent.
        user_agent: names the product and its version.
    """
    signature = signature_header(secrets, msg_id, timestamp, body)
    stamp = str(timestamp)
    return {
        "content-type": "application/json",
        "user-agent": user_agent,
        "svix-id": msg_id,
        "svix-timestamp": stamp,
        "svix-signature": signature,
        "webhook-id": msg_id,
        "webhook-timestamp": stamp,
        "webhook-signature": signature,
    }
