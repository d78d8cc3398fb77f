"""The one way billhook connects to Temporal: worker, client (``client``) and tests use it.

Starting workflows, emitting events, updates and queries are ``client``'s (``BillhookClient``,
``client.publisher``, ``client.starts``); this module only resolves and makes the connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass, field

from pydantic import SecretStr
from temporalio.client import Client
from temporalio.envconfig import ClientConfig, ClientConfigProfile
from temporalio.runtime import Runtime
from temporalio.service import TLSConfig

from codec import data_converter
from config import InvalidSettings, Settings

log = logging.getLogger("billhook.worker")

#: Waits between tries to reach Temporal (or the database) at start: 1 s, doubling, at most 30 s.
CONNECT_BACKOFF = (1.0, 30.0)


@dataclass(frozen=True)
class TemporalConnection:
    """Where and how billhook connects to Temporal, resolved from settings and envconfig.

    Precedence, for the address and the namespace each: ``BILLHOOK_TEMPORAL_ADDRESS`` /
    ``BILLHOOK_TEMPORAL_NAMESPACE`` when set; else ``TEMPORAL_ADDRESS`` / ``TEMPORAL_NAMESPACE``;
    else the envconfig profile (``TEMPORAL_PROFILE``, default ``default``, from
    ``TEMPORAL_CONFIG_FILE`` or ``~/.config/temporalio/temporal.toml``); else
    ``localhost:7233`` and ``default``. TLS, client certificates, the API key and gRPC metadata
    come from the ``TEMPORAL_*`` variables and the profile only (Temporal's envconfig: the
    variables win over the file).
    """

    address: str
    namespace: str
    #: What gave the address and the namespace: a variable's name, ``profile NAME`` or ``default``.
    address_from: str
    namespace_from: str
    #: The profile's name when the config file has it, else None.
    profile: str | None
    tls: bool
    #: A client certificate (mTLS) is presented.
    mtls: bool
    api_key: SecretStr | None = field(default=None, repr=False)
    tls_config: TLSConfig | bool = field(default=False, repr=False)
    rpc_metadata: Mapping[str, str] = field(default_factory=dict, repr=False)

    def describe(self) -> str:
        """One line for people: never the API key, the certificates or the metadata values."""
        profile = f"profile {self.profile}" if self.profile else "no profile"
        tls = "TLS on" if self.tls else "TLS off"
        if self.tls and isinstance(self.tls_config, TLSConfig):
            if self.tls_config.server_root_ca_cert:
                tls += " (own server CA)"
            if self.tls_config.domain:
                tls += f" (server name {self.tls_config.domain})"
        mtls = "mTLS client certificate" if self.mtls else "no client certificate"
        api_key = "API key" if self.api_key else "no API key"
        return (
            f"{self.address} (from {self.address_from}), namespace {self.namespace} "
            f"(from {self.namespace_from}); {profile}; {tls}; {mtls}; {api_key}"
        )


def resolve_connection(
    settings: Settings, environ: Mapping[str, str] | None = None
) -> TemporalConnection:
    """The connection ``connect`` makes, with where each part came from.

    Args:
        settings: billhook's settings (``BILLHOOK_TEMPORAL_ADDRESS`` and ``_NAMESPACE``).
        environ: the ``TEMPORAL_*`` variables; the process's environment when None.

    Raises:
        InvalidSettings: the profile, its file or a certificate cannot be used (one line).
    """
    # An empty variable is unset (a compose file's ``${TEMPORAL_TLS:-}``), not a path or a value.
    env = {
        name: value for name, value in (os.environ if environ is None else environ).items() if value
    }
    name = env.get("TEMPORAL_PROFILE") or "default"
    try:
        profile = ClientConfigProfile.load(
            profile=env.get("TEMPORAL_PROFILE"), override_env_vars=env
        )
        in_file = name in ClientConfig.load(override_env_vars=env).profiles
        connect = profile.to_client_connect_config()
    except (RuntimeError, OSError, ValueError) as exc:  # the SDK's ConfigError is a RuntimeError
        raise InvalidSettings(f"Temporal client configuration: {_one_line(exc)}") from None
    explicit = settings.temporal_explicit()
    address, address_from = _pick(
        "ADDRESS", settings.temporal_address, explicit, connect.get("target_host"), env, name
    )
    namespace, namespace_from = _pick(
        "NAMESPACE", settings.temporal_namespace, explicit, connect.get("namespace"), env, name
    )
    tls_config = connect.get("tls", False)
    mtls = isinstance(tls_config, TLSConfig) and tls_config.client_cert is not None
    if isinstance(tls_config, TLSConfig) and (tls_config.client_cert is None) != (
        tls_config.client_private_key is None
    ):
        raise InvalidSettings(
            "Temporal client configuration: a client certificate needs its private key and "
            "the other way round (TEMPORAL_TLS_CLIENT_CERT_PATH and TEMPORAL_TLS_CLIENT_KEY_PATH)"
        )
    api_key = connect.get("api_key")
    return TemporalConnection(
        address=address,
        namespace=namespace,
        address_from=address_from,
        namespace_from=namespace_from,
        profile=name if in_file else None,
        tls=tls_config is not False,
        mtls=mtls,
        api_key=SecretStr(api_key) if api_key else None,
        tls_config=tls_config,
        rpc_metadata=dict(connect.get("rpc_metadata", {})),
    )


def _pick(
    part: str,
    setting: str,
    explicit: frozenset[str],
    found: str | None,
    env: Mapping[str, str],
    profile: str,
) -> tuple[str, str]:
    """The address or the namespace (``part``), and what gave it, in ``TemporalConnection``'s order.

    Args:
        part: ``ADDRESS`` or ``NAMESPACE``, as in the variables' names.
        setting: billhook's setting of it, its default unless set.
        explicit: the settings given, not defaulted (``Settings.temporal_explicit``).
        found: what envconfig found: ``TEMPORAL_<part>`` or the profile's value, if any.
        env: the ``TEMPORAL_*`` variables that are set.
        profile: the profile's name.
    """
    if f"temporal_{part.lower()}" in explicit:
        return setting, f"BILLHOOK_TEMPORAL_{part}"
    if found:
        variable = f"TEMPORAL_{part}"
        return found, variable if env.get(variable) else f"profile {profile}"
    return setting, "default"


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


async def connect(settings: Settings, runtime: Runtime | None = None) -> Client:
    """A Temporal client with billhook's data converter, connected as ``resolve_connection`` says.

    The data converter is pydantic's, with payloads and failures sealed by ``codec`` when
    ``BILLHOOK_CODEC_KEYS`` is set: the worker, the command line and the tests all get it here.

    Args:
        settings: where Temporal is, and the codec keys.
        runtime: the SDK runtime (telemetry: metrics, core logs); the SDK's default when None.

    Raises:
        InvalidSettings: the client configuration cannot be used.
        RuntimeError: Temporal does not answer (the SDK's "Failed client connect").
    """
    connection = resolve_connection(settings)
    return await Client.connect(
        connection.address,
        namespace=connection.namespace,
        api_key=connection.api_key.get_secret_value() if connection.api_key else None,
        tls=connection.tls_config,
        rpc_metadata=connection.rpc_metadata,
        data_converter=data_converter(settings),
        runtime=runtime,
    )


async def connect_when_up(
    settings: Settings, runtime: Runtime | None, stop: asyncio.Event
) -> Client | None:
    """Connect to Temporal, retrying with backoff while it does not answer.

    A worker started before its server (a compose file, a reboot) waits for it and starts
    serving as soon as it answers, logging each failed try. Returns None when ``stop`` is set
    first.
    """
    delay, most = CONNECT_BACKOFF
    while True:
        try:
            return await connect(settings, runtime=runtime)
        except RuntimeError as exc:  # the SDK's "Failed client connect: ..."
            reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            log.warning(
                "Temporal at %s does not answer (%s); retrying in %.0f s",
                resolve_connection(settings).address,
                reason,
                delay,
            )
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=delay)
            return None
        delay = min(delay * 2, most)
