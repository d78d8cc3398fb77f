"""Signatures as receivers check them: with the Svix and Standard Webhooks libraries."""

from __future__ import annotations

import base64
import time
import traceback
import uuid

import pytest
import standardwebhooks.webhooks
import svix.webhooks

from errors import InvalidSecret
from models import signing

UA = "billhook/test"
MSG_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
BODY = b'{"attempt":1,"properties":{"event_type":"invoice.paid","payload":{}}}'


def test_svix_documented_vector() -> None:
    key = signing.secret_key("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
    signature = signing.sign(key, MSG_ID, 1614265330, b'{"test": 2432232314}')
    assert signature == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def test_generated_secret_is_whsec_and_24_bytes() -> None:
    secret = signing.generate_secret()
    assert secret.startswith("whsec_")
    assert len(base64.b64decode(secret.removeprefix("whsec_"), validate=True)) == 24
    assert signing.secret_key(secret) == base64.b64decode(secret.removeprefix("whsec_"))
    assert signing.generate_secret() != secret


def test_headers_carry_both_families() -> None:
    headers = signing.webhook_headers([signing.generate_secret()], MSG_ID, 1700000000, BODY, UA)
    assert headers["content-type"] == "application/json"
    assert headers["user-agent"] == UA
    for family in ("svix", "webhook"):
        assert headers[f"{family}-id"] == MSG_ID
        assert headers[f"{family}-timestamp"] == "1700000000"
        assert headers[f"{family}-signature"].startswith("v1,")
    assert headers["svix-signature"] == headers["webhook-signature"]


def test_round_trip_verified_by_svix_and_standard_webhooks() -> None:
    secret = signing.generate_secret()
    headers = signing.webhook_headers([secret], MSG_ID, int(time.time()), BODY, UA)
    svix.webhooks.Webhook(secret).verify(BODY, headers)
    standardwebhooks.webhooks.Webhook(secret).verify(BODY, headers)


def test_each_family_alone_verifies_with_standard_webhooks() -> None:
    secret = signing.generate_secret()
    headers = signing.webhook_headers([secret], MSG_ID, int(time.time()), BODY, UA)
    webhook_only = {k: v for k, v in headers.items() if not k.startswith("svix-")}
    svix_only = {k: v for k, v in headers.items() if not k.startswith("webhook-")}
    standardwebhooks.webhooks.Webhook(secret).verify(BODY, webhook_only)
    svix.webhooks.Webhook(secret).verify(BODY, svix_only)


def test_lotus_secret_works_unchanged() -> None:
    secret = "whsec_" + uuid.uuid4().hex
    assert len(signing.secret_key(secret)) == 24
    headers = signing.webhook_headers([secret], MSG_ID, int(time.time()), BODY, UA)
    svix.webhooks.Webhook(secret).verify(BODY, headers)
    standardwebhooks.webhooks.Webhook(secret).verify(BODY, headers)


def test_rotation_signs_with_both_secrets() -> None:
    current, previous = signing.generate_secret(), signing.generate_secret()
    headers = signing.webhook_headers([current, previous], MSG_ID, int(time.time()), BODY, UA)
    assert len(headers["svix-signature"].split(" ")) == 2
    for secret in (current, previous):
        svix.webhooks.Webhook(secret).verify(BODY, headers)
        standardwebhooks.webhooks.Webhook(secret).verify(BODY, headers)
    with pytest.raises(svix.webhooks.WebhookVerificationError):
        svix.webhooks.Webhook(signing.generate_secret()).verify(BODY, headers)


def test_tampered_body_rejected() -> None:
    secret = signing.generate_secret()
    headers = signing.webhook_headers([secret], MSG_ID, int(time.time()), BODY, UA)
    with pytest.raises(svix.webhooks.WebhookVerificationError):
        svix.webhooks.Webhook(secret).verify(BODY.replace(b"1", b"2"), headers)


def test_old_timestamp_rejected() -> None:
    secret = signing.generate_secret()
    headers = signing.webhook_headers([secret], MSG_ID, int(time.time()) - 6 * 60, BODY, UA)
    with pytest.raises(svix.webhooks.WebhookVerificationError):
        svix.webhooks.Webhook(secret).verify(BODY, headers)


def test_unpadded_secret_decodes_as_svix_does() -> None:
    key = b"0123456789abcdefghijkl"  # 22 bytes: base64 ends in "=="
    padded = "whsec_" + base64.b64encode(key).decode()
    assert padded.endswith("=")
    unpadded = padded.rstrip("=")
    assert signing.secret_key(unpadded) == signing.secret_key(padded) == key
    headers = signing.webhook_headers([unpadded], MSG_ID, int(time.time()), BODY, UA)
    svix.webhooks.Webhook(unpadded).verify(BODY, headers)


@pytest.mark.parametrize(
    "secret",
    [
        "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",  # no prefix
        "whsec_",  # nothing to decode
        "whsec_not base64 at all",
        "whsec_abcde",  # a length base64 cannot have
        "whsec_s3cr3t-v@lue!",
        "whsec_====",
    ],
)
def test_invalid_secret_never_leaks(secret: str) -> None:
    with pytest.raises(InvalidSecret) as info:
        signing.secret_key(secret)
    # Not in the message, nor in a chained exception of the printed traceback.
    printed = "".join(traceback.format_exception(info.value))
    secret_part = secret.removeprefix("whsec_").strip("=")
    if secret_part:
        assert secret_part not in printed


def test_signing_without_secret_refused() -> None:
    with pytest.raises(InvalidSecret):
        signing.webhook_headers([], MSG_ID, 1, BODY, UA)
