"""Which addresses billhook connects to: the SSRF rules of delivery (delivery.md, Transport safety).

Every address a host resolves to must be globally routable, or inside a configured allow-list
(``BILLHOOK_ALLOWED_NETWORKS``). An IPv6 form of an IPv4 address (mapped, 6to4, NAT64) is judged
as that IPv4 address. ``literal_refusal`` applies the rules to a URL's host before any lookup,
when an endpoint is created or changed; ``resolve_checked`` applies them to every address of
every attempt, names included, since a name's addresses can change.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Sequence

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

#: Carrier-grade NAT space: not private in the RFC 1918 sense, yet never reachable publicly.
_SHARED = ipaddress.IPv4Network("100.64.0.0/10")
#: NAT64's well-known prefix embeds an IPv4 address that the translator would connect to.
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
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
