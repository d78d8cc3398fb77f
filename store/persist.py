"""Persistence helpers every part of ``Store`` and ``Catalog`` shares.

A transaction per call (``Repository._session``), inserts that skip rows already stored
(``insert_ignore``), lookups that raise ``NotFound`` with the command that lists what exists
(``get_or_not_found``), rows read back as the pydantic models callers get (``to_model``), and
the optional filters of listings (``where_equal``), and listings oldest first (``oldest_first``).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, TypeVar

import sqlalchemy as sa
from pydantic import BaseModel
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine
from sqlmodel import Session, SQLModel, select
from sqlmodel.sql.expression import SelectOfScalar

from errors import NotFound, StoreNotReady, StoreUnreachable
from store.engine import display_url

Row = TypeVar("Row", bound=SQLModel)
Model = TypeVar("Model", bound=BaseModel)
Query = TypeVar("Query", bound=sa.Select[Any])


class Repository:
    """The engine that ``Store``, ``Catalog`` and their aggregates' parts share."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def _session(self) -> contextlib.AbstractContextManager[Session]:
        """One transaction, committed on exit; its rows stay readable after it closed."""
        return transaction(self.engine)

    def _get(self, model: type[Row], key: Any, what: str) -> Row:
        """The row of ``model`` whose primary key is ``key``, read in a transaction of its own.

        Raises:
            NotFound: no such row (``get_or_not_found``).
        """
        with self._session() as session:
            return get_or_not_found(session, model, key, what)

    def _all(self, query: SelectOfScalar[Row]) -> list[Row]:
        """The rows ``query`` selects, read in a transaction of its own."""
        with self._session() as session:
            return list(session.exec(query).all())


@contextlib.contextmanager
def transaction(engine: Engine) -> Iterator[Session]:
    """One transaction, committed on exit; its rows stay readable after it closed."""
    with Session(engine, expire_on_commit=False) as session, session.begin():
        yield session


@contextlib.contextmanager
def connect(engine: Engine) -> Iterator[Connection]:
    """A connection to ``engine``'s database, closed on exit.

    Raises:
        StoreUnreachable: no connection could be opened; the message names the database.
    """
    try:
        connection = engine.connect()
    except sa.exc.DBAPIError as exc:
        reason = _first_line(exc.orig) or type(exc.orig).__name__
        raise StoreUnreachable(
            f"cannot reach the database at {display_url(engine.url)}: {reason}"
        ) from exc
    with connection:
        yield connection


def insert_statement(session: Session, model: type[SQLModel]) -> postgresql.Insert | sqlite.Insert:
    """A Core ``INSERT`` into the model's table that can say ``ON CONFLICT`` in this database.

    Raises:
        StoreNotReady: the session's database is neither SQLite nor PostgreSQL.
    """
    table = sa.inspect(model).local_table
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        return postgresql.insert(table)
    if dialect == "sqlite":
        return sqlite.insert(table)
    raise StoreNotReady(f"unsupported database {dialect!r}; use SQLite or PostgreSQL")


def insert_ignore(
    session: Session,
    model: type[SQLModel],
    rows: Sequence[Mapping[str, Any]],
    *,
    key_only: bool = False,
) -> bool:
    """Insert ``rows``, skipping those whose primary key (or another unique column) is taken.

    ``ON CONFLICT DO NOTHING`` stays correct when a concurrent transaction inserts the same row
    (an activity retried while its first run is still going): it waits for that one, then skips.

    Args:
        session: the transaction to insert in.
        model: the table.
        rows: its rows, each with the same columns.
        key_only: skip only rows whose primary key is taken; another unique violation raises.

    Returns:
        Whether any row went in.

    Raises:
        StoreNotReady: the session's database is neither SQLite nor PostgreSQL.
    """
    if not rows:
        return False
    keys = sa.inspect(model).primary_key
    statement = (
        insert_statement(session, model)
        .values(list(rows))
        .on_conflict_do_nothing(index_elements=keys if key_only else None)
        # RETURNING says whether a row went in: SQLAlchemy counts rows of UPDATE and DELETE only.
        .returning(*keys)
    )
    return session.exec(statement).first() is not None


def get_or_not_found(
    session: Session,
    model: type[Row],
    key: Any,
    what: str,
    command: str | None = None,
    *,
    lock: bool = False,
) -> Row:
    """The row of ``model`` whose primary key is ``key``.

    Args:
        session: the transaction to read in.
        model: the table.
        key: the primary key.
        what: the row's name in the message (``"plan version"``).
        command: the ``billhook`` command group that lists such rows; ``what`` when None.
        lock: take the row's lock (PostgreSQL; SQLite serializes writers already) until the
            transaction ends. ``FOR NO KEY UPDATE``: it blocks other writers of the row, not
            the inserts of rows that reference it (their foreign keys take ``KEY SHARE``).

    Raises:
        NotFound: no such row.
    """
    row = session.get(model, key, with_for_update={"key_share": True} if lock else None)
    if row is None:
        raise not_found(what, key, command)
    return row


def not_found(what: str, key: Any, command: str | None = None) -> NotFound:
    """The error for a missing ``what``, naming the command that lists those that exist."""
    return NotFound(f"no {what} {key}; list them with: billhook {command or what} list")


def to_model(model: type[Model], row: SQLModel, **fields: Any) -> Model:
    """``model`` read from ``row``: each of its fields from the row's attribute of that name.

    Args:
        model: the pydantic model to build.
        row: the stored row.
        **fields: the fields whose value is not the row's attribute of the same name (the id,
            under another name; what other rows hold); model fields the row lacks and
            ``fields`` do not give take their defaults.

    Raises:
        pydantic.ValidationError: the row does not fit the model (a bug, not bad input).
    """
    values = {
        name: getattr(row, name)
        for name in model.model_fields
        if name not in fields and hasattr(row, name)
    }
    return model.model_validate({**values, **fields})


def where_equal(query: Query, model: type[SQLModel], **values: Any) -> Query:
    """``query`` narrowed to rows whose column of each name equals its value, when not None.

    The optional filters of a listing: ``where_equal(query, Invoice, customer_id=None)`` is
    ``query`` itself.
    """
    for name, value in values.items():
        if value is not None:
            query = query.where(getattr(model, name) == value)
    return query


def oldest_first(model: type[Row]) -> SelectOfScalar[Row]:
    """Every row of ``model``, oldest first: by ``created_at``, then by primary key ``id``."""
    columns = sa.inspect(model).local_table.c
    return select(model).order_by(columns.created_at, columns.id)


def _first_line(error: BaseException | None) -> str:
    lines = str(error or "").strip().splitlines()
    return lines[0].strip() if lines else ""
