"""``billhook``: the command line. Assembles the command groups and turns errors into one line.

Every command module has ``register(subcommands)``, which adds its parsers and sets ``handler``
as their default: a function of the parsed arguments and the settings, read once here. Each
handler parses its arguments, makes one call of the client (``starter.runtime.open_client``)
and prints what it answered. The client loads Temporal (about a second) only for the calls
that need it, and ``listen`` loads Svix only when it runs: ``endpoint list`` and the like pay
for neither.
"""

from __future__ import annotations

import argparse
import os
import sys
import unicodedata
from collections.abc import Sequence
from typing import NoReturn

from config import get_settings
from errors import BillhookError
from starter import (
    alert,
    api_key,
    attempt,
    codec_server,
    customer,
    db,
    demo,
    doctor,
    endpoint,
    event_types,
    invoice,
    listen,
    message,
    metric,
    pdf_server,
    plan,
    runtime,
    serve,
    subscription,
    trigger,
    usage,
)

GROUPS = (
    db,
    endpoint,
    event_types,
    message,
    attempt,
    trigger,
    listen,
    customer,
    metric,
    plan,
    alert,
    subscription,
    usage,
    invoice,
    demo,
    doctor,
    codec_server,
    api_key,
    serve,
    pdf_server,
)


class Parser(argparse.ArgumentParser):
    """An argument parser whose usage errors are one ``error:`` line, like every other error."""

    def error(self, message: str) -> NoReturn:
        """Exit 2 with one line naming the command, what is wrong, and where the help is."""
        command = self.prog.removeprefix("billhook").strip() or "billhook"
        self.exit(2, f"error: {command}: {_printable(message)}; see {self.prog} --help\n")


def build_parser() -> argparse.ArgumentParser:
    """The ``billhook`` parser with every command group registered."""
    parser = Parser(
        prog="billhook",
        description="Self-hosted webhook delivery for billing events, on Temporal.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for group in GROUPS:
        group.register(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; the exit code is 0, 1 for a refused or failed request, 2 for bad usage.

    Args:
        argv: the arguments after ``billhook``. When omitted (the console script), they are
            ``sys.argv[1:]`` and this call owns the process: see ``_exit_after_temporal``.
    """
    args = build_parser().parse_args(argv)  # exits 2 with the usage on bad arguments
    code = run(args)
    if argv is None and runtime.temporal_used:
        _exit_after_temporal(code)
    return code


def dispatch(args: argparse.Namespace) -> None:
    """Call the parsed command's handler with the settings, which are read here, once.

    Raises:
        BillhookError: what the command refused or failed with (``InvalidSettings`` too).
    """
    if getattr(args, "standalone", False):
        args.handler(args)
    else:
        args.handler(args, get_settings())


def run(args: argparse.Namespace) -> int:
    """Run the parsed command and turn the errors billhook raises on purpose into one line."""
    try:
        dispatch(args)
    except BillhookError as exc:
        print(f"error: {one_line(exc)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader went away (`billhook message show ... | head`): not an error of ours.
        # Point stdout at /dev/null so the interpreter's final flush does not raise again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    return 0


def _exit_after_temporal(code: int) -> NoReturn:
    """End the process without interpreter finalization, once everything is flushed.

    The Temporal client's Rust runtime keeps threads that crash the interpreter's teardown
    about half the time (SIGSEGV or "PyGILState_Release" aborts, temporalio/sdk-python#300),
    turning a finished command's exit code into 139. In-process callers (tests) pass ``argv``
    and never get here.
    """
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def one_line(exc: BaseException) -> str:
    """An error's message on a single line, for scripts that read stderr line by line."""
    return _printable(str(exc)) or type(exc).__name__


#: Past this, an error quoting what was given (a 100,000-character id) is cut short.
MAX_ERROR_LENGTH = 1000


def _printable(text: str) -> str:
    """``text`` on one line, control and bidi characters escaped: input never drives a terminal."""
    text = " ".join(text.split())
    text = "".join(
        f"\\u{ord(char):04x}"
        if unicodedata.category(char) in ("Cc", "Cf") and not char.isprintable()
        else char
        for char in text
    )
    return text if len(text) <= MAX_ERROR_LENGTH else text[:MAX_ERROR_LENGTH] + "..."
