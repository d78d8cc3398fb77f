"""The production topology: docker-compose.yml as `docker-compose config` renders it, and the image.

`config` interpolates and validates the file without a Docker engine, so these tests need only
the `docker-compose` command, which `make test` installs. Every run uses an empty env file and a
clean environment, so a developer's own `.env` or shell variables cannot change the outcome.
"""

from __future__ import annotations

import http.server
import os
import re
import shutil
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from models.search import ALL_KEYS

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "docker-compose.yml"
PASSWORD = "test0password"
#: The payload encryption keys compose requires (a valid key: the codec server reads it).
CODEC_KEYS = "k1:" + "A" * 43 + "="
REQUIRED = {"POSTGRES_PASSWORD": PASSWORD, "BILLHOOK_CODEC_KEYS": CODEC_KEYS}
SERVICES = {
    "postgres",
    "temporal-schema",
    "temporal",
    "temporal-setup",
    "temporal-ui",
    "billhook-migrate",
    "worker",
    "codec-server",
    "api",
}
HEALTHY = "service_healthy"
DONE = "service_completed_successfully"


def docker_compose() -> str:
    """The `docker-compose` command; its absence fails (not skips) with what to do."""
    path = shutil.which("docker-compose")
    if path is None:
        pytest.fail(
            "the docker-compose command is missing: run `make test`, which installs it",
            pytrace=False,
        )
    return path


def compose_config(
    tmp_path: Path, env: Mapping[str, str], env_file: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """`docker-compose config` on docker-compose.yml with exactly ``env`` and ``env_file``."""
    if env_file is None:
        env_file = tmp_path / "empty.env"
        env_file.write_text("")
    return subprocess.run(
        [docker_compose(), "--env-file", str(env_file), "-f", str(COMPOSE_FILE), "config"],
        cwd=ROOT,
        env={"PATH": os.environ["PATH"], "HOME": str(tmp_path), **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def parse_yaml(text: str) -> dict[str, Any]:
    """The rendered YAML as data."""
    return dict(yaml.safe_load(text))


@pytest.fixture(scope="module")
def config(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The rendered configuration with only the required POSTGRES_PASSWORD set."""
    done = compose_config(tmp_path_factory.mktemp("compose"), REQUIRED)
    assert done.returncode == 0, done.stderr
    return parse_yaml(done.stdout)


@pytest.fixture(scope="module")
def services(config: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The rendered services by name."""
    return dict(config["services"])


def seconds(duration: str) -> float:
    """A compose duration (``1m30s``, ``30s``, ``500ms``) in seconds."""
    units = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001, "us": 1e-6}
    parts = re.findall(r"([0-9.]+)(h|ms|us|m|s)", duration)
    assert parts and "".join(n + u for n, u in parts) == duration, duration
    return sum(float(number) * units[unit] for number, unit in parts)


def test_renders_every_service_of_the_topology(services: dict[str, dict[str, Any]]) -> None:
    assert set(services) == SERVICES


def test_worker_scales_without_clashes(services: dict[str, dict[str, Any]]) -> None:
    worker = services["worker"]
    assert "ports" not in worker, "a published port would clash with --scale worker=3"
    assert not any("container_name" in service for service in services.values())
    assert worker["image"] == services["billhook-migrate"]["image"]
    assert "build" in worker


def test_worker_gets_time_to_finish_attempts_on_stop(services: dict[str, dict[str, Any]]) -> None:
    # The worker lets attempts in flight finish for the request timeout (15 s) + 5 s.
    assert seconds(services["worker"]["stop_grace_period"]) > 20


def test_start_order_waits_for_health_and_finished_jobs(
    services: dict[str, dict[str, Any]],
) -> None:
    expected = {
        "postgres": {},
        "temporal-schema": {"postgres": HEALTHY},
        "temporal": {"temporal-schema": DONE},
        "temporal-setup": {"temporal": HEALTHY},
        "temporal-ui": {"temporal": HEALTHY},
        "billhook-migrate": {"temporal-schema": DONE},
        "worker": {"billhook-migrate": DONE, "temporal-setup": DONE},
        "api": {"billhook-migrate": DONE, "temporal-setup": DONE},
        "codec-server": {},
    }
    actual = {
        name: {dep: spec["condition"] for dep, spec in service.get("depends_on", {}).items()}
        for name, service in services.items()
    }
    assert actual == expected


def test_services_waited_on_for_health_have_healthchecks(
    services: dict[str, dict[str, Any]],
) -> None:
    waited = {
        dep
        for service in services.values()
        for dep, spec in service.get("depends_on", {}).items()
        if spec["condition"] == HEALTHY
    }
    assert waited == {"postgres", "temporal"}
    for name in waited:
        assert services[name]["healthcheck"]["test"], name
    assert "pg_isready" in " ".join(services["postgres"]["healthcheck"]["test"])


def test_billhook_uses_its_own_database_and_the_temporal_service(
    services: dict[str, dict[str, Any]],
) -> None:
    for name in ("worker", "billhook-migrate"):
        env = services[name]["environment"]
        url = urlsplit(env["BILLHOOK_DATABASE_URL"])
        assert (url.scheme, url.hostname, url.port) == ("postgresql+psycopg", "postgres", 5432)
        assert (url.username, url.password, url.path) == ("postgres", PASSWORD, "/billhook")
        assert env["BILLHOOK_TEMPORAL_ADDRESS"] == "temporal:7233"
        assert env["BILLHOOK_ENVIRONMENT"] == "production"
    assert services["billhook-migrate"]["command"] == ["billhook", "db", "upgrade"]
    # The schema job creates that database; Temporal keeps its two.
    script = (ROOT / "deploy/temporal/setup-schema.sh").read_text()
    assert "temporal-sql-tool --db billhook create" in script
    assert "setup temporal temporal" in script
    assert "setup temporal_visibility visibility" in script


def test_temporal_server_runs_on_postgres(services: dict[str, dict[str, Any]]) -> None:
    temporal = services["temporal"]
    assert temporal["image"].startswith("temporalio/server:")
    env = temporal["environment"]
    assert env["DB"] == "postgres12"
    assert (env["POSTGRES_SEEDS"], str(env["DB_PORT"]), env["POSTGRES_PWD"]) == (
        "postgres",
        "5432",
        PASSWORD,
    )
    assert services["temporal-ui"]["environment"]["TEMPORAL_ADDRESS"] == "temporal:7233"
    dynamic_config = env["DYNAMIC_CONFIG_FILE_PATH"].rsplit("/", 1)[1]
    assert (ROOT / "deploy/temporal/dynamicconfig" / dynamic_config).is_file()


def test_setup_job_registers_the_search_attributes_billhook_sets() -> None:
    script = (ROOT / "deploy/temporal/setup-namespace.sh").read_text()
    names = re.search(r"^for name in (.+); do$", script, re.MULTILINE)
    assert names is not None
    assert set(names.group(1).split()) == {key.name for key in ALL_KEYS}
    assert "--type Keyword" in script


def test_versions_have_defaults_and_can_be_pinned(
    tmp_path: Path, services: dict[str, dict[str, Any]]
) -> None:
    assert services["postgres"]["image"] == "postgres:16"
    versions = {
        "TEMPORAL_VERSION": "1.2.3",
        "TEMPORAL_UI_VERSION": "4.5.6",
        "POSTGRES_VERSION": "17",
    }
    done = compose_config(tmp_path, {**REQUIRED, **versions})
    assert done.returncode == 0, done.stderr
    images = {name: s["image"] for name, s in parse_yaml(done.stdout)["services"].items()}
    assert images["postgres"] == "postgres:17"
    assert images["temporal"] == "temporalio/server:1.2.3"
    assert images["temporal-schema"] == images["temporal-setup"] == "temporalio/admin-tools:1.2.3"
    assert images["temporal-ui"] == "temporalio/ui:4.5.6"


def test_refuses_to_render_without_the_postgres_password(tmp_path: Path) -> None:
    done = compose_config(tmp_path, {"BILLHOOK_CODEC_KEYS": CODEC_KEYS})
    assert done.returncode != 0
    assert "POSTGRES_PASSWORD" in done.stderr


@pytest.mark.parametrize("keys", [None, ""])
def test_refuses_to_render_without_payload_encryption_keys(
    tmp_path: Path, keys: str | None
) -> None:
    env = {"POSTGRES_PASSWORD": PASSWORD}
    if keys is not None:
        env["BILLHOOK_CODEC_KEYS"] = keys
    done = compose_config(tmp_path, env)
    assert done.returncode != 0
    assert "set BILLHOOK_CODEC_KEYS in .env (billhook codec-key makes one)" in done.stderr


def test_workers_encrypt_and_the_web_ui_decodes_through_the_codec_server(
    services: dict[str, dict[str, Any]],
) -> None:
    for name in ("worker", "billhook-migrate", "codec-server"):
        assert services[name]["environment"]["BILLHOOK_CODEC_KEYS"] == CODEC_KEYS
    codec = services["codec-server"]
    assert codec["image"] == services["worker"]["image"]
    command = codec["command"]
    assert command[:2] == ["billhook", "codec-server"]
    assert command[command.index("--port") + 1] == "8081"
    assert command[command.index("--ui-origin") + 1] == "http://localhost:8080"
    assert codec["ports"] == ["127.0.0.1:8081:8081/tcp"]  # loopback only: it has no login
    ui = services["temporal-ui"]["environment"]
    assert ui["TEMPORAL_CODEC_ENDPOINT"] == "http://localhost:8081"
    assert "8081/decode" in " ".join(codec["healthcheck"]["test"])


def test_env_example_works_once_the_password_is_set(tmp_path: Path) -> None:
    example = ROOT / ".env.example"
    unset = compose_config(tmp_path, {}, env_file=example)
    assert unset.returncode != 0
    assert "POSTGRES_PASSWORD" in unset.stderr or "BILLHOOK_CODEC_KEYS" in unset.stderr
    done = compose_config(tmp_path, REQUIRED, env_file=example)
    assert done.returncode == 0, done.stderr
    # The local-run values in .env.example (SQLite, localhost:7233) do not reach the containers.
    env = parse_yaml(done.stdout)["services"]["worker"]["environment"]
    assert env["BILLHOOK_TEMPORAL_ADDRESS"] == "temporal:7233"
    assert urlsplit(env["BILLHOOK_DATABASE_URL"]).path == "/billhook"


def test_dockerfile_runs_the_worker_as_a_non_root_user_that_stops_gracefully() -> None:
    lines = [
        line.strip()
        for line in (ROOT / "Dockerfile").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert lines[0] == "FROM python:3.12-slim"
    assert [line for line in lines if line.startswith("USER ")] == ["USER billhook"]
    assert "STOPSIGNAL SIGTERM" in lines
    assert lines[-1] == 'CMD ["python", "worker.py"]'
    assert any(line.startswith("HEALTHCHECK ") for line in lines)
    ignored = set((ROOT / ".dockerignore").read_text().split())
    assert {".venv", ".data", ".git", ".env", "node_modules", ".pytest_cache"} <= ignored


# The image's HEALTHCHECK (deploy/worker/healthcheck.py), run as Docker runs it.


class _Metrics(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200 if self.path == "/metrics" else 404)
        self.end_headers()
        self.wfile.write(b"billhook_attempts_total 1\n")

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def metrics_port() -> Iterator[int]:
    """A port answering like the worker's metrics endpoint."""
    server = http.server.HTTPServer(("127.0.0.1", 0), _Metrics)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


def healthcheck(port: int) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(ROOT / "deploy/worker/healthcheck.py")],
        env={"PATH": os.environ["PATH"], "BILLHOOK_METRICS_PORT": str(port)},
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


def test_healthcheck_passes_while_metrics_answer(metrics_port: int) -> None:
    done = healthcheck(metrics_port)
    assert (done.returncode, done.stdout.strip()) == (0, "ok")


def test_healthcheck_fails_when_nothing_answers() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # bound but not listening: connections are refused
        done = healthcheck(port)
    assert done.returncode == 1
    assert f"127.0.0.1:{port}/metrics" in done.stdout
