"""The Temporal connection: envconfig profiles and ``TEMPORAL_*`` variables, TLS and mTLS
through a real TLS proxy in front of the dev server, the precedence over billhook's settings,
and what ``billhook doctor`` says about it."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from temporalio.api.workflowservice.v1 import GetSystemInfoRequest
from temporalio.testing import WorkflowEnvironment

import config
from config import InvalidSettings, Settings
from models.delivery import DeliveryStatus
from starter.cli import main
from store import Store
from temporal_client import connect, resolve_connection
from tests.conftest import RunWorker, settled
from tests.ops.conftest import address_of, emit
from tests.ops.tls import Pki, TlsProxy, make_pki
from tests.receiver import Receiver

API_KEY = "tmprl-api-key-0123456789abcdef"


@pytest.fixture
def pki(tmp_path: Path) -> Pki:
    return make_pki(tmp_path / "pki")


@pytest.fixture
async def tls_proxy(pki: Pki, dev_env: WorkflowEnvironment) -> AsyncIterator[TlsProxy]:
    """TLS (server certificate only) in front of the dev server."""
    proxy = TlsProxy(pki, address_of(dev_env))
    await proxy.start()
    yield proxy
    await proxy.stop()


@pytest.fixture
async def mtls_proxy(pki: Pki, dev_env: WorkflowEnvironment) -> AsyncIterator[TlsProxy]:
    """TLS that also requires a client certificate signed by the test's CA."""
    proxy = TlsProxy(pki, address_of(dev_env), require_client_cert=True)
    await proxy.start()
    yield proxy
    await proxy.stop()


@pytest.fixture
def environ(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Callable[[dict[str, str]], None]:
    """Sets ``TEMPORAL_*`` (and other) variables for a test, with no stray profile file read."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / ".config"))
    for name in ("TEMPORAL_ADDRESS", "TEMPORAL_NAMESPACE", "TEMPORAL_PROFILE", "TEMPORAL_API_KEY"):
        monkeypatch.delenv(name, raising=False)

    def set_all(values: dict[str, str]) -> None:
        for name, value in values.items():
            monkeypatch.setenv(name, value)

    return set_all


def tls_variables(proxy: TlsProxy, pki: Pki, *, client_cert: bool) -> dict[str, str]:
    values = {
        "TEMPORAL_ADDRESS": proxy.address,
        "TEMPORAL_TLS": "true",
        "TEMPORAL_TLS_SERVER_CA_CERT_PATH": str(pki.path("ca.pem")),
    }
    if client_cert:
        values["TEMPORAL_TLS_CLIENT_CERT_PATH"] = str(pki.path("client.pem"))
        values["TEMPORAL_TLS_CLIENT_KEY_PATH"] = str(pki.path("client.key"))
    return values


def bare_settings(**values: str) -> Settings:
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


async def system_info(settings: Settings) -> str:
    client = await connect(settings)
    info = await client.workflow_service.get_system_info(GetSystemInfoRequest())
    return info.server_version


async def test_tls_through_a_proxy_that_speaks_only_tls(
    environ: Callable[[dict[str, str]], None], tls_proxy: TlsProxy, pki: Pki
) -> None:
    environ(tls_variables(tls_proxy, pki, client_cert=False))

    assert await system_info(bare_settings())
    assert [h.alpn for h in tls_proxy.handshakes] == ["h2"]
    assert tls_proxy.handshakes[0].client_common_name is None

    # The same proxy without TLS on the client side gets nowhere: TLS really was used.
    environ({"TEMPORAL_TLS": "false"})
    with pytest.raises(RuntimeError, match="Failed client connect"):
        await asyncio.wait_for(system_info(bare_settings()), 15)


async def test_tls_verifies_the_server_certificate(
    environ: Callable[[dict[str, str]], None], tls_proxy: TlsProxy, tmp_path: Path
) -> None:
    other = make_pki(tmp_path / "other")  # a CA that did not sign the proxy's certificate
    environ(tls_variables(tls_proxy, other, client_cert=False))
    with pytest.raises(RuntimeError, match="Failed client connect"):
        await asyncio.wait_for(system_info(bare_settings()), 15)


async def test_mtls_worker_delivers_through_a_proxy_requiring_client_certificates(
    environ: Callable[[dict[str, str]], None],
    mtls_proxy: TlsProxy,
    pki: Pki,
    store: Store,
    settings: Settings,
    run_worker: RunWorker,
    receiver: Receiver,
) -> None:
    environ(tls_variables(mtls_proxy, pki, client_cert=True))
    # BILLHOOK_TEMPORAL_ADDRESS unset: TEMPORAL_ADDRESS (the proxy) is the address.
    secure = Settings(
        _env_file=None,  # type: ignore[call-arg]
        task_queue=settings.task_queue,
        database_url=settings.database_url,
        environment="development",
        allowed_networks=settings.allowed_networks,
        retry_schedule=settings.retry_schedule,
    )
    connection = resolve_connection(secure)
    assert (connection.address, connection.tls, connection.mtls) == (mtls_proxy.address, True, True)
    endpoint, _ = store.create_endpoint(receiver.url, ["invoice.created"], now=_now())

    client = await connect(secure)
    async with run_worker(client, secure):
        event = await emit(client, secure)
        assert await settled(store, event.message_id) == {endpoint.id: DeliveryStatus.SUCCEEDED}

    assert len(receiver.requests) == 1
    assert mtls_proxy.handshakes
    assert {h.client_common_name for h in mtls_proxy.handshakes} == {"billhook-worker"}
    assert {h.alpn for h in mtls_proxy.handshakes} == {"h2"}

    # Without the client certificate the proxy refuses the handshake.
    environ({"TEMPORAL_TLS_CLIENT_CERT_PATH": "", "TEMPORAL_TLS_CLIENT_KEY_PATH": ""})
    with pytest.raises(RuntimeError, match="Failed client connect"):
        await asyncio.wait_for(system_info(bare_settings()), 15)


def test_address_and_namespace_precedence(
    environ: Callable[[dict[str, str]], None], tmp_path: Path
) -> None:
    profile = tmp_path / "temporal.toml"
    profile.write_text(
        '[profile.default]\naddress = "from-profile:7233"\nnamespace = "profile-ns"\n'
    )
    environ({"TEMPORAL_CONFIG_FILE": str(profile)})

    from_profile = resolve_connection(bare_settings())
    assert (from_profile.address, from_profile.namespace) == ("from-profile:7233", "profile-ns")
    assert from_profile.address_from == from_profile.namespace_from == "profile default"
    assert from_profile.profile == "default" and not from_profile.tls

    environ({"TEMPORAL_ADDRESS": "from-env:7233", "TEMPORAL_NAMESPACE": "env-ns"})
    from_env = resolve_connection(bare_settings())
    assert (from_env.address, from_env.address_from) == ("from-env:7233", "TEMPORAL_ADDRESS")
    assert (from_env.namespace, from_env.namespace_from) == ("env-ns", "TEMPORAL_NAMESPACE")

    mine = resolve_connection(
        bare_settings(temporal_address="mine:7233", temporal_namespace="billing")
    )
    assert (mine.address, mine.address_from) == ("mine:7233", "BILLHOOK_TEMPORAL_ADDRESS")
    assert (mine.namespace, mine.namespace_from) == ("billing", "BILLHOOK_TEMPORAL_NAMESPACE")


def test_defaults_without_any_configuration(environ: Callable[[dict[str, str]], None]) -> None:
    connection = resolve_connection(bare_settings())
    assert connection.describe() == (
        "localhost:7233 (from default), namespace default (from default); no profile; "
        "TLS off; no client certificate; no API key"
    )


def test_an_api_key_turns_tls_on_and_never_shows(
    environ: Callable[[dict[str, str]], None],
) -> None:
    environ({"TEMPORAL_ADDRESS": "ns.acct.tmprl.cloud:7233", "TEMPORAL_API_KEY": API_KEY})
    connection = resolve_connection(bare_settings())
    assert connection.tls and connection.api_key is not None
    assert connection.api_key.get_secret_value() == API_KEY
    for shown in (repr(connection), str(connection), connection.describe()):
        assert API_KEY not in shown
    assert connection.describe().endswith("TLS on; no client certificate; API key")


@pytest.mark.parametrize(
    ("variables", "says"),
    [
        ({"TEMPORAL_PROFILE": "prod"}, "Profile 'prod' not found"),
        ({"TEMPORAL_TLS_CLIENT_CERT_PATH": "/nowhere/client.pem"}, "/nowhere/client.pem"),
    ],
)
def test_a_bad_client_configuration_is_one_line(
    environ: Callable[[dict[str, str]], None], variables: dict[str, str], says: str
) -> None:
    environ(variables)
    with pytest.raises(InvalidSettings) as raised:
        resolve_connection(bare_settings())
    assert str(raised.value).startswith("Temporal client configuration: ")
    assert says in str(raised.value) and "\n" not in str(raised.value)


def test_a_client_certificate_without_its_key_is_refused(
    environ: Callable[[dict[str, str]], None], pki: Pki
) -> None:
    environ({"TEMPORAL_TLS_CLIENT_CERT_PATH": str(pki.path("client.pem"))})
    with pytest.raises(InvalidSettings, match="a client certificate needs its private key"):
        resolve_connection(bare_settings())


# --- billhook doctor and the command line ------------------------------------------------------


@dataclass(frozen=True)
class Report:
    code: int
    lines: list[str]
    err: str


Run = Callable[..., Awaitable[Report]]


@pytest.fixture
def billhook(
    environ: Callable[[dict[str, str]], None], capsys: pytest.CaptureFixture[str]
) -> Iterator[Run]:
    """``await billhook(env, *argv)``: the command line in a thread, with ``env`` set."""

    async def run(env: dict[str, str], *argv: str) -> Report:
        environ(env)
        config.get_settings.cache_clear()
        capsys.readouterr()
        code = await asyncio.to_thread(main, list(argv))
        out, err = capsys.readouterr()
        return Report(code, out.splitlines(), err)

    yield run
    config.get_settings.cache_clear()


def store_env(settings: Settings) -> dict[str, str]:
    return {"BILLHOOK_DATABASE_URL": settings.database_url, "BILLHOOK_ENVIRONMENT": "development"}


async def test_doctor_says_a_profile_with_mtls_was_used_and_passes(
    billhook: Run, mtls_proxy: TlsProxy, pki: Pki, settings: Settings, tmp_path: Path
) -> None:
    profile = tmp_path / "temporal.toml"
    profile.write_text(
        f'[profile.secure]\naddress = "{mtls_proxy.address}"\nnamespace = "default"\n'
        "[profile.secure.tls]\n"
        f'server_ca_cert_path = "{pki.path("ca.pem")}"\n'
        f'client_cert_path = "{pki.path("client.pem")}"\n'
        f'client_key_path = "{pki.path("client.key")}"\n'
    )
    env = {
        **store_env(settings),
        "TEMPORAL_CONFIG_FILE": str(profile),
        "TEMPORAL_PROFILE": "secure",
    }

    report = await billhook(env, "doctor")

    assert report.code == 0, report
    assert report.lines[0] == f"✓ Temporal reachable at {mtls_proxy.address}"
    assert report.lines[1] == "✓ namespace default exists"
    assert (
        f"✓ Temporal connection: {mtls_proxy.address} (from profile secure), namespace default "
        "(from profile secure); profile secure; TLS on (own server CA); mTLS client certificate; "
        "no API key"
    ) in report.lines
    assert {h.client_common_name for h in mtls_proxy.handshakes} == {"billhook-worker"}


async def test_doctor_says_an_api_key_is_used_without_showing_it(
    billhook: Run, tls_proxy: TlsProxy, pki: Pki, settings: Settings
) -> None:
    env = {
        **store_env(settings),
        **tls_variables(tls_proxy, pki, client_cert=False),
        "TEMPORAL_API_KEY": API_KEY,
    }
    report = await billhook(env, "doctor")

    assert report.code == 0, report
    [line] = [line for line in report.lines if "Temporal connection" in line]
    assert line == (
        f"✓ Temporal connection: {tls_proxy.address} (from TEMPORAL_ADDRESS), namespace default "
        "(from default); no profile; TLS on (own server CA); no client certificate; API key"
    )
    assert API_KEY not in "\n".join(report.lines) + report.err


async def test_billhook_temporal_address_wins_and_doctor_says_so(
    billhook: Run, dev_env: WorkflowEnvironment, settings: Settings
) -> None:
    env = {
        **store_env(settings),
        "BILLHOOK_TEMPORAL_ADDRESS": address_of(dev_env),
        "TEMPORAL_ADDRESS": "127.0.0.1:1",
    }
    report = await billhook(env, "doctor")
    assert report.code == 0, report
    assert report.lines[0] == f"✓ Temporal reachable at {address_of(dev_env)}"
    assert f"{address_of(dev_env)} (from BILLHOOK_TEMPORAL_ADDRESS)" in "\n".join(report.lines)


async def test_bad_client_configuration_is_one_line_for_commands_and_doctor(
    billhook: Run, settings: Settings
) -> None:
    env = {**store_env(settings), "TEMPORAL_PROFILE": f"missing-{uuid.uuid4().hex[:6]}"}
    trigger = await billhook(env, "trigger", "invoice.created")
    assert trigger.code == 1
    assert trigger.err.startswith("error: Temporal client configuration: Profile 'missing-")
    assert len(trigger.err.splitlines()) == 1

    doctor = await billhook(env, "doctor")
    assert doctor.code == 1
    assert doctor.lines[0].startswith("✗ cannot connect to Temporal: Temporal client configuration")
    assert "Traceback" not in doctor.err


def _now() -> datetime:
    return datetime.now(UTC)


async def test_doctor_says_which_key_encrypts_and_fails_production_without_encryption(
    billhook: Run, dev_env: WorkflowEnvironment, settings: Settings
) -> None:
    from codec import new_key

    key2, key1 = new_key(), new_key()
    env = {**store_env(settings), "BILLHOOK_TEMPORAL_ADDRESS": address_of(dev_env)}
    report = await billhook({**env, "BILLHOOK_CODEC_KEYS": f"k2:{key2},k1:{key1}"}, "doctor")
    assert report.code == 0, report
    assert "✓ payload encryption: on (AES-256-GCM; key k2 encrypts, k2, k1 decrypt)" in report.lines
    assert key2 not in "\n".join(report.lines) and key1 not in "\n".join(report.lines)

    production = {**env, "BILLHOOK_CODEC_KEYS": "", "BILLHOOK_ENVIRONMENT": "production"}
    report = await billhook(production, "doctor")
    assert report.code == 1
    assert (
        "✗ payload encryption: off in production (histories hold customers' data in clear); "
        "set BILLHOOK_CODEC_KEYS to the output of: billhook codec-key"
    ) in report.lines
