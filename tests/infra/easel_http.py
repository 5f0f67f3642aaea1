"""An Easel server on streamable HTTP in a background thread, on a free loopback port (for tests that need HTTP
itself: OAuth, per-user areas, headers)."""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import uvicorn

from easel_mcp.app import EaselServer, build_server
from easel_mcp.http import build_http_app
from easel_mcp.settings import Settings


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def serving(make_settings: Callable[[str], Settings]) -> Iterator[tuple[str, EaselServer]]:
    """Serve Easel built from `make_settings(url)` (the URL of its MCP endpoint, e.g. for EASEL_PUBLIC_URL);
    yields that URL and the server."""
    port = free_port()
    url = f"http://127.0.0.1:{port}/mcp"
    easel = build_server(make_settings(url))
    app = build_http_app(easel, "http", "127.0.0.1", None, port=port)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        if not thread.is_alive():
            raise RuntimeError("the Easel server did not start")
        thread.join(0.01)
    try:
        yield url, easel
    finally:
        server.should_exit = True
        thread.join(timeout=30)
