"""What every command shares: argument types, the clock, the client, progress on stderr."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TextIO, TypeAlias

from client.sync import SyncBillhookClient
from config import Settings
from models.clock import utcnow as utcnow  # the commands' clock

#: What each command module's ``register`` receives: the parent's subcommand table.
Subcommands: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"
#: A command's handler: its parsed arguments and the settings, read once by ``starter.cli``.
#: Commands that need no settings (``event-types``, ``listen``, ``codec-key``) set
#: ``standalone=True`` with their handler, which then takes the arguments alone.
Handler: TypeAlias = Callable[[argparse.Namespace, Settings], None]


#: The positional argument that names the object a subcommand acts on: its ``dest`` and its
#: ``metavar``, like ``("invoice_id", "INVOICE_ID")``.
IdArgument: TypeAlias = tuple[str, str]


def add_id_command(
    sub: Subcommands,
    name: str,
    handler: Handler,
    takes: IdArgument,
    text: str,
    *,
    description: str | None = None,
) -> argparse.ArgumentParser:
    """Add the subcommand ``name``, which runs ``handler`` on the object whose id it ``takes``.

    ``text`` is its line in its group's help; ``description`` heads its own ``--help``. Returns
    its parser, for the options it takes besides the id.
    """
    command = sub.add_parser(name, help=text, description=description)
    command.add_argument(takes[0], metavar=takes[1])
    command.set_defaults(handler=handler)
    return command


#: The most rows a listing prints (``--limit``); databases refuse limits past 64 bits.
MAX_LIMIT = 100_000


def positive_int(text: str) -> int:
    """An argparse type: an integer from 1 to ``MAX_LIMIT`` (``--limit``)."""
    digits = text.strip()
    # isascii: int() alone would take other scripts' digits ("١٢") and underscores.
    if not (digits.isascii() and digits.isdigit() and 1 <= int(digits) <= MAX_LIMIT):
        raise argparse.ArgumentTypeError(
            f"must be a whole number from 1 to {MAX_LIMIT}, not {text[:40]!r}"
        )
    return int(digits)


def positive_seconds(text: str) -> float:
    """An argparse type: a finite number of seconds, above 0 and at most a day (``--wait``)."""
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not 0 < value <= 86_400:  # NaN fails every comparison
        raise argparse.ArgumentTypeError(
            f"{text[:40]!r} is not a number of seconds above 0 and at most 86400"
        )
    return value


@contextmanager
def open_client(settings: Settings) -> Iterator[SyncBillhookClient]:
    """The client a command calls: ``with open_client(settings) as billhook: ...``.

    Temporal is connected only by the operations that need it, so ``endpoint list`` and the
    like never load its client.
    """
    global temporal_used
    billhook = SyncBillhookClient(settings)
    try:
        yield billhook
    finally:
        temporal_used = temporal_used or billhook.temporal_used
        billhook.close()


#: Whether this process made a Temporal client; see ``starter.cli.main`` for why it matters.
temporal_used = False


class Progress:
    """A status line on stderr: rewritten in place on a terminal, one line per change otherwise."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self._last = ""

    def update(self, text: str) -> None:
        """Show ``text`` unless it is what is already shown."""
        if text == self._last:
            return
        if self._tty():
            self.stream.write("\r\033[K" + text)
        else:
            self.stream.write(text + "\n")
        self.stream.flush()
        self._last = text

    def done(self) -> None:
        """End the status line so the next output starts on a fresh line."""
        if self._last and self._tty():
            self.stream.write("\n")
            self.stream.flush()
        self._last = ""

    def _tty(self) -> bool:
        return self.stream.isatty()
