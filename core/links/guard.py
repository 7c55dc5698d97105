"""Which addresses a link may reach, decided on the address we actually connect to.

The rule (off with ``PICLOUD_ALLOW_PRIVATE_URLS=1``): every address a link's host
resolves to must be public. One private answer among several refuses the link, so
that a name cannot smuggle ``10.0.0.1`` in behind a public address. IP literals,
the legacy IPv4 spellings (``2130706433``, ``0x7f.1``, ``127.1``) and IPv6 forms
that carry an IPv4 address (mapped, 6to4, NAT64) are judged by the address they
really reach.

The guard answers "where may I connect for this host and port", and the network
backend in :mod:`core.links.transport` connects only there: there is no second
lookup that a DNS rebinding could answer differently.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import string
from collections.abc import Awaitable, Callable

from core.errors import LinkRefused

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], Awaitable[list[str]]]
"""``(host, port)`` → the IP addresses to connect to, as strings; raises ``OSError``."""
AddressPolicy = Callable[[IPAddress], bool]
"""Whether the fetcher may connect to this address."""

PRIVATE_ADDRESS = "the link points to a private or local network address"

_CGNAT = ipaddress.IPv4Network("100.64.0.0/10")
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
_LEGACY_IPV4_CHARS = frozenset(string.hexdigits + "xX.")


def is_public_address(ip: IPAddress) -> bool:
    """True for an address on the public internet, false for anything local or special.

    ``is_global`` is the base; the explicit checks cover what it lets through
    (multicast, for one) and IPv6 addresses that lead to an IPv4 one.
    """
    if isinstance(ip, ipaddress.IPv6Address):
        embedded = _embedded_ipv4(ip)
        if embedded is not None:
            return is_public_address(embedded)
    return ip.is_global and not (
        ip.is_private
        or ip.is_loopback
        or ip.is_link_local
        or ip.is_multicast
        or ip.is_reserved
        or ip.is_unspecified
        or ip in _CGNAT
    )


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 one reaches: mapped (``::ffff:a.b.c.d``), 6to4, NAT64."""
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip in _NAT64:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def ip_literal(host: str) -> IPAddress | None:
    """The address ``host`` spells out, if it is one (brackets and legacy forms too)."""
    bare = host.strip("[]")
    try:
        return ipaddress.ip_address(bare)
    except ValueError:
        pass
    # inet_aton's spellings (what getaddrinfo and browsers accept): decimal, hex,
    # octal and shortened dotted forms. Only tried on hex-digit-and-dot hosts.
    if bare and set(bare) <= _LEGACY_IPV4_CHARS and any(c.isdigit() for c in bare):
        try:
            return ipaddress.IPv4Address(socket.inet_aton(bare))
        except OSError:
            return None
    return None


async def system_resolver(host: str, port: int) -> list[str]:
    """The addresses the operating system's resolver gives, without repeats."""
    loop = asyncio.get_running_loop()
    infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


class AddressGuard:
    """Resolves a host once and hands back only addresses the policy allows.

    ``allow_private`` lifts the address rule entirely (tests, trusted LANs);
    ``is_allowed`` replaces it (tests that need a "public" name on 127.0.0.1).
    """

    def __init__(
        self,
        *,
        allow_private: bool = False,
        resolver: Resolver | None = None,
        is_allowed: AddressPolicy | None = None,
    ) -> None:
        self._resolver = resolver or system_resolver
        self._allowed: AddressPolicy = (
            _anything if allow_private else (is_allowed or is_public_address)
        )

    def check(self, ip: IPAddress) -> None:
        if not self._allowed(ip):
            raise LinkRefused(PRIVATE_ADDRESS)

    def check_literal(self, host: str) -> None:
        """Refuse a link to a forbidden IP literal early, before any connection."""
        literal = ip_literal(host)
        if literal is not None:
            self.check(literal)

    async def addresses(self, host: str, port: int) -> list[str]:
        """Where to connect for ``host``: every address checked, in resolver order."""
        literal = ip_literal(host)
        if literal is not None:
            self.check(literal)
            return [str(literal)]
        try:
            found = await self._resolver(host, port)
        except OSError:  # socket.gaierror: no such name, or no DNS at all
            raise LinkRefused("could not fetch the link: its server name was not found") from None
        if not found:
            raise LinkRefused("could not fetch the link: its server name was not found")
        parsed = [_parse_resolved(address) for address in found]
        for ip in parsed:
            self.check(ip)
        return [str(ip) for ip in parsed]


def _parse_resolved(address: str) -> IPAddress:
    try:
        return ipaddress.ip_address(address)
    except ValueError:  # a resolver that answers with something else: not usable
        raise LinkRefused("could not fetch the link: its server name was not found") from None


def _anything(_ip: IPAddress) -> bool:
    return True
