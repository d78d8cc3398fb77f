"""Signing secrets and the webhook signatures that Svix and Standard Webhooks libraries verify.

A secret is ``whsec_`` + base64, the format of Svix and Standard Webhooks (delivery.md); the HMAC
key is the base64-decoded part after the prefix, decoded exactly as the Svix libraries do, so a
Lotus secret (``whsec_`` + 32 hex chars) works unchanged: its hex text is read as base64 (24
bytes). The store validates the secrets callers bring with ``validate_secret`` and the delivery
activity signs with the stored ones, by the same rules. Each attempt is signed afresh with
``HMAC-SHA256(key, "{id}.{timestamp}.{body}")`` for every valid secret, and the request carries
both header families (``svix-*`` and ``webhook-*``) with the same values. A secret never appears
in an error message, a log line or a Temporal payload.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
import secrets
from collections.abc import Sequence

from errors import InvalidSecret

PREFIX = "whsec_"
#: Random bytes in a generated secret (Svix's size).
GENERATED_KEY_BYTES = 24
#: Shortest key accepted from a caller: 128 bits, below which HMAC-SHA256 is weakened.
MIN_KEY_BYTES = 16
#: Standard base64, optionally unpadded: the characters every Svix library decodes. Anything
#: else (spaces, URL-safe ``-_``) is refused rather than silently skipped as ``b64decode`` would.
_BASE64 = re.compile(r"[A-Za-z0-9+/]+={0,2}")


def generate_secret() -> str:
    """A fresh secret: ``whsec_`` + base64 of 24 random bytes."""
    return PREFIX + base64.b64encode(secrets.token_bytes(GENERATED_KEY_BYTES)).decode()


def secret_key(secret: str) -> bytes:
    """The HMAC key of a secret, as the Svix libraries decode it (unpadded base64 too).

    Raises:
        InvalidSecret: not ``whsec_`` + base64 of at least 16 bytes (the secret is not quoted).
    """
    if not secret.startswith(PREFIX):
        raise _invalid("it does not start with whsec_")
    encoded = secret.removeprefix(PREFIX)
    if not _BASE64.fullmatch(encoded):
        raise _invalid("the part after whsec_ is not base64")
    data = encoded.rstrip("=")
    try:
        key = base64.b64decode(data + "=" * (-len(data) % 4), validate=True)
    except (binascii.Error, ValueError):
        raise _invalid("the part after whsec_ has a length base64 cannot have") from None
    if len(key) < MIN_KEY_BYTES:
        raise _invalid(f"it decodes to {len(key)} bytes, fewer than {MIN_KEY_BYTES}")
    return key


def validate_secret(secret: str) -> str:
    """Return ``secret`` unchanged if it is a usable signing secret.

    Raises:
        InvalidSecret: see ``secret_key``.
    """
    secret_key(secret)
    return secret


def _invalid(why: str) -> InvalidSecret:
    # ``from None`` above and no quoting here: the rejected text may be a real secret.
    return InvalidSecret(
        f"invalid signing secret: {why}; give whsec_ followed by base64 of at least "
        f"{MIN_KEY_BYTES} bytes, or leave it out to generate one"
    )


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
