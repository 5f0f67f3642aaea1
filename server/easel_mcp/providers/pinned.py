"""Connecting only to the address that was checked.

`PinnedBackend` is an httpcore2 network backend that never resolves a name: it connects only to the addresses
pinned for that host and port after they were checked (so a DNS answer that changes between the check and the
connection, DNS rebinding, reaches nothing). TLS still names the host (SNI, certificate) and the request keeps its
Host header: only the TCP connection uses the pinned address.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import httpcore2
import httpx2


class PinnedBackend(httpcore2.AsyncNetworkBackend):
    """An httpcore2 network backend connecting only to pinned (already checked) addresses; never resolves."""

    def __init__(self, inner: httpcore2.AsyncNetworkBackend | None = None) -> None:
        self._inner = inner
        self._pins: dict[tuple[str, int], tuple[str, ...]] = {}

    def pin(self, host: str, port: int, addresses: Sequence[str]) -> None:
        self._pins[(_key(host), port)] = tuple(addresses)

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 (httpcore2's interface)
        local_address: str | None = None,
        socket_options: Iterable[httpcore2.SOCKET_OPTION] | None = None,
    ) -> httpcore2.AsyncNetworkStream:
        addresses = self._pins.get((_key(host), port))
        if not addresses:
            raise httpcore2.ConnectError(f"{host}:{port} was not checked before connecting")
        if self._inner is None:
            self._inner = httpcore2.AnyIOBackend()
        failure: Exception | None = None
        for address in addresses:
            try:
                return await self._inner.connect_tcp(
                    address, port, timeout=timeout, local_address=local_address, socket_options=socket_options
                )
            except (httpcore2.ConnectError, httpcore2.ConnectTimeout) as e:
                failure = e
        assert failure is not None
        raise failure

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,  # noqa: ASYNC109 (httpcore2's interface)
        socket_options: Iterable[httpcore2.SOCKET_OPTION] | None = None,
    ) -> httpcore2.AsyncNetworkStream:
        raise httpcore2.ConnectError("downloads never use unix sockets")

    async def sleep(self, seconds: float) -> None:
        import anyio

        await anyio.sleep(seconds)


def _key(host: str) -> str:
    return host.strip("[]").lower()


def pinned_transport(backend: PinnedBackend) -> httpx2.AsyncHTTPTransport:
    """An httpx2 transport whose connections go through `backend`. Environment proxies (HTTPS_PROXY...) are not
    used: a proxy would resolve the name itself, after the check."""
    transport = httpx2.AsyncHTTPTransport(trust_env=False)
    transport._pool = httpcore2.AsyncConnectionPool(  # httpx2 takes no network backend: swap its pool's
        ssl_context=httpx2.create_ssl_context(),  # SSL_CERT_FILE / SSL_CERT_DIR still count
        network_backend=backend,
    )
    return transport
