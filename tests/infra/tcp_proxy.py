"""A TCP forwarder on loopback that counts and logs what passes, and can go away and come back on the same port.

Put it between a client and a test server to prove what a call sent (`upstream_log`: a request reaches the
server before its answer comes back) and how many bytes it downloaded; `stop`/`cut` make the server unreachable
(connections refused, open ones cut) without stopping it; a cleared `gate` holds requests in flight (`held` is
set when one waits). Runs on the test's event loop.
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
        self.gate = asyncio.Event()  # cleared: requests are held (not forwarded) until it is set again
        self.gate.set()
        self.held = asyncio.Event()  # set once a request is being held at the closed gate
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
        self.cut()

    def cut(self) -> None:
        """Refuse new connections and cut the open ones (a client's pooled connections die too)."""
        self.gate.set()
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
                    if not self.gate.is_set():
                        self.held.set()
                        await self.gate.wait()
                    self.upstream_bytes += len(chunk)
                    self.upstream_log += chunk
                writer.write(chunk)
                await writer.drain()
        with contextlib.suppress(OSError):
            writer.write_eof()
