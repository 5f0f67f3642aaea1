"""Which addresses a download may reach, and connecting only to the address that was checked.

`public_address` refuses private, loopback, link-local, multicast and reserved addresses, also when an IPv6
address carries one inside it: IPv4-mapped `::ffff:0:0/96`, IPv4-compatible `::/96`, NAT64 `64:ff9b::/96` and
the local-use `64:ff9b:1::/48` (every RFC 6052 position), 6to4 `2002::/16` and Teredo `2001::/32`.

The connection then goes to the address that was checked: see `pinned.py`.
"""

from __future__ import annotations

import ipaddress

NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
NAT64_LOCAL = ipaddress.IPv6Network("64:ff9b:1::/48")
SIX_TO_FOUR = ipaddress.IPv6Network("2002::/16")
TEREDO = ipaddress.IPv6Network("2001::/32")
COMPATIBLE = ipaddress.IPv6Network("::/96")
# RFC 6052 section 2.2: where the IPv4 address sits for each prefix length (bits 64-71 are always skipped).
_RFC6052_PREFIXES = (48, 56, 64, 96)


def embedded_ipv4(ip: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address]:
    """The IPv4 addresses an IPv6 address stands for (none for a plain IPv6 address)."""
    if ip.ipv4_mapped is not None:
        return [ip.ipv4_mapped]
    value = int(ip)
    if ip in COMPATIBLE:
        return [ipaddress.IPv4Address(value & 0xFFFFFFFF)]
    if ip in NAT64:
        return [ipaddress.IPv4Address(value & 0xFFFFFFFF)]
    if ip in NAT64_LOCAL:
        return [_rfc6052(value, prefix) for prefix in _RFC6052_PREFIXES]
    if ip in SIX_TO_FOUR:
        return [ipaddress.IPv4Address((value >> 80) & 0xFFFFFFFF)]
    if ip in TEREDO and ip.teredo is not None:
        return list(ip.teredo)
    return []


def _rfc6052(value: int, prefix: int) -> ipaddress.IPv4Address:
    """The IPv4 address after an RFC 6052 prefix of `prefix` bits: bits prefix..63, then from bit 72 on."""
    if prefix == 96:
        return ipaddress.IPv4Address(value & 0xFFFFFFFF)
    before = 64 - prefix  # IPv4 bits that sit before the u octet (bits 64-71)
    after = 32 - before
    high = (value >> 64) & ((1 << before) - 1)
    low = (value >> (128 - 72 - after)) & ((1 << after) - 1)
    return ipaddress.IPv4Address((high << after) | low)


def public_address(address: str) -> bool:
    """True when `address` (and every IPv4 address it embeds) is a public unicast address."""
    ip = ipaddress.ip_address(address.split("%")[0])
    candidates: list[ipaddress.IPv4Address | ipaddress.IPv6Address] = [ip]
    if isinstance(ip, ipaddress.IPv6Address):
        embedded = embedded_ipv4(ip)
        if ip.ipv4_mapped is not None:
            candidates = []  # a mapped address is its IPv4 address (Python calls the IPv6 form private)
        candidates += embedded
    return all(c.is_global and not c.is_multicast for c in candidates)
