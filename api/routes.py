"""Listings: ``GET /things?limit=N&cursor=...`` answered as a ``Page``, from a plain read.

A listing route is written as what it reads, and ``listing`` adds the paging::

    @listing(router, "/customers", key="customer_id", tag="customers")
    async def list_customers(billhook: Client) -> list[CustomerSnapshot]:
        # its docstring: the route's description
        return await billhook.customers.list()

The route takes the read's parameters (its filters), then ``limit`` and ``cursor``, and answers
``Page[CustomerSnapshot]``; its name and description are the read's. The OpenAPI document is
the one a hand-written route taking ``limit: Limit = 100, cursor: Cursor = None`` would give.
"""

from __future__ import annotations

import inspect
import typing
from collections.abc import Awaitable, Callable, Sequence
from operator import attrgetter
from typing import Any, TypeVar

from fastapi import APIRouter

from api.pagination import Cursor, Limit, Page, paginate

R = TypeVar("R", bound=Callable[..., Awaitable[Sequence[Any]]])


def listing(router: APIRouter, path: str, *, key: str, tag: str) -> Callable[[R], R]:
    """Add ``GET path`` to ``router``, paging what the decorated read lists.

    Args:
        router: where the route is added.
        path: the route's path.
        key: the attribute (dotted for a nested one) that names a listed item in cursors.
        tag: the route's OpenAPI tag.

    The read answers the whole listing, or, when it has a parameter ``n``, at least the ``n``
    first items where there are (it is read again, longer, for later pages; see ``paginate``).
    """
    item_key = attrgetter(key)

    def add(read: R) -> R:
        signature = inspect.signature(read, eval_str=True)
        reads_n = "n" in signature.parameters
        item = typing.get_args(typing.get_type_hints(read)["return"])[0]
        page = Page[item]  # type: ignore[valid-type]  # the item type is the read's, at runtime

        async def endpoint(limit: int, cursor: str | None, **filters: Any) -> Page[Any]:
            def fetch(n: int) -> Awaitable[Sequence[Any]]:
                return read(n=n, **filters) if reads_n else read(**filters)

            return await paginate(fetch, lambda i: str(item_key(i)), limit, cursor)

        params = [p for name, p in signature.parameters.items() if name != "n"]
        params += [
            inspect.Parameter(
                "limit", inspect.Parameter.KEYWORD_ONLY, default=100, annotation=Limit
            ),
            inspect.Parameter(
                "cursor", inspect.Parameter.KEYWORD_ONLY, default=None, annotation=Cursor
            ),
        ]
        endpoint.__signature__ = signature.replace(  # type: ignore[attr-defined]
            parameters=params, return_annotation=page
        )
        endpoint.__name__ = endpoint.__qualname__ = read.__name__
        endpoint.__doc__ = read.__doc__
        router.add_api_route(path, endpoint, methods=["GET"], response_model=page, tags=[tag])
        return read

    return add
