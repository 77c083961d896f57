"""Listen and upstream addresses: Go's `host:port` rules, resolution, binding, loopback policy.

Toxiproxy hands `listen` to Go's `net.Listen`, so errors read `listen tcp: address local373:
missing port in address` or `listen tcp 127.0.0.1:3310: bind: address already in use`, and
`localhost:N` binds 127.0.0.1 (Go prefers IPv4). Our differences, both for safety: without
`--allow-remote` a non-loopback address is refused, and an empty host binds 127.0.0.1 instead
of every interface.
"""

from __future__ import annotations

import asyncio
import errno
import ipaddress
import os
import socket
from dataclasses import dataclass
from typing import Final

from chaos.net import is_loopback
from chaos.proxy import errors

BACKLOG: Final = 4096


class AddressError(ValueError):
    """An address Go would refuse before any system call; `str()` is Go's text."""


def split_host_port(hostport: str) -> tuple[str, str]:
    """Go's net.SplitHostPort, with its error texts (`address X: missing port in address`)."""

    def fail(why: str) -> AddressError:
        return AddressError(f"address {hostport}: {why}" if hostport else why)

    colon = hostport.rfind(":")
    if colon < 0:
        raise fail("missing port in address")
    skip_open = skip_close = 0
    if hostport.startswith("["):
        end = hostport.find("]")
        if end < 0:
            raise fail("missing ']' in address")
        if end + 1 == len(hostport):
            raise fail("missing port in address")
        if end + 1 != colon:
            raise fail(
                "too many colons in address"
                if hostport[end + 1] == ":"
                else "missing port in address"
            )
        host = hostport[1:end]
        skip_open, skip_close = 1, end + 1
    else:
        host = hostport[:colon]
        if ":" in host:
            raise fail("too many colons in address")
    if "[" in hostport[skip_open:]:
        raise fail("unexpected '[' in address")
    if "]" in hostport[skip_close:]:
        raise fail("unexpected ']' in address")
    return host, hostport[colon + 1 :]


def parse_port(service: str) -> int:
    """A decimal port (empty = 0) or a service name from the services database."""
    if service == "" or service.lstrip("+-").isdigit():
        number = int(service or "0")
        if not 0 <= number <= 65535:
            raise AddressError(f"address {service}: invalid port")
        return number
    try:
        return socket.getservbyname(service, "tcp")
    except OSError:
        raise AddressError(f"lookup tcp/{service}: unknown port") from None


def join_host_port(host: str, port: int) -> str:
    """`host:port`, bracketing IPv6 literals as Go does."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def os_error_text(exc: OSError) -> str:
    """An OS error in Go's words: `address already in use`, `permission denied`, ..."""
    code = exc.errno
    text = os.strerror(code) if isinstance(code, int) else (exc.strerror or str(exc))
    return text[:1].lower() + text[1:]


@dataclass(frozen=True)
class Address:
    """A resolved TCP address (an IP literal and a port)."""

    family: int
    host: str
    port: int

    @property
    def display(self) -> str:
        """As Go's TCPAddr.String() prints it."""
        return join_host_port(self.host, self.port)


def _literal(host: str) -> int | None:
    try:
        return socket.AF_INET6 if ipaddress.ip_address(host).version == 6 else socket.AF_INET
    except ValueError:
        return None


async def resolve(host: str, port: int) -> list[Address]:
    """Every address `host` resolves to, IPv4 first (Go's preference); IP literals as is."""
    family = _literal(host)
    if family is not None:
        return [Address(family, host, port)]
    loop = asyncio.get_running_loop()
    try:
        infos = await loop.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP
        )
    except (socket.gaierror, UnicodeError):
        raise AddressError(f"lookup {host}: no such host") from None
    found = [
        Address(fam, str(addr[0]), port)
        for fam, _t, _p, _c, addr in infos
        if fam in (socket.AF_INET, socket.AF_INET6)
    ]
    if not found:
        raise AddressError(f"lookup {host}: no such host")
    return sorted(found, key=lambda ep: ep.family != socket.AF_INET)


async def resolve_listen(listen: str, *, allow_remote: bool) -> Address:
    """Where a proxy with this `listen` binds; raises a 500 ApiError worded as Go's."""
    try:
        host, service = split_host_port(listen) if listen else ("", "")
        port = parse_port(service)
        if host == "":
            wildcard = (
                Address(socket.AF_INET6, "::", port)
                if socket.has_ipv6
                else Address(socket.AF_INET, "0.0.0.0", port)
            )
            endpoint = wildcard if allow_remote else Address(socket.AF_INET, "127.0.0.1", port)
        else:
            endpoint = (await resolve(host, port))[0]
    except AddressError as exc:
        raise errors.server_error(f"listen tcp: {exc}") from None
    if not allow_remote and not is_loopback(endpoint.host):
        raise errors.server_error(
            f"listen tcp {endpoint.display}: refusing a non-loopback address; "
            "start `gameday proxy --allow-remote` to listen beyond this machine"
        )
    return endpoint


def bind(endpoint: Address) -> socket.socket:
    """A non-blocking listening socket on `endpoint`, or a 500 ApiError with the OS text."""
    try:
        sock = socket.socket(endpoint.family, socket.SOCK_STREAM)
    except OSError as exc:
        raise errors.server_error(
            f"listen tcp {endpoint.display}: socket: {os_error_text(exc)}"
        ) from None
    step = "bind"
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if endpoint.family == socket.AF_INET6 and endpoint.host == "::":
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        sock.bind((endpoint.host, endpoint.port))
        step = "listen"
        sock.listen(BACKLOG)
        sock.setblocking(False)
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EMFILE:
            step = "socket"
        raise errors.server_error(
            f"listen tcp {endpoint.display}: {step}: {os_error_text(exc)}"
        ) from None
    return sock


def bound_display(sock: socket.socket) -> str:
    """The address a listening socket actually got, as `listen` is rewritten to."""
    host, port = sock.getsockname()[:2]
    return join_host_port(str(host), int(port))


async def resolve_upstream(upstream: str) -> list[Address]:
    """The addresses to dial for `upstream` (`host:port`), in dialling order."""
    host, service = split_host_port(upstream)
    return await resolve(host or "127.0.0.1", parse_port(service))
