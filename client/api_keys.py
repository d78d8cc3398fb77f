"""``BillhookClient``'s API keys: the bearer keys of the REST API (``billhook serve``).

A key is ``bh_`` and 43 characters of ``secrets.token_urlsafe`` (256 random bits). The store
keeps its SHA-256 only (``store.api_records``): the key is in ``create``'s answer, this once,
and a request's key is checked by its hash, compared in constant time.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from pydantic import BaseModel

from client.core import Group, M, operation
from store.api_records import ApiKeyInfo, ApiRecords

API_KEY_PREFIX = "bh_"
#: How much of a key listings show: the prefix and 8 characters.
SHOWN_LENGTH = len(API_KEY_PREFIX) + 8
#: Longer than any key made here: a longer bearer token is refused without hashing it.
MAX_KEY_LENGTH = 200


class ApiKeyCreated(BaseModel):
    """A new API key and the key itself, which is never shown again."""

    key: ApiKeyInfo
    secret: str


def key_hash(key: str) -> str:
    """The SHA-256 of a key, hex: what the store keeps."""
    return hashlib.sha256(key.encode()).hexdigest()


class ApiKeys(Group[M]):
    """The REST API's bearer keys: create (shown once), list, revoke, check."""

    async def _records(self) -> ApiRecords:
        return ApiRecords((await self._core.store()).engine)

    @operation
    async def create(self, name: str) -> ApiKeyCreated:
        """Make a key named ``name``; the answer holds the key, this once.

        Raises:
            InvalidInput: an empty name, or one with control characters or over 200 long.
        """
        secret = API_KEY_PREFIX + secrets.token_urlsafe(32)
        records = await self._records()
        info = await self._core.blocking(
            records.create_api_key, name, secret[:SHOWN_LENGTH], key_hash(secret), self._core.now()
        )
        return ApiKeyCreated(key=info, secret=secret)

    @operation
    async def list(self) -> list[ApiKeyInfo]:
        """Every key (never the key itself), oldest first, revoked ones too."""
        records = await self._records()
        return await self._core.blocking(records.list_api_keys)

    @operation
    async def revoke(self, key_id: str) -> ApiKeyInfo:
        """Revoke a key: the API refuses it from now on.

        Raises:
            NotFound: no such key.
        """
        records = await self._records()
        return await self._core.blocking(records.revoke_api_key, key_id, self._core.now())

    @operation
    async def verify(self, key: str) -> bool:
        """Whether ``key`` is a key made here and not revoked."""
        if not key.startswith(API_KEY_PREFIX) or len(key) > MAX_KEY_LENGTH:
            return False
        wanted = key_hash(key)
        records = await self._records()
        stored = await self._core.blocking(records.api_key_hash, wanted)
        return stored is not None and hmac.compare_digest(stored, wanted)
