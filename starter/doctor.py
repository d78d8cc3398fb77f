"""``billhook doctor``: check what a worker needs, one line per check with the fix for a failure.

Checks, in order: Temporal answers at the configured address, the namespace exists, billhook's
search attributes are registered (the ones that depend on Temporal are skipped when it does not
answer), how billhook connects (address and namespace and where they came from, the envconfig
profile, TLS, mTLS, whether an API key is used: never the key), payload encryption (refused off
in production mode), the store is reachable and migrated, and the delivery allow-list and
environment mode as configured. Exits 0 when every check passes, 1 otherwise.
"""

from __future__ import annotations

import argparse
import asyncio
import re
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING

import sqlalchemy as sa

from config import Settings
from errors import BillhookError, StoreNotReady
from models.search import ALL_KEYS
from starter import runtime
from starter.runtime import Subcommands
from store import Store
from store.engine import display_url
from store.migrate import head_revision

if TYPE_CHECKING:
    from temporalio.client import Client

#: A doctor answers quickly: an address that swallows packets fails after this long.
TIMEOUT_SECONDS = 5.0
#: The detail inside the SDK's multi-line transport error (``message: "Connection refused"``).
_DETAIL = re.compile(r'(?:message|error): "([^"]+)"')


@dataclass(frozen=True)
class Check:
    """One check's verdict: what was found and, when it failed, how to fix it."""

    ok: bool
    text: str

    def line(self) -> str:
        """The check as printed: a mark, then the text."""
        return f"{'✓' if self.ok else '✗'} {self.text}"


def register(commands: Subcommands) -> None:
    """Add ``doctor`` to the command line."""
    command = commands.add_parser(
        "doctor", help="check Temporal, the search attributes, the store and the settings"
    )
    command.set_defaults(handler=doctor)


def doctor(args: argparse.Namespace, settings: Settings) -> None:
    """Run every check and print one line each.

    Raises:
        BillhookError: some check failed (exit 1); the lines above say which and what to do.
    """
    checks = [
        *asyncio.run(temporal_checks(settings)),
        connection_check(settings),
        encryption_check(settings),
        store_check(settings),
        allow_list_check(settings),
        environment_check(settings),
    ]
    for check in checks:
        print(check.line(), flush=True)
    failed = sum(not check.ok for check in checks)
    if failed:
        raise BillhookError(f"{failed} of {len(checks)} checks failed; fixes are above")


async def temporal_checks(settings: Settings) -> list[Check]:
    """Temporal reachable, then the namespace, then the search attributes, each given the last."""
    # Temporal loads slowly; only this command needs it
    from temporal_client import connect, resolve_connection

    runtime.temporal_used = True
    try:
        address = resolve_connection(settings).address
    except BillhookError as exc:
        return [Check(False, f"cannot connect to Temporal: {_one_line(exc)}")]
    try:
        client = await asyncio.wait_for(connect(settings), TIMEOUT_SECONDS)
    except (RuntimeError, ValueError, TimeoutError) as exc:
        reason = _connect_reason(exc)
        return [
            Check(False, f"cannot reach Temporal at {address}: {reason}; start it with make run")
        ]
    checks = [Check(True, f"Temporal reachable at {address}")]
    checks.append(await namespace_check(client, settings))
    if checks[-1].ok:
        checks.append(await search_attributes_check(client, settings))
    return checks


def _connect_reason(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError):
        return f"no answer within {TIMEOUT_SECONDS:g} s"
    detail = _DETAIL.search(str(exc))
    return detail.group(1) if detail else _one_line(exc)


async def namespace_check(client: Client, settings: Settings) -> Check:
    """The configured namespace exists on the server."""
    from temporalio.api.workflowservice.v1 import DescribeNamespaceRequest
    from temporalio.service import RPCError, RPCStatusCode

    namespace = client.namespace
    try:
        await client.workflow_service.describe_namespace(
            DescribeNamespaceRequest(namespace=namespace),
            timeout=timedelta(seconds=TIMEOUT_SECONDS),
        )
    except RPCError as exc:
        if exc.status is RPCStatusCode.NOT_FOUND:
            fix = _temporal_command(settings, f"operator namespace create --namespace {namespace}")
            return Check(False, f"namespace {namespace} does not exist; create it with: {fix}")
        return Check(False, f"cannot describe namespace {namespace}: {_one_line(exc)}")
    return Check(True, f"namespace {namespace} exists")


async def search_attributes_check(client: Client, settings: Settings) -> Check:
    """Every search attribute billhook's workflows set is registered, as a Keyword."""
    from temporalio.api.enums.v1 import IndexedValueType
    from temporalio.api.operatorservice.v1 import ListSearchAttributesRequest
    from temporalio.service import RPCError

    try:
        registered = await client.operator_service.list_search_attributes(
            ListSearchAttributesRequest(namespace=client.namespace),
            timeout=timedelta(seconds=TIMEOUT_SECONDS),
        )
    except RPCError as exc:
        return Check(False, f"cannot list search attributes: {_one_line(exc)}")
    found = registered.custom_attributes
    keyword = IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD
    missing = [key.name for key in ALL_KEYS if key.name not in found]
    wrong = [key.name for key in ALL_KEYS if key.name in found and found[key.name] != keyword]
    if wrong:
        names = ", ".join(wrong)
        return Check(
            False, f"search attributes not of type Keyword: {names}; remove and re-add them"
        )
    if missing:
        flags = " ".join(f"--name {name}" for name in missing)
        command = f"operator search-attribute create {flags} --type Keyword"
        fix = _temporal_command(settings, command, namespaced=True, namespace=client.namespace)
        return Check(
            False, f"search attributes missing: {', '.join(missing)}; add them with: {fix}"
        )
    return Check(True, f"search attributes registered: {', '.join(k.name for k in ALL_KEYS)}")


def _temporal_command(
    settings: Settings, command: str, *, namespaced: bool = False, namespace: str = "default"
) -> str:
    """``temporal COMMAND``, aimed at the configured server (and namespace, when ``namespaced``)."""
    from temporal_client import resolve_connection

    address = resolve_connection(settings).address
    parts = [f"temporal {command}"]
    # The CLI's defaults: flags only where the configuration differs from them.
    if address != "localhost:7233":
        parts.append(f"--address {address}")
    if namespaced and namespace != "default":
        parts.append(f"--namespace {namespace}")
    return " ".join(parts)


def connection_check(settings: Settings) -> Check:
    """How billhook connects to Temporal and where each part came from (informational)."""
    from temporal_client import resolve_connection

    try:
        connection = resolve_connection(settings)
    except BillhookError as exc:
        return Check(False, _one_line(exc))
    return Check(True, f"Temporal connection: {connection.describe()}")


def encryption_check(settings: Settings) -> Check:
    """Payload encryption: which key seals, which open; off is refused in production mode."""
    keys = [key_id for key_id, _ in settings.codec_key_ring()]
    if keys:
        return Check(
            True,
            f"payload encryption: on (AES-256-GCM; key {keys[0]} encrypts, "
            f"{', '.join(keys)} decrypt)",
        )
    if settings.environment == "production":
        return Check(
            False,
            "payload encryption: off in production (histories hold customers' data in clear); "
            "set BILLHOOK_CODEC_KEYS to the output of: billhook codec-key",
        )
    return Check(True, "payload encryption: off (BILLHOOK_CODEC_KEYS is empty)")


def store_check(settings: Settings) -> Check:
    """The store answers and is migrated to the schema this version needs."""
    try:
        where = display_url(settings.database_url)
        Store.from_url(settings.database_url).check_ready()
    except StoreNotReady as exc:
        return Check(False, _one_line(exc))
    except sa.exc.SQLAlchemyError as exc:
        # A malformed URL or a missing driver: SQLAlchemy's own error, said in one line.
        return Check(False, f"BILLHOOK_DATABASE_URL is not usable: {_one_line(exc)}")
    return Check(True, f"store {where} reachable and migrated (revision {head_revision()})")


def allow_list_check(settings: Settings) -> Check:
    """Where delivery may connect besides the public internet (informational)."""
    if not settings.allowed_networks:
        return Check(
            True, "delivery allow-list: public internet only (BILLHOOK_ALLOWED_NETWORKS is empty)"
        )
    networks = ", ".join(str(network) for network in settings.allowed_networks)
    return Check(True, f"delivery allow-list: public internet and {networks}")


def environment_check(settings: Settings) -> Check:
    """The environment mode and what it changes (informational)."""
    if settings.environment == "production":
        return Check(True, "environment: production (credentials in endpoint URLs are refused)")
    return Check(True, "environment: development (credentials in endpoint URLs are allowed)")


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__
