"""Fixtures of the command-line tests: ``billhook`` run in-process against a SQLite file."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

import config
from starter.cli import main
from store import Store

#: Nothing listens here: commands that need Temporal fail fast and say so.
UNREACHABLE_TEMPORAL = "127.0.0.1:1"


@dataclass(frozen=True)
class Result:
    """One ``billhook`` run: its exit code and what it wrote."""

    code: int
    out: str
    err: str


class Cli:
    """Runs ``billhook`` commands in this process, capturing their output."""

    def __init__(self, capsys: pytest.CaptureFixture[str], database_url: str) -> None:
        self.capsys = capsys
        self.database_url = database_url

    def __call__(self, *argv: str) -> Result:
        """Run ``billhook *argv``; argparse's usage errors come back as code 2."""
        self.capsys.readouterr()  # drop anything printed before this command
        try:
            code = main(list(argv))
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
        out, err = self.capsys.readouterr()
        return Result(code, out, err)

    def ok(self, *argv: str) -> str:
        """Run a command that must succeed; its standard output."""
        result = self(*argv)
        assert result.code == 0, result.err
        return result.out

    @property
    def store(self) -> Store:
        """The same database, for checks and for seeding what only a worker would write."""
        return Store.from_url(self.database_url)


def use_environment(monkeypatch: pytest.MonkeyPatch, environment: str) -> None:
    """Switch ``BILLHOOK_ENVIRONMENT`` for the following commands."""
    monkeypatch.setenv("BILLHOOK_ENVIRONMENT", environment)
    config.get_settings.cache_clear()


@pytest.fixture
def cli(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> Iterator[Cli]:
    """``billhook`` on a migrated SQLite file of this test, in development mode."""
    monkeypatch.chdir(tmp_path)  # no stray .env file is read
    database_url = f"sqlite:///{tmp_path / 'billhook.db'}"
    monkeypatch.setenv("BILLHOOK_DATABASE_URL", database_url)
    monkeypatch.setenv("BILLHOOK_TEMPORAL_ADDRESS", UNREACHABLE_TEMPORAL)
    use_environment(monkeypatch, "development")
    runner = Cli(capsys, database_url)
    assert "newest schema" in runner.ok("db", "upgrade")
    yield runner
    config.get_settings.cache_clear()
