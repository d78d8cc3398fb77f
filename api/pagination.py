"""Cursor pagination of the API's listings: ``?limit=N&cursor=...``, answered as a ``Page``.

A cursor names the last item a page held and how far into the listing it was, so the next page
starts after that item even when newer ones were added in front of it meanwhile (listings of
messages and attempts are newest first). Cursors are opaque to callers.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Awaitable, Callable, Sequence
from typing import Annotated, Generic, TypeVar

from fastapi import Query
from pydantic import BaseModel

from errors import InvalidInput

T = TypeVar("T")

#: The most items one page holds.
MAX_PAGE = 1000

Limit = Annotated[int, Query(ge=1, le=MAX_PAGE, description="items per page")]
Cursor = Annotated[
    str | None, Query(max_length=400, description="the `next_cursor` of the previous page")
]


class BadRequest(InvalidInput):
    """A request the API cannot read (a cursor it did not give); answered 400."""


class Page(BaseModel, Generic[T]):
    """One page of a listing; ``next_cursor`` fetches the next, None on the last page."""

    data: list[T]
    next_cursor: str | None = None


def _encode(offset: int, key: str) -> str:
    return base64.urlsafe_b64encode(f"{offset}:{key}".encode()).decode().rstrip("=")


def _decode(cursor: str) -> tuple[int, str]:
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        offset, key = text.split(":", 1)
        if not offset.isdigit():
            raise ValueError(offset)
        return int(offset), key
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise BadRequest(
            "the cursor is not one this API gave; pass the next_cursor of the previous page"
        ) from None


async def paginate(
    fetch: Callable[[int], Awaitable[Sequence[T]]],
    key: Callable[[T], str],
    limit: int,
    cursor: str | None,
) -> Page[T]:
    """The page after ``cursor`` of a listing read ``n`` items at a time (``fetch(n)``).

    Raises:
        BadRequest: the cursor is not one this API gave, or its item has left the listing.
    """
    if cursor is None:
        return page_of(await fetch(limit + 1), key, limit, None)
    offset, _ = _decode(cursor)
    # Room for items added in front meanwhile: the last item may have moved down.
    return page_of(await fetch(2 * (offset + limit) + 1), key, limit, cursor)


def page_of(items: Sequence[T], key: Callable[[T], str], limit: int, cursor: str | None) -> Page[T]:
    """The page after ``cursor`` of a listing read whole (``items``).

    Raises:
        BadRequest: the cursor is not one this API gave, or its item has left the listing.
    """
    start = 0
    if cursor is not None:
        offset, last = _decode(cursor)
        keys = [key(item) for item in items]
        if 0 < offset <= len(keys) and keys[offset - 1] == last:
            start = offset
        elif last in keys:
            start = keys.index(last) + 1
        else:
            raise BadRequest(
                "the cursor's item is no longer listed (deleted, or far down the listing); "
                "list again without a cursor"
            )
    data = list(items[start : start + limit])
    more = len(items) > start + limit
    return Page[T](data=data, next_cursor=_encode(start + limit, key(data[-1])) if more else None)
