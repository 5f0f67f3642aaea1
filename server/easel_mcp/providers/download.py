"""Fetching an image a gateway answered with as a URL, without letting it point Easel anywhere.

Rules: https only, except on the gateway's own origin (its exact scheme, host and port: then http too);
every address the host resolves to must be public (`addresses.public_address`: no private, loopback,
link-local, multicast or reserved address, also not one embedded in an IPv6 address) unless the URL is on the
gateway's own origin; at most 3 redirects, each checked again; at most 50 MB; 60 s in all. The name is
resolved once, and the connection goes to the address that was checked (`pinned.py`; TLS and the Host header
still name the host), so a DNS answer that changes in between (rebinding) reaches nothing; environment proxies
are not used. The gateway's headers (its key, EASEL_EXTRA_HEADERS) go only to the gateway's own origin.
`data:` URLs are decoded in place.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
from collections.abc import Mapping
from typing import TYPE_CHECKING
from urllib.parse import urljoin, urlsplit

import anyio

from easel_mcp.errors import UpstreamUnavailable
from easel_mcp.providers.addresses import public_address

if TYPE_CHECKING:
    import httpcore2
    import httpx2

    from easel_mcp.providers.pinned import PinnedBackend

MAX_BYTES = 50 * 1024 * 1024
TIMEOUT_S = 60.0
MAX_REDIRECTS = 3


class Refused(Exception):
    """The URL breaks a rule; the message says which."""


class ImageDownloader:
    """One pooled HTTP client (built on first use) for the URL answers of one gateway."""

    def __init__(
        self,
        *,
        gateway_url: str,
        gateway_headers: Mapping[str, str],
        provider: str,
        max_bytes: int = MAX_BYTES,
        timeout_s: float = TIMEOUT_S,
        max_redirects: int = MAX_REDIRECTS,
        subject: str = "the image the gateway pointed to",
        network_backend: httpcore2.AsyncNetworkBackend | None = None,
    ) -> None:
        parts = urlsplit(gateway_url)
        self.gateway_host = (parts.hostname or "").lower()
        self.gateway_origin = (parts.scheme, self.gateway_host, parts.port or _default_port(parts.scheme))
        self.gateway_headers = dict(gateway_headers)
        self.provider = provider
        self.max_bytes = max_bytes
        self.timeout_s = timeout_s
        self.max_redirects = max_redirects
        self.subject = subject
        self._network_backend = network_backend  # tests: what the pinned connections go through
        self._pins: PinnedBackend | None = None
        self._client: httpx2.AsyncClient | None = None

    @property
    def pins(self) -> PinnedBackend:
        if self._pins is None:
            from easel_mcp.providers.pinned import PinnedBackend

            self._pins = PinnedBackend(self._network_backend)
        return self._pins

    @property
    def client(self) -> httpx2.AsyncClient:
        if self._client is None:
            import httpx2

            from easel_mcp.providers.pinned import pinned_transport

            self._client = httpx2.AsyncClient(
                transport=pinned_transport(self.pins),
                follow_redirects=False,
                timeout=httpx2.Timeout(self.timeout_s),
                trust_env=False,
            )
        return self._client

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    async def fetch(self, url: str, request_id: str | None = None) -> bytes:
        """The image bytes, or UpstreamUnavailable (billed: the gateway made the image) saying why not."""
        import httpx2

        shown = _shown(url)
        try:
            if url.startswith("data:"):
                return self._data_url(url)
            with anyio.fail_after(self.timeout_s):
                return await self._follow(url)
        except Refused as e:
            message = f"refused to download {self.subject} ({shown}): {e}"
        except TimeoutError:
            message = f"downloading the image from {shown} took longer than {self.timeout_s:g} s"
        except httpx2.HTTPError as e:
            message = f"could not download the image from {shown} ({type(e).__name__})"
        raise UpstreamUnavailable(message, provider=self.provider, request_id=request_id, billed=True)

    async def _follow(self, url: str) -> bytes:
        for _ in range(self.max_redirects + 1):
            headers = await self._check(url)
            async with self.client.stream("GET", url, headers=headers) as response:
                if response.is_redirect:
                    location = response.headers.get("location")
                    if not location:
                        raise Refused(f"HTTP {response.status_code} without a Location header")
                    url = urljoin(url, location)
                    continue
                if response.status_code != 200:
                    raise Refused(f"HTTP {response.status_code}")
                ctype = response.headers.get("content-type", "").split(";")[0].strip().lower()
                if ctype and not ctype.startswith("image/") and ctype != "application/octet-stream":
                    raise Refused(f"it is {ctype}, not an image")
                declared = response.headers.get("content-length")
                if declared and declared.isdigit() and int(declared) > self.max_bytes:
                    raise Refused(f"it is {_amount(int(declared))}, over the {_amount(self.max_bytes)} limit")
                chunks: list[bytes] = []
                size = 0
                async for chunk in response.aiter_bytes():
                    size += len(chunk)
                    if size > self.max_bytes:
                        raise Refused(f"it is over the {_amount(self.max_bytes)} limit")
                    chunks.append(chunk)
                return b"".join(chunks)
        raise Refused(f"more than {self.max_redirects} redirects")

    async def _check(self, url: str) -> dict[str, str]:
        """Apply the rules to one URL and pin the checked addresses its connection may use; the headers to send."""
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
        if parts.scheme not in ("https", "http") or not host:
            raise Refused(f"only https URLs are fetched (got {parts.scheme or 'no'} scheme)")
        try:
            port = parts.port or _default_port(parts.scheme)
        except ValueError as e:  # a port out of range or not a number
            raise Refused(f"not a valid URL ({e})") from e
        own = (parts.scheme, host, port) == self.gateway_origin
        if parts.scheme != "https" and not own:
            raise Refused(
                "only https URLs are fetched from hosts other than the gateway's own origin (scheme, host, port)"
            )
        addresses = await _addresses(host, port)
        if not own:
            for address in addresses:
                if not public_address(address):
                    raise Refused(f"{host} resolves to a non-public address ({address})")
        self.pins.pin(host, port, addresses)
        return dict(self.gateway_headers) if own else {}

    def _data_url(self, url: str) -> bytes:
        head, sep, payload = url.partition(",")
        if not sep or not head.endswith(";base64") or not head[5:].startswith("image/"):
            raise Refused("a data: URL must hold a base64 image")
        if len(payload) * 3 // 4 > self.max_bytes:
            raise Refused(f"it is over the {_amount(self.max_bytes)} limit")
        try:
            return base64.b64decode(payload, validate=True)
        except (binascii.Error, ValueError) as e:
            raise Refused("the data: URL is not valid base64") from e


async def _addresses(host: str, port: int) -> list[str]:
    try:
        return [str(ipaddress.ip_address(host.strip("[]")))]
    except ValueError:
        pass
    try:
        infos = await anyio.getaddrinfo(host, port)
    except OSError as e:
        raise Refused(f"{host} does not resolve ({e.strerror or e})") from e
    return sorted({str(info[4][0]) for info in infos})


def _amount(n: int) -> str:
    return f"{n / 2**20:.1f} MB" if n >= 2**20 else f"{n:,} bytes"


def _default_port(scheme: str) -> int:
    return 443 if scheme == "https" else 80


def _shown(url: str) -> str:
    """The URL without its query or fragment (signed URLs carry tokens there)."""
    if url.startswith("data:"):
        return url[:30] + "..."
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}{parts.path}"[:200]
