"""A TCP forwarder on loopback that counts the bytes each way and can go away and come back on the same port.

Put it between a client and a test server to prove what a call sent (`upstream_log`: its requests reached the
server before their answers came back) and how many bytes it downloaded, or to make the server
unreachable (connections refused, open ones cut) without stopping it. Runs on the test's event loop.
"""

from __future__ import annotations

import asyncio
import contextlib


class TcpProxy:
    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.port = 0
        self.downstream_bytes = 0  # target -> client
        self.upstream_bytes = 0  # client -> target
        self.upstream_log = bytearray()  # everything the clients sent (keep the requests small)
        self._server: asyncio.Server | None = None
        self._open: set[asyncio.StreamWriter] = set()

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> TcpProxy:
        """Listen (again: on the same port after `stop`)."""
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", self.port, reuse_address=True)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        """Refuse new connections and cut the open ones (a client's pooled connections die too)."""
        if self._server is not None:
            self._server.close()
            self._server = None
        for writer in list(self._open):
            writer.transport.abort()
        self._open.clear()

    async def _handle(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        try:
            target_reader, target_writer = await asyncio.open_connection(*self.target)
        except OSError:
            client_writer.transport.abort()
            return
        self._open.update((client_writer, target_writer))
        try:
            await asyncio.gather(
                self._pump(client_reader, target_writer, downstream=False),
                self._pump(target_reader, client_writer, downstream=True),
            )
        finally:
            for writer in (client_writer, target_writer):
                self._open.discard(writer)
                writer.transport.abort()

    async def _pump(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, *, downstream: bool) -> None:
        with contextlib.suppress(OSError, asyncio.IncompleteReadError):
            while chunk := await reader.read(65536):
                if downstream:
                    self.downstream_bytes += len(chunk)
                else:
                    self.upstream_bytes += len(chunk)
                    self.upstream_log += chunk
                writer.write(chunk)
                await writer.drain()
        with contextlib.suppress(OSError):
            writer.write_eof()
