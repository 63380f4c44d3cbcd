"""Where a webhook may go: http(s) URLs only, and (unless the operator allows it) no
private, loopback, link-local or otherwise non-public address.

The host is resolved once, every address it resolves to is checked, and the request is then
sent to the checked address (with the original `Host` header and TLS server name), so a
DNS answer that changes between the check and the connection cannot reach a private
address. Redirects are never followed.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Awaitable, Callable
from urllib.parse import urlsplit, urlunsplit

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], Awaitable[list[str]]]

MAX_URL_LENGTH = 2048


class InvalidURL(ValueError):
    """The URL cannot be delivered to (scheme, host, port or length)."""


class BlockedAddress(ValueError):
    """The URL's host is, or resolves to, an address deliveries may not reach."""


class Target:
    """Where one request goes: the URL to connect to, plus Host and TLS name overrides."""

    def __init__(self, url: str, host_header: str | None = None, sni: str | None = None) -> None:
        self.url = url
        self.host_header = host_header
        self.sni = sni


def check_url(url: str) -> tuple[str, str, int]:
    """(scheme, host, port) of a deliverable URL, or InvalidURL."""
    if not isinstance(url, str) or not url or len(url) > MAX_URL_LENGTH:
        raise InvalidURL(f"a URL of at most {MAX_URL_LENGTH} characters is needed")
    if any(ch.isspace() or ord(ch) < 32 for ch in url):
        raise InvalidURL("the URL holds spaces or control characters")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise InvalidURL(f"the URL cannot be read: {exc}") from None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise InvalidURL("only http and https URLs are allowed")
    host = parts.hostname or ""
    if not host:
        raise InvalidURL("the URL has no host")
    if parts.username is not None or parts.password is not None:
        raise InvalidURL("credentials in the URL are not allowed; use the signature instead")
    return scheme, host, port or (443 if scheme == "https" else 80)


def _unwrap(ip: IPAddress) -> IPAddress:
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return ip.ipv4_mapped
        if ip.sixtofour is not None:
            return ip.sixtofour
        if ip.teredo is not None:
            return ip.teredo[1]
    return ip


def is_blocked(address: str) -> bool:
    """True for anything but a public unicast address (private, loopback, link-local, CGNAT,
    multicast, reserved, unspecified, and IPv6 forms that wrap them)."""
    try:
        ip = _unwrap(ipaddress.ip_address(address.split("%", 1)[0]))
    except ValueError:
        return True
    return (
        not ip.is_global
        or ip.is_multicast
        or ip.is_private
        or ip.is_loopback
        or ip.is_link_local
        or ip.is_reserved
        or ip.is_unspecified
    )


def literal_address(host: str) -> str | None:
    try:
        return str(ipaddress.ip_address(host.strip("[]")))
    except ValueError:
        return None


def obviously_private(url: str) -> bool:
    """True for a URL whose host is a non-public IP literal or `localhost` (no DNS lookup):
    used to refuse such URLs when endpoints are registered."""
    try:
        _, host, _ = check_url(url)
    except InvalidURL:
        return False
    host = host.lower().rstrip(".")
    if host == "localhost" or host.endswith(".localhost"):
        return True
    literal = literal_address(host)
    return literal is not None and is_blocked(literal)


async def system_resolver(host: str, port: int) -> list[str]:
    loop = asyncio.get_running_loop()
    infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    out: list[str] = []
    for info in infos:
        address = str(info[4][0])
        if address not in out:
            out.append(address)
    return out


async def resolve_target(
    url: str, *, allow_private: bool, resolver: Resolver = system_resolver
) -> Target:
    """The checked target for `url`; InvalidURL or BlockedAddress when it may not be used.
    A resolution failure (OSError) is left to the caller: it is transient."""
    _, host, port = check_url(url)
    if allow_private:
        return Target(url)
    literal = literal_address(host)
    if literal is not None:
        if is_blocked(literal):
            raise BlockedAddress(f"{literal} is not a public address")
        return Target(url)
    addresses = await resolver(host, port)
    if not addresses:
        raise OSError(f"{host} did not resolve")
    blocked = [a for a in addresses if is_blocked(a)]
    if blocked:
        raise BlockedAddress(f"{host} resolves to {blocked[0]}, which is not a public address")
    chosen = next((a for a in addresses if ":" not in a), addresses[0])
    return pinned(url, chosen)


def pinned(url: str, address: str) -> Target:
    """`url` with its host replaced by `address`; Host header and TLS name keep the name."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    netloc_host = f"[{address}]" if ":" in address else address
    netloc = netloc_host + (f":{parts.port}" if parts.port else "")
    host_header = host + (f":{parts.port}" if parts.port else "")
    new = urlunsplit((parts.scheme, netloc, parts.path or "/", parts.query, ""))
    sni = host if parts.scheme.lower() == "https" else None
    return Target(new, host_header=host_header, sni=sni)
