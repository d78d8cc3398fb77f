"""Verify a billhook webhook with the standard library only: the whole algorithm, no svix.

    from verify_hmac import verify
    event = verify(secret, request_headers, raw_body)   # raises InvalidWebhook

Prefer a Svix or Standard Webhooks library in an application (receiver.py); this shows what
they compute, for languages or platforms without one.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Mapping
from typing import Any

TOLERANCE_SECONDS = 5 * 60


class InvalidWebhook(Exception):
    """The request was not signed by billhook with this secret, or is too old or too new."""


def signature(secret: str, msg_id: str, timestamp: str, body: bytes) -> str:
    """The ``v1,<base64>`` signature billhook sends for these headers and this exact body."""
    encoded = secret.removeprefix("whsec_")
    key = base64.b64decode(encoded + "=" * (-len(encoded) % 4))  # Lotus's hex decodes too
    digest = hmac.new(key, f"{msg_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def verify(secret: str, headers: Mapping[str, str], body: bytes, now: float | None = None) -> Any:
    """Check the signature and timestamp of one request, then parse its body.

    Args:
        secret: the endpoint's signing secret, ``whsec_...``.
        headers: the request headers (either family: ``svix-*`` or ``webhook-*``).
        body: the raw body bytes, exactly as received, before any JSON parsing.
        now: the current Unix time; ``time.time()`` when None.
    """
    lower = {name.lower(): value for name, value in headers.items()}
    msg_id = lower.get("svix-id") or lower.get("webhook-id")
    timestamp = lower.get("svix-timestamp") or lower.get("webhook-timestamp")
    header = lower.get("svix-signature") or lower.get("webhook-signature")
    if not (msg_id and timestamp and header):
        raise InvalidWebhook("missing signature headers")
    try:
        sent_at = int(timestamp)
    except ValueError:
        raise InvalidWebhook("the timestamp is not whole Unix seconds") from None
    if abs((time.time() if now is None else now) - sent_at) > TOLERANCE_SECONDS:
        raise InvalidWebhook("the timestamp is more than 5 minutes off")
    expected = signature(secret, msg_id, timestamp, body)
    # One "v1,<base64>" per valid secret, space-separated: two during a secret rotation.
    if not any(hmac.compare_digest(expected.encode(), s.encode()) for s in header.split()):
        raise InvalidWebhook("no matching signature")
    return json.loads(body)
