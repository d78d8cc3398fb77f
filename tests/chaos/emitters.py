"""Emission through the real paths: ``billhook`` commands run in-process, retried as a script would.

Each command is parsed by ``starter.cli.build_parser`` and run by ``starter.cli.dispatch`` on a
thread of its own (a handler runs its own event loop), exactly as ``billhook ...`` runs it. A
command that fails while the server is down or the store is cut is retried; a retry that finds
its work done (the customer exists, the subscription started) counts as done. What the commands
print goes to the run's ``commands.log``; the ids of the messages they report emitted are kept
for the check.
"""

from __future__ import annotations

import io
import re
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TextIO

from errors import BillhookError, Conflict, InvalidInput
from starter import cli

EMITTED = re.compile(r"emitted as (msg_[0-9a-f]+)|emitted \S+ as (msg_[0-9a-f]+)")


class _Capture(io.TextIOBase):
    """``sys.stdout``/``sys.stderr`` while commands run: to the log, and to the caller's buffer."""

    def __init__(self, sink: TextIO) -> None:
        self.sink = sink
        self.local = threading.local()
        self.lock = threading.Lock()

    def write(self, text: str) -> int:
        buffer: list[str] | None = getattr(self.local, "buffer", None)
        if buffer is not None:
            buffer.append(text)
        with self.lock:
            self.sink.write(text)
        return len(text)

    def flush(self) -> None:
        with self.lock:
            self.sink.flush()

    def capture(self) -> list[str]:
        self.local.buffer = []
        return self.local.buffer  # type: ignore[no-any-return]


Done = Callable[[BaseException], bool]


def never(_: BaseException) -> bool:
    return False


class Commands:
    """Runs ``billhook`` commands until they succeed (or ``deadline``), counting what happened."""

    def __init__(self, log: Path, deadline: float) -> None:
        self.deadline = deadline
        self.ran: Counter[str] = Counter()
        self.retried: Counter[str] = Counter()
        self.reported: set[str] = set()  # message ids the commands printed as emitted
        self._sink = log.open("a", buffering=1)
        self._capture = _Capture(self._sink)
        self._saved = (sys.stdout, sys.stderr)
        sys.stdout = sys.stderr = self._capture

    def close(self) -> None:
        sys.stdout, sys.stderr = self._saved
        self._sink.close()

    def run(self, argv: Sequence[str], done: Done = never, pause: float = 1.0) -> str:
        """Run one command until it succeeds or ``done`` says a failure means it is done."""
        name = " ".join(argv[:2]) if argv[0] != "trigger" else "trigger"
        while True:
            output = self._capture.capture()
            try:
                cli.dispatch(cli.build_parser().parse_args(list(argv)))
                break
            except SystemExit as exc:
                raise RuntimeError(f"billhook {' '.join(argv)}: usage error {exc.code}") from exc
            except Exception as exc:
                text = "".join(output)
                if done(exc) or (name == "trigger" and EMITTED.search(text)):
                    break
                self.retried[name] += 1
                print(f"(retrying) billhook {' '.join(argv)}: {exc}", file=self._sink)
                if time.monotonic() > self.deadline:
                    raise TimeoutError(f"billhook {' '.join(argv)} kept failing: {exc}") from exc
                time.sleep(pause)
        text = "".join(output)
        for match in EMITTED.finditer(text):
            self.reported.add(match.group(1) or match.group(2))
        self.ran[name] += 1
        return text


def exists(exc: BaseException) -> bool:
    """A retried ``customer create`` whose first try got through."""
    return isinstance(exc, Conflict) and "exists already" in str(exc)


def started(exc: BaseException) -> bool:
    """A ``subscription create`` that started the workflow but found no worker to record it yet."""
    return isinstance(exc, BillhookError) and "is started, but" in str(exc)


def refused(exc: BaseException) -> bool:
    """A retried update whose first try got through (cancelled twice, ended)."""
    return isinstance(exc, InvalidInput | Conflict)
