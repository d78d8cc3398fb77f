"""Payload encryption: every payload billhook sends to Temporal, sealed with AES-256-GCM.

A sealed payload keeps nothing of the original in clear: its metadata says only
``encoding: binary/encrypted``, the cipher and the id of the key, and its data is a random
96-bit nonce followed by the ciphertext of the whole serialized original payload (its
metadata and data) with the GCM tag. The key id is the associated data, so a payload cannot
be passed off as sealed by another key.

Keys come from ``BILLHOOK_CODEC_KEYS`` (``config.parse_codec_keys``): the first encrypts,
every one decrypts, so a new key goes first and the old ones stay until the histories sealed
with them are gone. A payload without this encoding (histories recorded before encryption was
on, payloads of other clients) is passed through as it is. A sealed payload that does not
decrypt (altered, or its key is not configured) raises ``CodecError``: nothing is ever
silently dropped or replaced.
"""

from __future__ import annotations

import base64
import dataclasses
import os
from collections.abc import Sequence

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from temporalio.api.common.v1 import Payload
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.converter import (
    DataConverter,
    DefaultFailureConverterWithEncodedAttributes,
    PayloadCodec,
)

from config import CODEC_KEY_BYTES, Settings

ENCODING = b"binary/encrypted"
CIPHER = b"AES-256-GCM"
KEY_ID = "encryption-key-id"
NONCE_BYTES = 12


class CodecError(ValueError):
    """A sealed payload that cannot be opened: altered, truncated, or sealed with an unknown key."""


class EncryptionCodec(PayloadCodec):
    """AES-256-GCM over whole payloads, with a key id in each payload's metadata.

    Args:
        keys: (key id, 32-byte key) pairs; the first encrypts, all decrypt.
    """

    def __init__(self, keys: Sequence[tuple[str, bytes]]) -> None:
        if not keys:
            raise ValueError("an encryption codec needs at least one key")
        self._ciphers = {key_id: AESGCM(key) for key_id, key in keys}
        self.key_id = keys[0][0]
        self.key_ids = tuple(key_id for key_id, _ in keys)

    def __repr__(self) -> str:
        return f"EncryptionCodec(encrypts with {self.key_id!r}, decrypts {list(self.key_ids)!r})"

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        """Seal every payload with the first key."""
        return self.encode_sync(payloads)

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        """Open every sealed payload; pass the others through."""
        return self.decode_sync(payloads)

    def encode_sync(self, payloads: Sequence[Payload]) -> list[Payload]:
        """``encode`` for callers without an event loop (the codec server's threads)."""
        return [self._seal(payload) for payload in payloads]

    def decode_sync(self, payloads: Sequence[Payload]) -> list[Payload]:
        """``decode`` for callers without an event loop.

        Raises:
            CodecError: a sealed payload does not open with the configured keys.
        """
        return [self._open(payload) if sealed(payload) else payload for payload in payloads]

    def _seal(self, payload: Payload) -> Payload:
        nonce = os.urandom(NONCE_BYTES)
        key_id = self.key_id.encode()
        data = self._ciphers[self.key_id].encrypt(nonce, payload.SerializeToString(), key_id)
        return Payload(
            metadata={"encoding": ENCODING, "encryption-cipher": CIPHER, KEY_ID: key_id},
            data=nonce + data,
        )

    def _open(self, payload: Payload) -> Payload:
        key_id = payload.metadata.get(KEY_ID, b"").decode(errors="replace")
        cipher = self._ciphers.get(key_id)
        if cipher is None:
            known = ", ".join(self.key_ids)
            raise CodecError(
                f"payload sealed with key {key_id!r}, which is not in BILLHOOK_CODEC_KEYS "
                f"(it has {known}); add that key back to decrypt it"
            )
        nonce, data = payload.data[:NONCE_BYTES], payload.data[NONCE_BYTES:]
        try:
            plain = cipher.decrypt(nonce, data, key_id.encode())
        except InvalidTag:
            raise CodecError(
                f"payload sealed with key {key_id!r} does not decrypt: it was altered or "
                "truncated, or the key under that id is not the one that sealed it"
            ) from None
        return Payload.FromString(plain)


def sealed(payload: Payload) -> bool:
    """Whether ``payload`` carries this codec's encoding (and so must be opened)."""
    return payload.metadata.get("encoding") == ENCODING


def codec_of(settings: Settings) -> EncryptionCodec | None:
    """The configured codec; None when ``BILLHOOK_CODEC_KEYS`` is empty (encryption off)."""
    keys = settings.codec_key_ring()
    return EncryptionCodec(keys) if keys else None


def data_converter(settings: Settings) -> DataConverter:
    """billhook's data converter: pydantic, and sealed payloads and failures when keys are set.

    With encryption on, failure messages and stack traces are sealed too (they are Temporal's
    "encoded attributes"): a refused update or a validation error may quote a customer's data.
    """
    codec = codec_of(settings)
    if codec is None:
        return pydantic_data_converter
    return dataclasses.replace(
        pydantic_data_converter,
        payload_codec=codec,
        failure_converter_class=DefaultFailureConverterWithEncodedAttributes,
    )


def new_key() -> str:
    """A fresh random key, base64 (the part after ``ID:`` in ``BILLHOOK_CODEC_KEYS``)."""
    return base64.b64encode(os.urandom(CODEC_KEY_BYTES)).decode()
