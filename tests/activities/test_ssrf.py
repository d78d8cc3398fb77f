"""The SSRF matrix: every form of a non-global destination is recorded ``blocked``, never retried.

Two levels. Units: every address form is refused by the transport's check, and by the check
``endpoint create`` makes before any lookup where the form can never be a receiver. What a user
sees: the real ``deliver_batch`` and ``deliver_message`` activities, the real SQLite store, one
endpoint per form (stored as if its URL was accepted before, or its DNS changed since): every
attempt is in the log as ``blocked``, the delivery ``failed``, no next attempt. The HTTP client
of those runs fails the test if a request ever reaches it, so a broken check sends nothing.
"""

from __future__ import annotations

import asyncio
import dataclasses
import ipaddress
import socket
import threading
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
from temporalio.testing import ActivityEnvironment

from activities import addresses, transport
from activities.delivery import DeliveryActivities
from config import Settings
from models.delivery import DeliverBatchInput, DeliverInput, DeliveryStatus, ErrorKind, Event
from models.events import EventType
from store import Store
from worker import http_client

#: Every form of a destination that is not globally routable: (host as in a URL, why).
FORMS: dict[str, tuple[str, str]] = {
    "loopback v4": ("127.0.0.1", "loopback"),
    "loopback v4 top": ("127.255.255.254", "loopback"),
    "loopback v6": ("[::1]", "loopback"),
    "0.0.0.0": ("0.0.0.0", "unspecified"),
    "unspecified v6": ("[::]", "unspecified"),
    "RFC 1918 10/8": ("10.0.0.1", "private"),
    "RFC 1918 172.16/12": ("172.31.255.254", "private"),
    "RFC 1918 192.168/16": ("192.168.1.1", "private"),
    "CGNAT 100.64/10": ("100.64.0.1", "shared address space"),
    "CGNAT 100.64/10 top": ("100.127.255.254", "shared address space"),
    "link-local v4": ("169.254.10.1", "link-local"),
    "AWS/GCP/Azure metadata": ("169.254.169.254", "link-local"),
    "AWS metadata v6": ("[fd00:ec2::254]", "private"),
    "link-local v6": ("[fe80::1]", "link-local"),
    "ULA fc00::/7": ("[fc00::1]", "private"),
    "ULA fd00::/8": ("[fd12:3456:789a::1]", "private"),
    "site-local fec0::/10": ("[fec0::1]", "site-local"),
    "multicast": ("224.0.0.1", "multicast"),
    "broadcast": ("255.255.255.255", "reserved"),
    "IPv4-mapped loopback": ("[::ffff:127.0.0.1]", "loopback, as 127.0.0.1"),
    "IPv4-mapped metadata": ("[::ffff:169.254.169.254]", "as 169.254.169.254"),
    "IPv4-mapped hex": ("[::ffff:7f00:1]", "loopback, as 127.0.0.1"),
    "IPv4-compatible": ("[::127.0.0.1]", "reserved"),
    "IPv4-translated (SIIT)": ("[::ffff:0:7f00:1]", "reserved"),
    "NAT64 64:ff9b::/96 loopback": ("[64:ff9b::7f00:1]", "loopback, as 127.0.0.1"),
    "NAT64 64:ff9b::/96 RFC 1918": ("[64:ff9b::10.0.0.1]", "private, as 10.0.0.1"),
    "NAT64 64:ff9b::/96 metadata": ("[64:ff9b::a9fe:a9fe]", "as 169.254.169.254"),
    "NAT64 local-use 64:ff9b:1::/48": ("[64:ff9b:1::a00:1]", "reserved"),
    "6to4 of loopback": ("[2002:7f00:1::]", "loopback, as 127.0.0.1"),
    "Teredo": ("[2001:0:4136:e378:8000:63bf:3fff:fdd2]", "private"),
    "decimal 2130706433": ("2130706433", "loopback"),
    "decimal metadata 2852039166": ("2852039166", "link-local"),
    "octal 0177.0.0.1": ("0177.0.0.1", "not a valid URL"),
    "octal 017700000001": ("017700000001", "loopback"),
    "hex 0x7f000001": ("0x7f000001", "loopback"),
    "hex 0x7f.1": ("0x7f.1", "loopback"),
    "hex metadata 0xa9.0xfe.0xa9.0xfe": ("0xa9.0xfe.0xa9.0xfe", "link-local"),
    "short 127.1": ("127.1", "loopback"),
    "short 10.1": ("10.1", "private"),
    "zero 0": ("0", "unspecified"),
    "trailing dot 127.0.0.1.": ("127.0.0.1.", "loopback"),
    "localhost": ("localhost", "loopback"),
    "name under localhost": ("api.localhost", "loopback"),
    "DNS name to RFC 1918": ("internal.billhook.test", "private"),
    "DNS name to metadata": ("metadata.billhook.test", "link-local"),
    "DNS name with one private address among public": ("mixed.billhook.test", "private"),
}

#: The resolver seam: names these tests resolve themselves (no nameserver is asked).
NAMES = {
    "internal.billhook.test": ["10.1.2.3"],
    "metadata.billhook.test": ["169.254.169.254"],
    "mixed.billhook.test": ["93.184.215.14", "192.168.0.7"],
    "api.localhost": ["127.0.0.1"],
}


@pytest.fixture
async def resolver(monkeypatch: pytest.MonkeyPatch) -> None:
    """Resolve ``NAMES`` locally; ``*.invalid`` does not resolve; other names as usual."""
    loop = asyncio.get_running_loop()
    real = loop.getaddrinfo

    async def getaddrinfo(host: object, port: object, *args: Any, **kwargs: Any) -> Any:
        if isinstance(host, str) and host in NAMES:
            return [
                (socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port))
                for address in NAMES[host]
            ]
        if isinstance(host, str) and host.endswith(".invalid"):
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return await real(host, port, *args, **kwargs)

    monkeypatch.setattr(loop, "getaddrinfo", getaddrinfo)


@pytest.fixture
async def unreachable() -> AsyncIterator[httpx.AsyncClient]:
    """A client that fails the test if a request ever reaches its transport."""

    def refuse(request: httpx.Request) -> httpx.Response:
        raise AssertionError(f"a request to {request.url} reached the network")

    async with httpx.AsyncClient(transport=httpx.MockTransport(refuse)) as http:
        yield http


# Units: the transport's check, every form -------------------------------------------------


@pytest.mark.usefixtures("resolver")
@pytest.mark.parametrize("host,why", FORMS.values(), ids=FORMS.keys())
async def test_transport_blocks_every_form(
    unreachable: httpx.AsyncClient, host: str, why: str
) -> None:
    result = await transport.post(
        unreachable,
        f"http://{host}:8080/hook",
        b"{}",
        {"webhook-signature": "v1,c2lnbmF0dXJlLW5ldmVyLXNob3du"},
        allowed=[],
        timeout=5.0,
        max_bytes=1024,
        keep_bytes=64,
        allow_credentials=False,
    )
    assert (result.status, result.error_kind) == (None, ErrorKind.BLOCKED)
    assert result.error is not None and result.error.startswith("blocked: ")
    assert why in result.error and "\n" not in result.error
    assert "c2lnbmF0dXJl" not in result.error


CREATION_REFUSED = {
    "decimal": "2130706433",
    "octal": "0177.0.0.1",
    "hex": "0x7f.1",
    "short": "127.1",
    "IPv4-mapped": "::ffff:127.0.0.1",
    "NAT64": "64:ff9b::a9fe:a9fe",
    "6to4": "2002:a9fe:a9fe::",
    "metadata": "169.254.169.254",
    "metadata v6": "fd00:ec2::254",
    "link-local v6": "fe80::1",
    "unspecified": "0.0.0.0",
    "multicast": "ff02::1",
}


@pytest.mark.parametrize("host", CREATION_REFUSED.values(), ids=CREATION_REFUSED.keys())
def test_creation_refuses_forms_that_are_never_receivers(host: str) -> None:
    why = addresses.literal_refusal(host, [])
    assert why is not None and host in why


@pytest.mark.parametrize(
    "host", ["127.0.0.1", "::1", "10.0.0.1", "192.168.1.1", "fd12::1", "localhost", "example.com"]
)
def test_creation_leaves_allow_listable_hosts_to_delivery(host: str) -> None:
    # The worker's BILLHOOK_ALLOWED_NETWORKS may allow these (make run allows loopback): the
    # command line cannot know, so delivery decides (and blocks them by default, above).
    assert addresses.literal_refusal(host, []) is None


def test_creation_honours_an_explicit_allow_list() -> None:
    allowed = [ipaddress.ip_network("169.254.0.0/16")]
    assert addresses.literal_refusal("169.254.169.254", allowed) is None


# What a user sees: the attempt log of real delivery activities on the real store ------------


def _settings(store: Store, allowed: list[str]) -> Settings:
    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        database_url=str(store.engine.url),
        environment="development",
        allowed_networks=[ipaddress.ip_network(n) for n in allowed],  # type: ignore[misc]
    )


def _environment() -> ActivityEnvironment:
    env = ActivityEnvironment()
    env.info = dataclasses.replace(env.info, started_time=datetime.now(UTC))
    return env


def _event(key: str) -> Event:
    return Event.for_event(EventType.INVOICE_PAID, key, {"invoice_id": key}, datetime.now(UTC))


def _blocked_once(store: Store, message_id: str, endpoint_id: str) -> str:
    """The one attempt of a delivery, checked blocked and final; its error."""
    [attempt] = store.list_attempts(message_id=message_id, endpoint_id=endpoint_id)
    assert attempt.error_kind == ErrorKind.BLOCKED, attempt
    assert attempt.next_retry_at is None
    assert attempt.error is not None and attempt.error.startswith("blocked: ")
    [delivery] = [
        d for d in store.deliveries_for_message(message_id) if d.endpoint_id == endpoint_id
    ]
    assert delivery.status == DeliveryStatus.FAILED
    return attempt.error


@pytest.mark.usefixtures("resolver")
async def test_every_form_is_recorded_blocked_and_not_retried(
    store: Store, unreachable: httpx.AsyncClient
) -> None:
    now = datetime.now(UTC)
    endpoints = {
        label: store.create_endpoint(f"http://{host}:8080/hook", ["invoice.paid"], now)[0].id
        for label, (host, _) in FORMS.items()
    }
    activities = DeliveryActivities(unreachable, store, _settings(store, []))
    event = _event("ssrf-matrix")

    result = await _environment().run(
        activities.deliver_batch, DeliverBatchInput(batch_id="b1", events=[event])
    )

    assert result.retries == [] and result.failed == len(FORMS)
    for label, endpoint_id in endpoints.items():
        why = FORMS[label][1]
        assert why in _blocked_once(store, event.message_id, endpoint_id), label

    # A later scheduled attempt (the retry workflow's) of a blocked delivery sends nothing.
    endpoint_id = endpoints["AWS/GCP/Azure metadata"]
    again = await _environment().run(
        activities.deliver_message,
        DeliverInput(message_id=event.message_id, endpoint_id=endpoint_id),
    )
    assert again.status == DeliveryStatus.FAILED
    _blocked_once(store, event.message_id, endpoint_id)


@pytest.mark.usefixtures("resolver")
async def test_dns_change_after_creation_is_blocked_at_delivery(
    store: Store, unreachable: httpx.AsyncClient
) -> None:
    # Created while the name was public; it now resolves to an internal address.
    now = datetime.now(UTC)
    endpoint, _ = store.create_endpoint("https://hooks.billhook.test/in", ["invoice.paid"], now)
    NAMES["hooks.billhook.test"] = ["10.20.30.40"]
    try:
        activities = DeliveryActivities(unreachable, store, _settings(store, []))
        event = _event("rebound")
        result = await _environment().run(
            activities.deliver_batch, DeliverBatchInput(batch_id="b2", events=[event])
        )
    finally:
        del NAMES["hooks.billhook.test"]
    assert result.retries == []
    assert "hooks.billhook.test (10.20.30.40)" in _blocked_once(
        store, event.message_id, endpoint.id
    )


# Redirects: a receiver that answers 30x to an internal address -----------------------------


class _Redirector(BaseHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("content-length", 0)))
        self.server.hits += 1  # type: ignore[attr-defined]
        self.send_response(int(self.path.split("/")[1]))
        self.send_header("location", self.path.split("/", 2)[2])
        self.send_header("content-length", "0")
        self.end_headers()


@pytest.fixture
def redirector() -> Iterator[ThreadingHTTPServer]:
    """A receiver on 127.0.0.1: ``POST /<status>/<location>`` answers that redirect."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Redirector)
    server.hits = 0  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join()


REDIRECTS = {
    "302 to metadata": ("302/http://169.254.169.254/latest/meta-data/", "169.254.169.254"),
    "307 to RFC 1918": ("307/http://10.0.0.1:8080/admin", "10.0.0.1"),
    "301 to IPv6 loopback": ("301/http://[::1]/", "loopback"),
    "308 to decimal IPv4": ("308/http://167772161:8080/", "167772161 (10.0.0.1)"),
    "303 to a name resolving private": ("303/https://internal.billhook.test/", "10.1.2.3"),
    "302 to file:": ("302/file:///etc/passwd", "scheme 'file' is refused"),
}


@pytest.mark.usefixtures("resolver")
@pytest.mark.parametrize("path,why", REDIRECTS.values(), ids=REDIRECTS.keys())
async def test_redirect_to_internal_address_is_blocked_and_not_retried(
    store: Store, redirector: ThreadingHTTPServer, path: str, why: str
) -> None:
    port = redirector.server_address[1]
    url = f"http://127.0.0.1:{port}/{path}"
    endpoint, _ = store.create_endpoint(url, ["invoice.paid"], datetime.now(UTC))
    async with http_client() as http:
        # Only the receiver's own address is allowed: 127.0.0.1/32.
        activities = DeliveryActivities(http, store, _settings(store, ["127.0.0.1/32"]))
        event = _event(f"redirect-{path}")
        result = await _environment().run(
            activities.deliver_batch, DeliverBatchInput(batch_id=path, events=[event])
        )
    assert result.retries == []
    error = _blocked_once(store, event.message_id, endpoint.id)
    assert why in error and "not followed" in error
    [attempt] = store.list_attempts(message_id=event.message_id)
    assert attempt.response_status == int(path.split("/")[0])
    assert redirector.hits == 1  # type: ignore[attr-defined] # the redirect was not followed


@pytest.mark.usefixtures("resolver")
@pytest.mark.parametrize("location", ["/elsewhere", "https://gone.invalid/"])
async def test_other_redirects_stay_ordinary_retried_failures(
    store: Store, redirector: ThreadingHTTPServer, location: str
) -> None:
    # delivery.md: redirects are not followed and count as failures (retried on schedule).
    port = redirector.server_address[1]
    url = f"http://127.0.0.1:{port}/302/{location}"
    endpoint, _ = store.create_endpoint(url, ["invoice.paid"], datetime.now(UTC))
    async with http_client() as http:
        activities = DeliveryActivities(http, store, _settings(store, ["127.0.0.1/32"]))
        event = _event(f"plain-{location}")
        result = await _environment().run(
            activities.deliver_batch, DeliverBatchInput(batch_id=location, events=[event])
        )
    [retry] = result.retries
    assert retry.endpoint_id == endpoint.id
    [attempt] = store.list_attempts(message_id=event.message_id)
    assert attempt.error_kind == ErrorKind.REDIRECT and attempt.next_retry_at is not None


def test_the_real_localhost_resolves_to_loopback() -> None:
    # The "localhost" form above goes through the machine's own resolver, not the seam.
    assert "localhost" not in NAMES
    addresses = {info[4][0] for info in socket.getaddrinfo("localhost", 80)}
    assert addresses and all(ipaddress.ip_address(a).is_loopback for a in addresses)
