"""Webhook signatures that the Svix and Standard Webhooks libraries verify (delivery.md).

A secret is ``whsec_`` followed by base64 (``store.secrets`` owns the format); the HMAC key is
the decoded part. Each attempt is signed afresh with ``HMAC-SHA256(key, "{id}.{timestamp}.
{body}")`` for every valid secret, and the request carries both header families (``svix-*``
and ``webhook-*``) with the same values.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Sequence

from errors import InvalidSecret
from store.secrets import generate_secret, secret_key

__all__ = ["generate_secret", "secret_key", "sign", "signature_header", "webhook_headers"]


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
