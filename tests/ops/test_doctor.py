"""``billhook doctor``: one line per check, exit 0 only when every check passes."""

from __future__ import annotations

import asyncio
import socket
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from google.protobuf.duration_pb2 import Duration
from temporalio.api.workflowservice.v1 import RegisterNamespaceRequest
from temporalio.testing import WorkflowEnvironment

import config
from config import Settings
from models.search import ALL_KEYS
from starter.cli import main
from store.migrate import head_revision
from tests.ops.conftest import address_of, free_port


@dataclass(frozen=True)
class Report:
    """One ``billhook doctor`` run."""

    code: int
    lines: list[str]
    err: str


Doctor = Callable[[dict[str, str]], Awaitable[Report]]


@pytest.fixture
def doctor(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> Iterator[Doctor]:
    """``await doctor(environment)``: runs ``billhook doctor`` in a thread with those settings."""
    monkeypatch.chdir(tmp_path)  # no stray .env file is read

    async def run(environment: dict[str, str]) -> Report:
        for name, value in environment.items():
            monkeypatch.setenv(name, value)
        config.get_settings.cache_clear()
        capsys.readouterr()
        code = await asyncio.to_thread(main, ["doctor"])
        out, err = capsys.readouterr()
        return Report(code, out.splitlines(), err)

    yield run
    config.get_settings.cache_clear()


def environment_of(dev_env: WorkflowEnvironment, settings: Settings) -> dict[str, str]:
    return {
        "BILLHOOK_TEMPORAL_ADDRESS": address_of(dev_env),
        "BILLHOOK_DATABASE_URL": settings.database_url,
        "BILLHOOK_ALLOWED_NETWORKS": "127.0.0.0/8,::1/128",
        "BILLHOOK_ENVIRONMENT": "development",
    }


async def test_everything_in_place_passes_every_check(
    doctor: Doctor,
    dev_env: WorkflowEnvironment,
    settings: Settings,
) -> None:
    report = await doctor(environment_of(dev_env, settings))

    assert report.code == 0, report
    assert report.lines == [
        f"✓ Temporal reachable at {address_of(dev_env)}",
        "✓ namespace default exists",
        "✓ search attributes registered: " + ", ".join(key.name for key in ALL_KEYS),
        f"✓ Temporal connection: {address_of(dev_env)} (from BILLHOOK_TEMPORAL_ADDRESS), "
        "namespace default (from default); no profile; TLS off; no client certificate; "
        "no API key",
        "✓ payload encryption: off (BILLHOOK_CODEC_KEYS is empty)",
        f"✓ store {settings.database_url} reachable and migrated (revision {head_revision()})",
        "✓ delivery allow-list: public internet and 127.0.0.0/8, ::1/128",
        "✓ environment: development (credentials in endpoint URLs are allowed)",
    ]
    assert report.err == ""


async def test_an_unreachable_temporal_fails_in_one_line_and_fast(
    doctor: Doctor,
    dev_env: WorkflowEnvironment,
    settings: Settings,
) -> None:
    address = f"127.0.0.1:{free_port()}"
    started = time.monotonic()
    report = await doctor(
        {**environment_of(dev_env, settings), "BILLHOOK_TEMPORAL_ADDRESS": address}
    )

    assert time.monotonic() - started < 5
    assert report.code == 1
    assert report.lines[0] == (
        f"✗ cannot reach Temporal at {address}: Connection refused; start it with make run"
    )
    # The checks that need Temporal are skipped; the others still run.
    assert [line[0] for line in report.lines] == ["✗", "✓", "✓", "✓", "✓", "✓"]
    assert report.err == "error: 1 of 6 checks failed; fixes are above\n"


async def test_an_unmigrated_store_names_the_command_that_migrates_it(
    doctor: Doctor,
    dev_env: WorkflowEnvironment,
    settings: Settings,
    tmp_path: Path,
) -> None:
    empty = tmp_path / "empty.db"
    empty.touch()
    environment = {
        **environment_of(dev_env, settings),
        "BILLHOOK_DATABASE_URL": f"sqlite:///{empty}",
    }
    report = await doctor(environment)

    assert report.code == 1
    [failed] = [line for line in report.lines if line.startswith("✗")]
    assert failed == (
        f"✗ the store is not migrated (at no revision, head is {head_revision()}); "
        "run: billhook db upgrade"
    )
    assert "Traceback" not in report.err


async def test_a_missing_namespace_says_how_to_create_it(
    doctor: Doctor,
    dev_env: WorkflowEnvironment,
    settings: Settings,
) -> None:
    environment = {**environment_of(dev_env, settings), "BILLHOOK_TEMPORAL_NAMESPACE": "nowhere"}
    report = await doctor(environment)

    assert report.code == 1
    assert report.lines[1] == (
        "✗ namespace nowhere does not exist; create it with: "
        f"temporal operator namespace create --namespace nowhere --address {address_of(dev_env)}"
    )
    assert len(report.lines) == 7  # the search attributes of a missing namespace are not listed


async def test_missing_search_attributes_are_listed_with_the_command_that_adds_them(
    doctor: Doctor, dev_env: WorkflowEnvironment, settings: Settings
) -> None:
    namespace = f"bare-{uuid.uuid4().hex[:8]}"
    await dev_env.client.workflow_service.register_namespace(
        RegisterNamespaceRequest(
            namespace=namespace,
            workflow_execution_retention_period=Duration(seconds=86400),
        )
    )
    environment = {**environment_of(dev_env, settings), "BILLHOOK_TEMPORAL_NAMESPACE": namespace}
    report = await doctor(environment)

    assert report.code == 1
    names = [key.name for key in ALL_KEYS]
    flags = " ".join(f"--name {name}" for name in names)
    assert report.lines[2] == (
        f"✗ search attributes missing: {', '.join(names)}; add them with: "
        f"temporal operator search-attribute create {flags} --type Keyword "
        f"--address {address_of(dev_env)} --namespace {namespace}"
    )


async def test_a_temporal_that_never_answers_fails_after_the_timeout(
    doctor: Doctor, dev_env: WorkflowEnvironment, settings: Settings
) -> None:
    with socket.socket() as silent:  # accepts connections (the backlog) and never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        address = f"127.0.0.1:{silent.getsockname()[1]}"
        started = time.monotonic()
        report = await doctor(
            {**environment_of(dev_env, settings), "BILLHOOK_TEMPORAL_ADDRESS": address}
        )
        elapsed = time.monotonic() - started

    assert report.code == 1
    assert report.lines[0] == (
        f"✗ cannot reach Temporal at {address}: no answer within 5 s; start it with make run"
    )
    assert 4.5 < elapsed < 8
