"""The one way billhook connects to Temporal: worker, command line and tests use it."""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from pydantic import SecretStr
from temporalio.client import Client, WorkflowHandle
from temporalio.common import WorkflowIDReusePolicy
from temporalio.envconfig import ClientConfig, ClientConfigProfile
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.runtime import Runtime
from temporalio.service import TLSConfig

from codec import data_converter
from config import InvalidSettings, Settings
from models.billing import (
    CustomerSnapshot,
    CustomerWorkflowInput,
    InvoiceWorkflowInput,
    SubscriptionState,
    SubscriptionWorkflowInput,
)
from models.delivery import (
    DispatchInput,
    Event,
    PublishInput,
    SearchKeys,
    dispatcher_id,
    shard_of,
)
from models.search import typed_attributes
from workflows.customer import CustomerWorkflow
from workflows.dispatch import DispatchWorkflow
from workflows.invoice import InvoiceWorkflow
from workflows.subscription import SubscriptionWorkflow

log = logging.getLogger(__name__)

#: Events one signal carries at most: well under Temporal's payload size limit.
EVENTS_PER_SIGNAL = 100


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
        "temporal_address" in explicit and settings.temporal_address,
        "BILLHOOK_TEMPORAL_ADDRESS",
        connect.get("target_host"),
        "TEMPORAL_ADDRESS" if env.get("TEMPORAL_ADDRESS") else f"profile {name}",
        settings.temporal_address,
    )
    namespace, namespace_from = _pick(
        "temporal_namespace" in explicit and settings.temporal_namespace,
        "BILLHOOK_TEMPORAL_NAMESPACE",
        connect.get("namespace"),
        "TEMPORAL_NAMESPACE" if env.get("TEMPORAL_NAMESPACE") else f"profile {name}",
        settings.temporal_namespace,
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
    billhook: str | bool, billhook_from: str, temporal: str | None, temporal_from: str, default: str
) -> tuple[str, str]:
    if isinstance(billhook, str):
        return billhook, billhook_from
    if temporal:
        return temporal, temporal_from
    return default, "default"


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


class Publisher:
    """Emits events: signal-with-start of their dispatchers, concurrent emissions coalesced.

    ``publish`` returns once Temporal accepted a signal carrying the events, so they are
    durable. While one signal to a dispatcher is on its way, the events emitted meanwhile wait
    and go together in the next one: no delay when idle, few signals under load. The worker
    shares one publisher among its workflows (``activities.emission``); the command line and
    applications use one of their own.
    """

    def __init__(self, client: Client, task_queue: str, shards: int) -> None:
        self.client = client
        self.task_queue = task_queue
        self.shards = shards
        self._lanes: dict[int, _Lane] = {}

    async def publish(self, events: Sequence[Event]) -> None:
        """Emit ``events``; an event already emitted is delivered once all the same."""
        by_shard: dict[int, list[Event]] = {}
        for event in events:
            by_shard.setdefault(shard_of(event.message_id, self.shards), []).append(event)
        await asyncio.gather(*(self._lane(s).send(evs) for s, evs in by_shard.items()))

    def _lane(self, shard: int) -> _Lane:
        if shard not in self._lanes:
            self._lanes[shard] = _Lane(self, shard)
        return self._lanes[shard]

    async def signal(self, shard: int, events: list[Event]) -> None:
        """One signal-with-start of dispatcher ``shard`` carrying ``events``."""
        await self.client.start_workflow(
            DispatchWorkflow.run,
            DispatchInput(task_queue=self.task_queue, shard=shard),
            id=dispatcher_id(self.task_queue, shard),
            task_queue=self.task_queue,
            start_signal="publish",
            start_signal_args=[PublishInput(events=events)],
        )


@dataclass
class _Lane:
    """The signals to one dispatcher: one on its way at a time, the next one filling up."""

    publisher: Publisher
    shard: int
    waiting: list[tuple[list[Event], asyncio.Future[None]]] = field(default_factory=list)
    sending: asyncio.Task[None] | None = None

    async def send(self, events: list[Event]) -> None:
        done = asyncio.get_running_loop().create_future()
        self.waiting.append((events, done))
        if self.sending is None:
            self.sending = asyncio.create_task(self._drain())
        await done

    async def _drain(self) -> None:
        try:
            while self.waiting:
                taken: list[tuple[list[Event], asyncio.Future[None]]] = []
                count = 0
                while self.waiting and count < EVENTS_PER_SIGNAL:
                    taken.append(self.waiting.pop(0))
                    count += len(taken[-1][0])
                await self._signal(taken)
        except BaseException as exc:
            for _, done in self.waiting:  # not sent: their emitters must not wait for good
                if not done.done():
                    done.set_exception(exc)
            self.waiting.clear()
            raise
        finally:
            self.sending = None

    async def _signal(self, taken: list[tuple[list[Event], asyncio.Future[None]]]) -> None:
        try:
            await self.publisher.signal(self.shard, [e for events, _ in taken for e in events])
        except BaseException as exc:  # handed to every emitter of this signal, which raises it
            for _, done in taken:
                if not done.done():
                    done.set_exception(exc)
            if not isinstance(exc, Exception):
                raise  # cancelled (the process is stopping): the emitters were told
            return
        for _, done in taken:
            if not done.done():
                done.set_result(None)


async def start_customer(
    client: Client, task_queue: str, customer: CustomerSnapshot
) -> WorkflowHandle[CustomerWorkflow, str]:
    """Create a customer: id ``customer-<id>``, never reused: ``customer.created`` is sent once."""
    return await client.start_workflow(
        CustomerWorkflow.run,
        CustomerWorkflowInput(customer=customer),
        id=f"customer-{customer.customer_id}",
        task_queue=task_queue,
        id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
        search_attributes=typed_attributes(SearchKeys(customer_id=customer.customer_id)),
    )


async def start_subscription(
    client: Client, task_queue: str, input: SubscriptionWorkflowInput
) -> WorkflowHandle[SubscriptionWorkflow, SubscriptionState]:
    """Start a subscription's workflow, id ``subscription-<sub id>``."""
    return await client.start_workflow(
        SubscriptionWorkflow.run,
        input,
        id=f"subscription-{input.subscription_id}",
        task_queue=task_queue,
        id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
        search_attributes=typed_attributes(
            SearchKeys(
                customer_id=input.customer.customer_id, subscription_id=input.subscription_id
            )
        ),
    )


async def start_invoice(client: Client, task_queue: str, input: InvoiceWorkflowInput) -> None:
    """Start an invoice's workflow, id ``invoice-<invoice id>``; a second start does nothing."""
    try:
        await client.start_workflow(
            InvoiceWorkflow.run,
            input,
            id=f"invoice-{input.invoice_id}",
            task_queue=task_queue,
            id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
            search_attributes=typed_attributes(
                SearchKeys(
                    customer_id=input.customer.customer_id,
                    subscription_id=input.subscription_id,
                    invoice_id=input.invoice_id,
                )
            ),
        )
    except WorkflowAlreadyStartedError:
        log.info("invoice %s already started", input.invoice_id)
