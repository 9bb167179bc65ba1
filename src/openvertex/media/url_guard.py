"""Which network addresses an image fetch may reach.

Public (globally routable, unicast) addresses are always allowed. Loopback, private,
link-local, CGNAT, multicast, reserved and unspecified addresses are refused unless an
allowlist entry names them. Cloud metadata endpoints are refused even then: no image
is ever served there, and credentials are.

Allowlist entries, one rule each (an optional `:port` limits any of them to that port):
- a hostname (`images.internal`, `localhost:8080`): the URL's host equals it, whatever
  it resolves to;
- an IP address or CIDR network (`127.0.0.1`, `10.0.0.0/8`, `[::1]:8080`, `fd00::/8`):
  the address actually connected to lies in it.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from openvertex.media.errors import MediaError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

REFUSED = "image URL refused: address not allowed"

METADATA_ADDRESSES = frozenset(
    ipaddress.ip_address(a)
    for a in (
        "169.254.169.254",  # AWS, GCP, Azure, Oracle, DigitalOcean, OpenStack
        "169.254.170.2",  # AWS ECS task metadata
        "100.100.100.200",  # Alibaba Cloud
        "192.0.0.192",  # Oracle Cloud (classic)
        "fd00:ec2::254",  # AWS IMDS over IPv6
    )
)

# Not routable on the internet, though some Python versions call parts of them global.
_ALSO_REFUSED = tuple(
    ipaddress.ip_network(n)
    for n in (
        "0.0.0.0/8",
        "100.64.0.0/10",  # carrier-grade NAT
        "192.0.0.0/24",
        "198.18.0.0/15",
        "240.0.0.0/4",
        "::/8",  # unspecified, loopback, IPv4-compatible
        "64:ff9b:1::/48",
        "2001:db8::/32",
        "fc00::/7",
        "fe80::/10",
        "fec0::/10",
    )
)
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_HOSTNAME = re.compile(r"^[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?(\.[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?)*$")


@dataclass(frozen=True)
class AllowEntry:
    """One allowlist rule: a hostname or a network, optionally limited to one port."""

    host: str | None = None
    network: IPNetwork | None = None
    port: int | None = None

    def permits(self, host: str, address: IPAddress, port: int) -> bool:
        if self.port is not None and self.port != port:
            return False
        if self.host is not None:
            return self.host == host
        return self.network is not None and address in self.network


def parse_allowlist(entries: Iterable[str]) -> tuple[AllowEntry, ...]:
    """Parse config entries; ValueError names the first one that is not a valid rule."""
    return tuple(_parse_entry(entry) for entry in entries)


def _parse_entry(entry: str) -> AllowEntry:
    text = entry.strip().lower()
    port = None
    if text.startswith("["):  # [IPv6] or [IPv6/prefix], then maybe :port
        inside, bracket, rest = text[1:].partition("]")
        network = _network(inside)
        if not bracket or network is None or (rest and not rest.startswith(":")):
            raise ValueError(f"invalid allowlist entry {entry!r}")
        return AllowEntry(network=network, port=_port(rest[1:], entry) if rest else None)
    network = _network(text)
    if network is not None:
        return AllowEntry(network=network)
    head, sep, tail = text.rpartition(":")
    if sep and tail.isdigit():
        text, port = head, _port(tail, entry)
    network = _network(text)
    if network is not None:
        return AllowEntry(network=network, port=port)
    host = text.rstrip(".")
    if not _HOSTNAME.match(host):
        raise ValueError(f"invalid allowlist entry {entry!r}")
    return AllowEntry(host=host, port=port)


def _network(text: str) -> IPNetwork | None:
    try:
        return ipaddress.ip_network(text, strict=False)
    except ValueError:
        return None


def _port(text: str, entry: str) -> int:
    if not text.isdigit() or not 0 < int(text) < 65536:
        raise ValueError(f"invalid port in allowlist entry {entry!r}")
    return int(text)


def canonical(address: IPAddress) -> IPAddress:
    """The IPv4 address an IPv6 one carries (mapped, NAT64, 6to4), else itself."""
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return address.ipv4_mapped
        if address in _NAT64:
            return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
        if address.sixtofour is not None:
            return address.sixtofour
    return address


def is_public(address: IPAddress) -> bool:
    """Globally routable unicast: nothing on this host or its private networks."""
    address = canonical(address)
    return not (
        not address.is_global
        or address.is_loopback
        or address.is_private
        or address.is_link_local
        or address.is_multicast
        or address.is_reserved
        or address.is_unspecified
        or any(address in network for network in _ALSO_REFUSED)
    )


def permitted(host: str, address: IPAddress, port: int, allow: Sequence[AllowEntry]) -> bool:
    """May a connection to `address`:`port`, for URL host `host`, be made?"""
    address = canonical(address)
    if address in METADATA_ADDRESSES:
        return False
    if is_public(address):
        return True
    return any(entry.permits(host, address, port) for entry in allow)


def check(host: str, address: IPAddress, port: int, allow: Sequence[AllowEntry]) -> None:
    """MediaError, saying no more than "address not allowed", unless permitted."""
    if not permitted(host, address, port, allow):
        raise MediaError(REFUSED)
