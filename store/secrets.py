"""Signing secrets: ``whsec_`` + base64, the format of Svix and Standard Webhooks (delivery.md).

The one home of the format: the store validates secrets callers bring, and the delivery
activity (``activities.signing``) decodes the stored ones with the same rules. The HMAC key is
the base64-decoded part after the prefix, decoded exactly as the Svix libraries do, so a Lotus
secret (``whsec_`` + 32 hex chars) works unchanged: its hex text is read as base64 (24 bytes).
A secret never appears in an error message, a log line or a Temporal payload.
"""

from __future__ import annotations

import base64
import binascii
import re
import secrets

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
