"""One safe HTTP POST: the transport of a single delivery attempt (delivery.md, Transport safety).

The host is resolved first and every address it resolves to must be globally routable (or inside
a configured allow-list); the request then goes to the checked address itself, so a DNS answer
that changes between the check and the connection (rebinding) cannot redirect it. The original
hostname stays in the ``Host`` header and in TLS (SNI and certificate verification).
"""

from __future__ import annotations

import asyncio
import ipaddress
import re
import socket
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from urllib.parse import unquote

import httpx

from models.delivery import ErrorKind

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

#: Carrier-grade NAT space: not private in the RFC 1918 sense, yet never reachable publicly.
_SHARED = ipaddress.IPv4Network("100.64.0.0/10")
#: NAT64's well-known prefix embeds an IPv4 address that the translator would connect to.
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
#: ``scheme://userinfo@``: greedy up to the authority's last ``@``, anywhere in a text.
_USERINFO = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*://)([^/?#\s]*)@")
_DEFAULT_PORTS = {"http": 80, "https": 443}
#: Cloud metadata services outside link-local space (AWS's IPv6 one is a ULA address).
_METADATA = frozenset({ipaddress.IPv6Address("fd00:ec2::254")})
#: Kinds of address (``_not_global``'s reasons) that no endpoint is ever at.
_NEVER_RECEIVERS = frozenset(
    {"unspecified", "link-local, e.g. cloud metadata", "multicast", "reserved", "site-local"}
)


class Blocked(Exception):
    """A destination billhook refuses to connect to; the message is a one-line reason."""


class ResolveFailed(Exception):
    """The host name did not resolve."""


@dataclass(frozen=True, slots=True)
class HttpOutcome:
    """What one POST ended as.

    Attributes:
        status: the response status, or None when no response arrived.
        error_kind: why the attempt failed, or None for a 2xx response.
        error: a one-line explanation, free of credentials, headers and signatures.
        body: the first bytes of the response (up to ``keep_bytes``), decoded leniently.
        retry_after: the response's ``Retry-After`` header, if any.
        duration_ms: the whole attempt's duration, resolution included.
    """

    status: int | None = None
    error_kind: ErrorKind | None = None
    error: str | None = None
    body: str = ""
    retry_after: str | None = None
    duration_ms: int = 0


def redact_url(url: str | httpx.URL) -> str:
    """The URL without its userinfo (``https://user:pass@host/`` becomes ``https://host/``)."""
    return _USERINFO.sub(r"\1", str(url))


def _not_global(address: IPAddress) -> str | None:
    """Why an address is not globally routable, or None when it is."""
    # Explicit checks first, for a precise reason and in case ``is_global`` misses a range.
    checks = (
        ("unspecified", address.is_unspecified),
        ("loopback", address.is_loopback),
        ("link-local, e.g. cloud metadata", address.is_link_local),
        # Deprecated (RFC 3879) yet still routed inside some sites; ``is_global`` lets it pass.
        ("site-local", isinstance(address, ipaddress.IPv6Address) and address.is_site_local),
        ("multicast", address.is_multicast),
        ("shared address space", address in _SHARED),
        ("reserved", address.is_reserved),
        ("private", address.is_private),
        ("special-purpose", not address.is_global),
    )
    return next((name for name, hit in checks if hit), None)


def _embedded_v4(address: IPAddress) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address stands for (mapped, 6to4, NAT64), if any."""
    if isinstance(address, ipaddress.IPv4Address):
        return None
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def _refusal(address: IPAddress, allowed: Sequence[IPNetwork]) -> str | None:
    """Why billhook will not connect to an address, or None when it may."""
    # An IPv6 form of an IPv4 address reaches that IPv4 address: judge (and allow) it as such.
    embedded = _embedded_v4(address)
    judged = embedded or address
    if any(form in network for form in (address, judged) for network in allowed):
        return None
    why = _not_global(judged)
    return f"{why}, as {embedded}" if why and embedded else why


def literal_refusal(host: str, allowed: Sequence[IPNetwork]) -> str | None:
    """Why a URL's host is refused before any lookup, when an endpoint is created or changed.

    Refused whatever the configuration (unless ``allowed`` holds the address): IPv4 written in
    a shorthand, octal, hex or decimal form (``127.1``, ``0177.0.0.1``, ``0x7f.1``,
    ``2130706433``), which resolvers read as an address while people read a name; an IPv6
    form of a non-global IPv4 address (``::ffff:127.0.0.1``, NAT64, 6to4); and literals no
    receiver can be at: unspecified, multicast, link-local (cloud metadata) and reserved
    addresses, and ``fd00:ec2::254``. Loopback and private literals are accepted here, since
    the worker's ``BILLHOOK_ALLOWED_NETWORKS`` may allow them; delivery checks every address
    of every attempt again, names included.

    Args:
        host: the URL's host, without brackets (``urlsplit(url).hostname``).
        allowed: networks the caller's configuration allows.
    """
    try:
        address = ipaddress.ip_address(_without_dot(host))
    except ValueError:
        return _numeric_form(_without_dot(host))
    embedded = _embedded_v4(address)
    if _refusal(address, allowed) is None:
        return None
    why = _not_global(embedded or address)
    if embedded is not None and why is not None:
        return f"{host} stands for the IPv4 address {embedded} ({why}); write that address"
    if address in _METADATA or why in _NEVER_RECEIVERS:
        return (
            f"{host} is not globally routable ({why}) and can never be a receiver; "
            "give the receiver's own address or host name"
        )
    return None


def _without_dot(host: str) -> str:
    """``host`` without a trailing dot when the rest is an IPv4 address in some form."""
    bare = host.rstrip(".")
    if bare == host or not bare:
        return host
    try:
        socket.inet_aton(bare)
    except (OSError, ValueError):
        return host
    return bare


def _numeric_form(host: str) -> str | None:
    """The refusal of an IPv4 address written other than as dotted decimal, if ``host`` is one."""
    try:
        packed = socket.inet_aton(host)  # what getaddrinfo accepts as an IPv4 literal
    except (OSError, ValueError):  # ValueError: an embedded NUL
        return None
    address = ipaddress.IPv4Address(packed)
    return (
        f"{host} is the IPv4 address {address} written in a shorthand, octal, hex or decimal "
        "form; write the address as dotted decimal, or use a host name"
    )


def _label(host: str, address: IPAddress) -> str:
    """The host, and the address it resolved to when the host is a name."""
    try:
        literal = ipaddress.ip_address(host) == address
    except ValueError:
        literal = False
    return host if literal else f"{host} ({address})"


async def resolve_checked(host: str, port: int, allowed: Sequence[IPNetwork]) -> list[IPAddress]:
    """Resolve a host (a name or an IP literal) and check every address it resolves to.

    Args:
        host: a hostname (ASCII, IDNA-encoded) or an IP literal without brackets.
        port: the destination port.
        allowed: networks that may be reached although not globally routable (tests, dev).

    Returns:
        The distinct addresses, in resolver order.

    Raises:
        ResolveFailed: the name did not resolve.
        Blocked: any address is not globally routable and not inside ``allowed``. One bad
            address is enough: a resolver could hand it out on the next lookup.
    """
    loop = asyncio.get_running_loop()
    # "127.0.0.1." is that address to some resolvers and no name to others: judge it as the address.
    host = _without_dot(host)
    try:
        infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise ResolveFailed(f"{host} did not resolve: {exc}") from None
    addresses = list(dict.fromkeys(ipaddress.ip_address(info[4][0]) for info in infos))
    if not addresses:
        raise ResolveFailed(f"{host} resolved to no address")
    for address in addresses:
        if (why := _refusal(address, allowed)) is not None:
            raise Blocked(
                f"{_label(host, address)} is not globally routable ({why}); "
                "add its network to BILLHOOK_ALLOWED_NETWORKS to deliver there"
            )
    return addresses


def _target(url: str, allow_credentials: bool) -> httpx.URL:
    """The parsed URL if billhook delivers to it at all (scheme, host, credentials)."""
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL:
        raise Blocked(f"{redact_url(url)} is not a valid URL") from None
    if parsed.scheme not in _DEFAULT_PORTS:
        raise Blocked(f"scheme {parsed.scheme!r} is refused; use http or https")
    if not parsed.host:
        raise Blocked(f"{redact_url(parsed)} has no host")
    if parsed.userinfo and not allow_credentials:
        raise Blocked(
            f"{redact_url(parsed)} carries credentials, refused in production mode; remove them"
        )
    return parsed


def _request(
    client: httpx.AsyncClient,
    target: httpx.URL,
    address: IPAddress,
    body: bytes,
    headers: dict[str, str],
    io_timeout: float,
) -> httpx.Request:
    """The POST to the checked address, addressed to the original host."""
    host = target.raw_host.decode("ascii")
    sent = httpx.Headers(headers)
    sent["host"] = target.netloc.decode("ascii")
    # Identity encoding keeps the byte cap honest: a gzip bomb cannot inflate past it.
    sent["accept-encoding"] = "identity"
    extensions: dict[str, str] = {}
    if target.scheme == "https":
        # TLS must name and verify the real host, not the IP we connect to.
        extensions["sni_hostname"] = host
        # The pool keys connections by IP: a kept-alive connection verified for another
        # hostname on the same IP must not carry this request, so none is kept.
        sent["connection"] = "close"
    return client.build_request(
        "POST",
        target.copy_with(host=str(address)),
        content=body,
        headers=sent,
        timeout=io_timeout,
        extensions=extensions,
    )


async def _redirect_refusal(
    target: httpx.URL, location: str | None, allowed: Sequence[IPNetwork]
) -> str | None:
    """Why a redirect's destination is refused, or None (never followed either way).

    A receiver answering with a redirect to a metadata service or another internal address is
    probing for a way in: the attempt is recorded ``blocked`` and not retried, as if the
    endpoint's URL named that address. Another host is resolved and checked as any is.
    """
    if not location:
        return None
    try:
        destination = target.join(location.strip())
    except httpx.InvalidURL:
        return None  # unusable anyway: an ordinary redirect failure
    shown = redact_url(destination)
    if destination.scheme not in _DEFAULT_PORTS:
        return f"redirect to {shown}: scheme {destination.scheme!r} is refused"
    if not destination.host:
        return None
    host = destination.raw_host.decode("ascii")
    port = destination.port or _DEFAULT_PORTS[destination.scheme]
    if host == target.raw_host.decode("ascii"):
        return None  # the host already checked for this attempt
    try:
        await resolve_checked(host, port, allowed)
    except Blocked as exc:
        return f"redirect to {shown}: {exc}"
    except ResolveFailed:
        return None
    return None


async def _exchange(
    client: httpx.AsyncClient,
    request: httpx.Request,
    max_bytes: int,
    keep_bytes: int,
    allowed: Sequence[IPNetwork],
    target: httpx.URL,
) -> HttpOutcome:
    """Send the request and read at most ``max_bytes`` of the response (no redirects)."""
    response = await client.send(request, stream=True, follow_redirects=False)
    try:
        body, too_large = await _read_capped(response, max_bytes)
    finally:
        await response.aclose()
    status = response.status_code
    kind, error = None, None
    if too_large:
        kind, error = ErrorKind.TOO_LARGE, f"HTTP {status} with a body over {max_bytes} bytes"
    elif 300 <= status < 400:
        location = response.headers.get("location")
        if (why := await _redirect_refusal(target, location, allowed)) is not None:
            kind, error = ErrorKind.BLOCKED, f"blocked: HTTP {status} {why}; not followed"
        else:
            kind, error = ErrorKind.REDIRECT, f"HTTP {status} redirect, not followed"
    elif not 200 <= status < 300:
        kind, error = ErrorKind.HTTP_STATUS, f"HTTP {status}"
    return HttpOutcome(
        status=status,
        error_kind=kind,
        error=error,
        body=body[:keep_bytes].decode("utf-8", errors="replace"),
        retry_after=response.headers.get("retry-after"),
    )


async def _read_capped(response: httpx.Response, max_bytes: int) -> tuple[bytes, bool]:
    """The response body up to ``max_bytes``, and whether it was longer."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.aiter_raw():
        chunks.append(chunk)
        size += len(chunk)
        if size > max_bytes:
            return b"".join(chunks)[:max_bytes], True
    return b"".join(chunks), False


async def _attempt(
    client: httpx.AsyncClient,
    target: httpx.URL,
    body: bytes,
    headers: dict[str, str],
    allowed: Sequence[IPNetwork],
    *,
    io_timeout: float,
    max_bytes: int,
    keep_bytes: int,
) -> HttpOutcome:
    """Resolve and check the host, then POST to its addresses in order until one connects."""
    port = target.port or _DEFAULT_PORTS[target.scheme]
    *others, last = await resolve_checked(target.raw_host.decode("ascii"), port, allowed)

    async def send_to(address: IPAddress) -> HttpOutcome:
        request = _request(client, target, address, body, headers, io_timeout)
        return await _exchange(client, request, max_bytes, keep_bytes, allowed, target)

    for address in others:
        try:
            return await send_to(address)
        except httpx.ConnectError:
            continue  # another address of the same (checked) host may answer
    return await send_to(last)


async def post(
    client: httpx.AsyncClient,
    url: str,
    body: bytes,
    headers: dict[str, str],
    *,
    allowed: Sequence[IPNetwork],
    # A number, not a context manager: it bounds the whole attempt (asyncio.timeout below).
    timeout: float,  # noqa: ASYNC109
    max_bytes: int,
    keep_bytes: int,
    allow_credentials: bool,
) -> HttpOutcome:
    """POST one attempt safely; every failure is returned as an outcome, never raised.

    Args:
        client: a client built with verified TLS (``follow_redirects`` is ignored: never).
        url: the endpoint URL; only ``http`` and ``https`` are delivered to.
        body: the exact bytes to send.
        headers: the request headers (signatures included); they never appear in ``error``.
        allowed: networks that may be reached although not globally routable.
        timeout: seconds for the whole attempt: resolve, connect, send and read.
        max_bytes: the most response bytes read; a longer body is ``TOO_LARGE``.
        keep_bytes: how many of them the outcome keeps.
        allow_credentials: whether ``user:pass@`` in the URL is allowed (development only).
    """
    started = time.monotonic()
    try:
        target = _target(url, allow_credentials)
        async with asyncio.timeout(timeout):
            outcome = await _attempt(
                client,
                target,
                body,
                headers,
                allowed,
                # httpx's own per-operation limits must not cut the attempt shorter.
                io_timeout=timeout,
                max_bytes=max_bytes,
                keep_bytes=keep_bytes,
            )
    except (Blocked, ResolveFailed, TimeoutError, httpx.TransportError) as exc:
        error = _scrub(_describe(exc, url, timeout), url, headers)
        outcome = HttpOutcome(error_kind=_kind(exc), error=error)
    return replace(outcome, duration_ms=round((time.monotonic() - started) * 1000))


def _kind(exc: Exception) -> ErrorKind:
    """The error kind of an attempt that raised."""
    if isinstance(exc, Blocked):
        return ErrorKind.BLOCKED
    if isinstance(exc, ResolveFailed):
        return ErrorKind.DNS
    if isinstance(exc, TimeoutError | httpx.TimeoutException):
        return ErrorKind.TIMEOUT
    return ErrorKind.CONNECT


def _describe(exc: Exception, url: str, timeout: float) -> str:
    """A one-line explanation of an attempt that raised."""
    if isinstance(exc, Blocked):
        return f"blocked: {exc}"
    if isinstance(exc, TimeoutError | httpx.TimeoutException):
        return f"no complete response within {timeout:g} s"
    where = _where(url)
    if isinstance(exc, httpx.ConnectError):
        return f"connecting to {where} failed: {exc}"
    if isinstance(exc, httpx.TransportError):
        return f"{type(exc).__name__} from {where}: {exc}"
    return str(exc)


def _where(url: str) -> str:
    """The URL's ``host:port``, without userinfo."""
    try:
        return httpx.URL(url).netloc.decode("ascii")
    except httpx.InvalidURL:
        return "the endpoint"


def _scrub(text: str, url: str, headers: dict[str, str]) -> str:
    """``text`` on one line, without the URL's userinfo or any request header value."""
    text = redact_url(" ".join(text.split()))
    found = [part for match in _USERINFO.finditer(url) for part in _userinfo_parts(match[2])]
    # Longest first, so a value is replaced before any shorter value inside it; short values
    # (``1``, ``close``) cannot leak anything and would garble the message.
    for secret in sorted({*found, *headers.values()}, key=len, reverse=True):
        if len(secret) >= 8:
            text = text.replace(secret, "***")
    return text


def _userinfo_parts(userinfo: str) -> list[str]:
    """The userinfo, its user and password, raw and percent-decoded."""
    parts = [userinfo, *userinfo.split(":", 1)]
    return parts + [unquote(part) for part in parts]
