"""The one table renderer of the command line: aligned columns, an underlined header."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from enum import Enum

#: Widest a cell may be before it is cut with an ellipsis; ids (38 chars) always fit.
MAX_CELL = 48
EMPTY = "(none)"
NOTHING = "-"

Cell = object


def format_time(moment: datetime | None) -> str:
    """A time as ``YYYY-MM-DD HH:MM:SS`` in UTC; ``-`` when there is none."""
    if moment is None:
        return NOTHING
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%d %H:%M:%S")


def cell_text(value: Cell, max_width: int = MAX_CELL) -> str:
    """How one value reads in a cell: times in UTC, enums by value, long text cut with ``…``."""
    if isinstance(value, datetime):
        return format_time(value)  # fixed width: never cut
    if value is None:
        text = NOTHING
    elif isinstance(value, Enum):
        text = str(value.value)
    elif isinstance(value, list | tuple):
        text = ", ".join(cell_text(item, max_width) for item in value) or NOTHING
    else:
        text = str(value)
    text = " ".join(text.split())  # a newline inside a cell would break the row
    if len(text) > max_width:
        return text[: max_width - 1] + "…"
    return text


def render(
    headers: Sequence[str], rows: Sequence[Sequence[Cell]], max_width: int = MAX_CELL
) -> str:
    """Rows under a header and its underline, columns left-aligned; ``(none)`` when empty.

    Args:
        headers: the column titles.
        rows: one sequence of values per row, as long as ``headers``.
        max_width: the widest a cell may be before it is truncated.
    """
    if not rows:
        return EMPTY
    texts = [[cell_text(value, max_width) for value in row] for row in rows]
    widths = [
        max(len(header), *(len(row[index]) for row in texts))
        for index, header in enumerate(headers)
    ]
    lines = [
        _line(headers, widths),
        _line(["-" * width for width in widths], widths),
        *(_line(row, widths) for row in texts),
    ]
    return "\n".join(lines)


def _line(cells: Sequence[str], widths: Sequence[int]) -> str:
    return "  ".join(text.ljust(width) for text, width in zip(cells, widths, strict=True)).rstrip()


def render_fields(fields: Sequence[tuple[str, Cell]]) -> str:
    """``name  value`` lines with the values aligned, for one object's details."""
    width = max((len(name) for name, _ in fields), default=0)
    return "\n".join(f"{name.ljust(width)}  {cell_text(value, 1_000)}" for name, value in fields)
