"""One attempt's HTTP POST against real local receivers; refused destinations never connect.

Every connection in these tests goes to a loopback receiver. Destinations outside loopback are
posted through a client whose transport fails the test if it is ever reached, so even a broken
address check could not send traffic anywhere.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import ipaddress
import shutil
import socket
import socketserver
import ssl
import subprocess
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
import svix.webhooks

from activities import addresses, transport
from models import signing
from models.delivery import ErrorKind

SECRET = signing.generate_secret()
BODY = b'{"attempt":1,"created_at":"2024-03-01 12:00:00.000000+00:00","properties":{}}'
PAGE = ("hello, \N{GREEK SMALL LETTER ALPHA} " * 1000).encode()
LOOPBACK = [ipaddress.ip_network("127.0.0.0/8"), ipaddress.ip_network("::1/128")]


@dataclass
class Seen:
    """A request a receiver got."""

    path: str
    headers: dict[str, str]
    body: bytes


class Receiver(ThreadingHTTPServer):
    """A local HTTP receiver that records every connection and request."""

    daemon_threads = True

    def __init__(self, host: str, family: socket.AddressFamily) -> None:
        self.address_family = family
        self.connections = 0
        self.requests: list[Seen] = []
        super().__init__((host, 0), Handler)

    def server_bind(self) -> None:
        # HTTPServer's own server_bind looks the host up (getfqdn): no lookups here.
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = "receiver", self.server_address[1]

    def process_request(self, request: Any, client_address: Any) -> None:
        self.connections += 1
        super().process_request(request, client_address)

    @property
    def port(self) -> int:
        return int(self.server_address[1])


class Handler(BaseHTTPRequestHandler):
    """Routes by path: ``/ok``, ``/status/<n>``, ``/redirect``, ``/sleep``, ``/drip``, ``/big``."""

    server: Receiver

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("content-length", 0)))
        headers = {k.lower(): v for k, v in self.headers.items()}
        self.server.requests.append(Seen(self.path, headers, body))
        path = urlsplit(self.path).path
        route = ROUTES.get(path) or (_status if path.startswith("/status/") else _ok)
        # The client may stop reading, as it should past its limits.
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            route(self)

    def reply(self, status: int, body: bytes = b"", **headers: str) -> None:
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name.replace("_", "-"), value)
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def _ok(h: Handler) -> None:
    h.reply(200, PAGE)


def _status(h: Handler) -> None:
    h.reply(int(h.path.split("/")[2]), b"nope", retry_after="120")


def _redirect(h: Handler) -> None:
    h.reply(302, b"", location="/ok")


def _sleep(h: Handler) -> None:
    time.sleep(3)
    h.reply(200, b"late")


def _drip(h: Handler) -> None:
    # Each byte arrives well within any per-read timeout; the whole takes 3 s.
    h.send_response(200)
    h.end_headers()
    for _ in range(30):
        h.wfile.write(b".")
        h.wfile.flush()
        time.sleep(0.1)


def _big(h: Handler) -> None:
    h.send_response(200)
    h.end_headers()
    for _ in range(64):
        h.wfile.write(b"x" * 16384)


ROUTES: dict[str, Callable[[Handler], None]] = {
    "/ok": _ok,
    "/redirect": _redirect,
    "/sleep": _sleep,
    "/drip": _drip,
    "/big": _big,
}


@dataclass
class Receivers:
    v4: Receiver
    v6: Receiver

    @property
    def connections(self) -> int:
        return self.v4.connections + self.v6.connections


def _serve(server: ThreadingHTTPServer) -> threading.Thread:
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    return thread


@pytest.fixture
def receivers() -> Iterator[Receivers]:
    """Plain HTTP receivers on 127.0.0.1 and ::1, on ephemeral ports."""
    servers = Receivers(Receiver("127.0.0.1", socket.AF_INET), Receiver("::1", socket.AF_INET6))
    threads = [_serve(servers.v4), _serve(servers.v6)]
    yield servers
    for server, thread in zip((servers.v4, servers.v6), threads, strict=True):
        server.shutdown()
        server.server_close()
        thread.join()


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    """A client as the worker builds it: verified TLS, no redirects, no environment proxies."""
    async with httpx.AsyncClient(follow_redirects=False, verify=True, trust_env=False) as http:
        yield http


@pytest.fixture
async def unreachable() -> AsyncIterator[httpx.AsyncClient]:
    """A client that fails the test if a request ever reaches its transport."""

    def refuse(request: httpx.Request) -> httpx.Response:
        raise AssertionError(f"a request to {request.url} reached the network")

    async with httpx.AsyncClient(transport=httpx.MockTransport(refuse)) as http:
        yield http


def _headers() -> dict[str, str]:
    return signing.webhook_headers([SECRET], "msg_test", int(time.time()), BODY, "billhook/test")


async def _post(
    http: httpx.AsyncClient,
    url: str,
    *,
    allowed: list[addresses.IPNetwork] | None = None,
    timeout: float = 5.0,  # noqa: ASYNC109 - passed through to transport.post
    max_bytes: int = 64 * 1024,
    keep_bytes: int = 4096,
    allow_credentials: bool = False,
    headers: dict[str, str] | None = None,
) -> transport.HttpOutcome:
    return await transport.post(
        http,
        url,
        BODY,
        _headers() if headers is None else headers,
        allowed=LOOPBACK if allowed is None else allowed,
        timeout=timeout,
        max_bytes=max_bytes,
        keep_bytes=keep_bytes,
        allow_credentials=allow_credentials,
    )


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def test_2xx_delivers_signed_body_and_keeps_the_start(
    client: httpx.AsyncClient, receivers: Receivers
) -> None:
    headers = _headers()
    url = f"http://127.0.0.1:{receivers.v4.port}/ok"
    result = await _post(client, url, keep_bytes=100, headers=headers)
    assert (result.status, result.error_kind, result.error) == (200, None, None)
    assert result.body == PAGE[:100].decode("utf-8", errors="replace")
    assert 0 <= result.duration_ms < 5000
    [seen] = receivers.v4.requests
    assert seen.body == BODY
    assert seen.headers["host"] == f"127.0.0.1:{receivers.v4.port}"
    assert seen.headers["webhook-signature"] == headers["webhook-signature"]
    # What a receiver does with it: verify with the Svix library.
    svix.webhooks.Webhook(SECRET).verify(seen.body, seen.headers)


async def test_body_cut_mid_character_is_replaced_not_raised(
    client: httpx.AsyncClient, receivers: Receivers
) -> None:
    # "hello, " is 7 bytes and alpha 2: byte 8 splits the first alpha.
    result = await _post(client, f"http://127.0.0.1:{receivers.v4.port}/ok", keep_bytes=8)
    assert result.body == "hello, \N{REPLACEMENT CHARACTER}"


async def test_host_header_is_the_original_name(
    client: httpx.AsyncClient, receivers: Receivers
) -> None:
    result = await _post(client, f"http://localhost:{receivers.v4.port}/ok")
    assert result.status == 200
    assert receivers.v4.requests[0].headers["host"] == f"localhost:{receivers.v4.port}"


@pytest.mark.parametrize("status", [400, 404, 429, 500, 503])
async def test_error_status(client: httpx.AsyncClient, receivers: Receivers, status: int) -> None:
    result = await _post(client, f"http://127.0.0.1:{receivers.v4.port}/status/{status}")
    assert (result.status, result.error_kind, result.error) == (
        status,
        ErrorKind.HTTP_STATUS,
        f"HTTP {status}",
    )
    assert (result.body, result.retry_after) == ("nope", "120")


async def test_redirect_is_not_followed(client: httpx.AsyncClient, receivers: Receivers) -> None:
    result = await _post(client, f"http://127.0.0.1:{receivers.v4.port}/redirect")
    assert (result.status, result.error_kind) == (302, ErrorKind.REDIRECT)
    assert [seen.path for seen in receivers.v4.requests] == ["/redirect"]


@pytest.mark.parametrize("path", ["/sleep", "/drip"])
async def test_whole_attempt_is_bounded_by_the_timeout(
    client: httpx.AsyncClient, receivers: Receivers, path: str
) -> None:
    started = time.monotonic()
    result = await _post(client, f"http://127.0.0.1:{receivers.v4.port}{path}", timeout=0.5)
    elapsed = time.monotonic() - started
    assert (result.status, result.error_kind) == (None, ErrorKind.TIMEOUT)
    assert result.error == "no complete response within 0.5 s"
    assert 0.45 <= elapsed < 1.5
    assert 450 <= result.duration_ms < 1500


async def test_body_over_the_cap_is_too_large(
    client: httpx.AsyncClient, receivers: Receivers
) -> None:
    url = f"http://127.0.0.1:{receivers.v4.port}/big"
    result = await _post(client, url, max_bytes=64 * 1024, keep_bytes=4096)
    assert (result.status, result.error_kind) == (200, ErrorKind.TOO_LARGE)
    assert result.body == "x" * 4096


async def test_closed_port_is_connect(client: httpx.AsyncClient) -> None:
    headers = _headers()
    result = await _post(client, f"http://127.0.0.1:{_closed_port()}/", headers=headers)
    assert (result.status, result.error_kind) == (None, ErrorKind.CONNECT)
    assert result.error is not None and "\n" not in result.error
    assert headers["svix-signature"] not in result.error


@pytest.fixture
async def no_such_names(monkeypatch: pytest.MonkeyPatch) -> None:
    """Names under .invalid fail to resolve, without asking any nameserver (no traffic)."""
    loop = asyncio.get_running_loop()
    real = loop.getaddrinfo

    async def getaddrinfo(host: object, *args: Any, **kwargs: Any) -> Any:
        if isinstance(host, str) and host.endswith(".invalid"):
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return await real(host, *args, **kwargs)

    monkeypatch.setattr(loop, "getaddrinfo", getaddrinfo)


@pytest.mark.usefixtures("no_such_names")
async def test_unknown_name_is_dns(unreachable: httpx.AsyncClient) -> None:
    result = await _post(unreachable, "http://nonexistent.invalid/", allowed=[])
    assert (result.status, result.error_kind) == (None, ErrorKind.DNS)
    assert result.error is not None and "nonexistent.invalid" in result.error


LOOPBACK_URLS = ["http://127.0.0.1:{v4}/ok", "http://localhost:{v4}/ok", "http://[::1]:{v6}/ok"]


@pytest.mark.parametrize("template", LOOPBACK_URLS)
async def test_loopback_refused_without_allow_list(
    client: httpx.AsyncClient, receivers: Receivers, template: str
) -> None:
    url = template.format(v4=receivers.v4.port, v6=receivers.v6.port)
    result = await _post(client, url, allowed=[])
    assert (result.status, result.error_kind) == (None, ErrorKind.BLOCKED)
    assert result.error is not None and "loopback" in result.error
    assert receivers.connections == 0


@pytest.mark.parametrize("template", LOOPBACK_URLS)
async def test_loopback_delivered_when_allowed(
    client: httpx.AsyncClient, receivers: Receivers, template: str
) -> None:
    url = template.format(v4=receivers.v4.port, v6=receivers.v6.port)
    result = await _post(client, url, allowed=LOOPBACK)
    assert (result.status, result.error_kind) == (200, None)
    assert receivers.connections == 1
    netloc = urlsplit(url).netloc
    [seen] = receivers.v6.requests if "[" in netloc else receivers.v4.requests
    assert seen.headers["host"] == netloc


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("http://10.0.0.1/", "private"),
        ("http://192.168.1.1/", "private"),
        ("http://172.16.5.4:8080/", "private"),
        ("http://169.254.169.254/latest/meta-data", "link-local"),
        ("http://100.64.0.1/", "shared"),
        ("http://0.0.0.0/", "unspecified"),
        ("http://224.0.0.1/", "multicast"),
        ("http://240.0.0.1/", "reserved"),
        ("http://[::ffff:127.0.0.1]/", "loopback, as 127.0.0.1"),
        ("http://[::ffff:169.254.169.254]/", "link-local"),
        ("http://[::ffff:10.0.0.1]/", "private"),
        ("http://[fe80::1]/", "link-local"),
        ("http://[fd00::1]/", "private"),
        ("http://[::]/", "unspecified"),
        ("http://[ff02::1]/", "multicast"),
        ("http://[64:ff9b::a9fe:a9fe]/", "as 169.254.169.254"),  # NAT64
        ("http://[2002:7f00:1::]/", "as 127.0.0.1"),  # 6to4
        ("https://[2001:db8::1]/", "private"),  # documentation
    ],
)
async def test_non_global_destination_refused_before_connecting(
    unreachable: httpx.AsyncClient, url: str, why: str
) -> None:
    started = time.monotonic()
    result = await _post(unreachable, url, allowed=[])
    assert (result.status, result.error_kind) == (None, ErrorKind.BLOCKED)
    assert result.error is not None and why in result.error
    assert time.monotonic() - started < 0.5


async def test_mapped_ipv4_judged_by_the_ipv4_allow_list(unreachable: httpx.AsyncClient) -> None:
    allowed = [ipaddress.ip_network("10.0.0.0/8")]
    resolved = await addresses.resolve_checked("::ffff:10.1.2.3", 80, allowed)
    assert resolved == [ipaddress.ip_address("::ffff:10.1.2.3")]
    with pytest.raises(addresses.Blocked, match="private"):
        await addresses.resolve_checked("::ffff:192.168.0.1", 80, allowed)


@pytest.mark.usefixtures("no_such_names")
async def test_resolve_checked_returns_global_addresses_unchanged() -> None:
    # IP literals resolve locally, without a lookup.
    assert await addresses.resolve_checked("8.8.8.8", 443, []) == [ipaddress.ip_address("8.8.8.8")]
    with pytest.raises(addresses.ResolveFailed):
        await addresses.resolve_checked("nonexistent.invalid", 443, [])


@pytest.mark.parametrize(
    "template",
    [
        "ftp://127.0.0.1:{v4}/ok",
        "file:///etc/passwd",
        "gopher://127.0.0.1:{v4}/",
        "http:///ok",
        "http://[::1/",
    ],
)
async def test_refused_url_never_connects(
    client: httpx.AsyncClient, receivers: Receivers, template: str
) -> None:
    result = await _post(client, template.format(v4=receivers.v4.port))
    assert (result.status, result.error_kind) == (None, ErrorKind.BLOCKED)
    assert receivers.connections == 0


async def test_credentials_refused_in_production_and_never_shown(
    client: httpx.AsyncClient, receivers: Receivers
) -> None:
    url = f"http://alice:hunter2-very-secret@127.0.0.1:{receivers.v4.port}/ok"
    result = await _post(client, url, allow_credentials=False)
    assert (result.status, result.error_kind) == (None, ErrorKind.BLOCKED)
    assert result.error is not None and "credentials" in result.error
    assert "hunter2" not in result.error and "alice" not in result.error
    assert f"127.0.0.1:{receivers.v4.port}/ok" in result.error
    assert receivers.connections == 0


async def test_credentials_allowed_in_development_go_as_basic_auth(
    client: httpx.AsyncClient, receivers: Receivers
) -> None:
    url = f"http://alice:hunter2-very-secret@127.0.0.1:{receivers.v4.port}/ok"
    result = await _post(client, url, allow_credentials=True)
    assert result.status == 200
    seen = receivers.v4.requests[0]
    assert seen.headers["host"] == f"127.0.0.1:{receivers.v4.port}"
    token = base64.b64encode(b"alice:hunter2-very-secret").decode()
    assert seen.headers["authorization"] == f"Basic {token}"


async def test_credentials_absent_from_connection_errors(client: httpx.AsyncClient) -> None:
    url = f"http://alice:hunter2-very-secret@127.0.0.1:{_closed_port()}/"
    result = await _post(client, url, allow_credentials=True)
    assert result.error_kind is ErrorKind.CONNECT
    assert result.error is not None and "hunter2" not in result.error


# TLS: a receiver whose certificate names only "localhost".


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("openssl is needed to make a test certificate")
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [
            *(openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"),
            *("-nodes", "-days", "1", "-subj", "/CN=localhost"),
            *("-addext", "subjectAltName=DNS:localhost"),
            *("-keyout", str(key), "-out", str(cert)),
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


@pytest.fixture
def tls_receiver(certificate: tuple[Path, Path]) -> Iterator[Receiver]:
    server = Receiver("127.0.0.1", socket.AF_INET)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(*certificate)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = _serve(server)
    yield server
    server.shutdown()
    server.server_close()
    thread.join()


@pytest.fixture
async def tls_client(certificate: tuple[Path, Path]) -> AsyncIterator[httpx.AsyncClient]:
    """A verifying client that trusts the test certificate (and nothing else)."""
    context = ssl.create_default_context(cafile=str(certificate[0]))
    async with httpx.AsyncClient(verify=context, trust_env=False) as http:
        yield http


async def test_tls_verifies_the_hostname_while_connecting_to_the_ip(
    tls_client: httpx.AsyncClient, tls_receiver: Receiver
) -> None:
    result = await _post(tls_client, f"https://localhost:{tls_receiver.port}/ok")
    assert (result.status, result.error_kind) == (200, None)
    [seen] = tls_receiver.requests
    assert seen.headers["host"] == f"localhost:{tls_receiver.port}"
    # A connection verified for one hostname is never reused for another on the same IP.
    assert seen.headers["connection"] == "close"


async def test_tls_certificate_for_another_name_is_refused(
    tls_client: httpx.AsyncClient, tls_receiver: Receiver
) -> None:
    result = await _post(tls_client, f"https://127.0.0.1:{tls_receiver.port}/ok")
    assert (result.status, result.error_kind) == (None, ErrorKind.CONNECT)
    assert result.error is not None and "certificate" in result.error.lower()
    assert tls_receiver.requests == []
