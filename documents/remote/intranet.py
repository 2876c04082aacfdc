"""Intranet sources a workspace admin allows on purpose; addresses never allowed.

A workspace lists exact host names (`wiki.internal`) and networks in CIDR form
(`10.20.0.0/16`, `192.168.4.7`, `fd12:3456::/48`) that URL documents may reach
although they are not public. Everything else stays refused, and the cloud
metadata services stay refused whatever the list says, because one fetch of
them hands out the machine's credentials: an allowed 169.254.0.0/16 still never
reaches 169.254.169.254, and an address that embeds one (IPv4-mapped, 6to4,
NAT64) is unwrapped before the check.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass, field

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

# Instance metadata, credentials and their neighbours on the clouds we know of.
METADATA_ADDRESSES = frozenset(
    ipaddress.ip_address(a)
    for a in (
        "169.254.169.254",  # AWS, Azure, GCP, OpenStack, DigitalOcean, Oracle
        "169.254.169.253",  # AWS DNS resolver
        "169.254.169.123",  # AWS time sync
        "169.254.170.2",  # AWS ECS task credentials
        "169.254.170.23",  # AWS EKS pod identity
        "100.100.100.200",  # Alibaba Cloud
        "192.0.0.192",  # Oracle Cloud
        "fd00:ec2::254",  # AWS over IPv6
        "fd00:ec2::253",
        "fd00:ec2::123",
        "fd00:ec2::23",
    )
)
METADATA_HOSTS = frozenset(
    {
        "metadata",
        "metadata.google.internal",
        "metadata.goog",
        "instance-data",
        "instance-data.ec2.internal",
        "metadata.azure.com",
    }
)
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
# Narrower than these is a typo or an attempt to allow everything.
MIN_PREFIX = {4: 8, 6: 16}


def embedded_ipv4(address: IPAddress) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 one carries (mapped, 6to4, NAT64), if any."""
    if not isinstance(address, ipaddress.IPv6Address):
        return None
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def is_metadata_address(address: IPAddress) -> bool:
    """Whether an address is (or wraps) a cloud metadata service."""
    inner = embedded_ipv4(address)
    return address in METADATA_ADDRESSES or (
        inner is not None and inner in METADATA_ADDRESSES
    )


def is_metadata_host(host: str) -> bool:
    """Whether a host name is one the clouds give their metadata service."""
    return host.lower().rstrip(".") in METADATA_HOSTS


def normalise_entry(entry: str) -> str:
    """An allow-list entry as a lower-case host name or a network, or ValueError."""
    value = entry.strip().lower().rstrip(".")
    if not value:
        raise ValueError("empty entry")
    if "://" in value or ("/" in value and not _looks_like_network(value)):
        raise ValueError(
            f"{entry.strip()!r}: write a host name (wiki.internal) or a network "
            "(10.0.0.0/8), without a scheme or path"
        )
    if _looks_like_network(value) or _is_address(value):
        return _normalise_network(entry.strip(), value)
    if not value.isascii():
        raise ValueError(f"{entry.strip()!r} is not ASCII; write its punycode form")
    labels = value.split(".")
    # No top-level domain is all digits: "10.0.0.300" is a mistyped address.
    if any(not label or not _host_label(label) for label in labels) or (
        labels[-1].isdigit()
    ):
        raise ValueError(f"{entry.strip()!r} is not a host name or an address")
    if is_metadata_host(value):
        raise ValueError(f"{value} is a cloud metadata service and is never fetched")
    return value


def _looks_like_network(value: str) -> bool:
    return "/" in value and _is_address(value.split("/", 1)[0])


def _is_address(value: str) -> bool:
    try:
        ipaddress.ip_address(value.strip("[]"))
    except ValueError:
        return False
    return True


def _host_label(label: str) -> bool:
    return len(label) <= 63 and all(ch.isalnum() or ch in "-_" for ch in label)


def _normalise_network(shown: str, value: str) -> str:
    try:
        network = ipaddress.ip_network(value.strip("[]"), strict=False)
    except ValueError as exc:
        raise ValueError(f"{shown!r} is not a network: {exc}") from None
    if network.prefixlen < MIN_PREFIX[network.version]:
        raise ValueError(
            f"{shown!r} is too wide; allow /{MIN_PREFIX[network.version]} "
            "or narrower, only the networks your intranet uses"
        )
    if network.num_addresses == 1 and is_metadata_address(network.network_address):
        raise ValueError(
            f"{network.network_address} is a cloud metadata service "
            "and is never fetched"
        )
    if network.is_global:
        raise ValueError(f"{shown!r} is public; public addresses need no entry here")
    if network.num_addresses == 1:
        return str(network.network_address)
    return str(network)


@dataclass(frozen=True)
class Allowlist:
    """A workspace's allowed private hosts and networks, parsed once."""

    hosts: frozenset[str] = frozenset()
    networks: tuple[IPNetwork, ...] = field(default_factory=tuple)

    @classmethod
    def parse(cls, entries: Iterable[str]) -> Allowlist:
        """Build from stored entries; an entry that no longer parses is skipped."""
        hosts: set[str] = set()
        networks: list[IPNetwork] = []
        for entry in entries:
            try:
                value = normalise_entry(str(entry))
            except ValueError:
                continue
            if _is_address(value) or "/" in value:
                networks.append(ipaddress.ip_network(value, strict=False))
            else:
                hosts.add(value)
        return cls(hosts=frozenset(hosts), networks=tuple(networks))

    def __bool__(self) -> bool:
        return bool(self.hosts or self.networks)

    def allows(self, host: str, address: IPAddress) -> bool:
        """Whether a host that resolved to a non-public address may be reached.

        Never for a metadata address or name, whatever the entries say.
        """
        if is_metadata_address(address) or is_metadata_host(host):
            return False
        if host.lower().rstrip(".") in self.hosts:
            return True
        candidates = [address]
        inner = embedded_ipv4(address)
        if inner is not None:
            candidates.append(inner)
        return any(
            candidate in network
            for candidate in candidates
            for network in self.networks
            if network.version == candidate.version
        )
