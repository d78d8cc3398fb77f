"""One safe HTTP POST: the transport of a single delivery attempt (delivery.md, Transport safety).

The host is resolved first and every address it resolves to must be globally routable (or inside
a configured allow-list, ``activities.addresses``); the request then goes to the checked address
itself, so a DNS answer that changes between the check and the connection (rebinding) cannot
redirect it. The original hostname stays in the ``Host`` header and in TLS (SNI and certificate
verification).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace

import httpx

from activities.addresses import Blocked, IPAddress, IPNetwork, ResolveFailed, resolve_checked

# Re-exported: ``starter.endpoint`` imports it from here until it imports ``activities.addresses``.
from activities.addresses import literal_refusal as literal_refusal
from models.delivery import ErrorKind
from models.urls import DEFAULT_PORTS, credentials_in, has_credentials, redact_url


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


def _target(url: str, allow_credentials: bool) -> httpx.URL:
    """The parsed URL if billhook delivers to it at all (scheme, host, credentials)."""
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL:
        raise Blocked(f"{redact_url(url)} is not a valid URL") from None
    if parsed.scheme not in DEFAULT_PORTS:
        raise Blocked(f"scheme {parsed.scheme!r} is refused; use http or https")
    if not parsed.host:
        raise Blocked(f"{redact_url(str(parsed))} has no host")
    if has_credentials(url) and not allow_credentials:
        raise Blocked(
            f"{redact_url(str(parsed))} carries credentials, refused in production mode; "
            "remove them"
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
    shown = redact_url(str(destination))
    if destination.scheme not in DEFAULT_PORTS:
        return f"redirect to {shown}: scheme {destination.scheme!r} is refused"
    if not destination.host:
        return None
    host = destination.raw_host.decode("ascii")
    port = destination.port or DEFAULT_PORTS[destination.scheme]
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
    port = target.port or DEFAULT_PORTS[target.scheme]
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
    # Longest first, so a value is replaced before any shorter value inside it; short values
    # (``1``, ``close``) cannot leak anything and would garble the message.
    for secret in sorted({*credentials_in(url), *headers.values()}, key=len, reverse=True):
        if len(secret) >= 8:
            text = text.replace(secret, "***")
    return text
