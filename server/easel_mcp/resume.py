"""Resumable streamable HTTP (SEP-1699): event ids, a `retry` hint and an event store.

Every SSE stream the server opens (a POST's answer, or the GET stream) starts with a priming event
(an id and `retry`, no data), and every message on it carries an event id. A client whose connection
drops during a long call reconnects with GET and `Last-Event-ID: <the last id it saw>`; the server
replays what it sent on that stream since (progress, then the result once it is there) and keeps
the stream open for the rest. This is the 2025-11-25 transport; on 2026-07-28 a request is one
exchange, and a dropped call is picked up with `get_job` instead.

The store is the SDK's `EventStore` interface (two methods: store an event, replay after an id), so
a shared one (PostgreSQL, for several server processes behind a balancer) plugs in through
`build_http_app(..., event_store=...)`. The default, `MemoryEventStore`, keeps the events of this
process, bounded per stream and in total.

The SDK names a POST's stream after its JSON-RPC request id, which every session numbers from 1; so
events are also keyed by the session they belong to (`EventScope`, set per HTTP request), and a
`Last-Event-ID` from another session replays nothing.
"""

from __future__ import annotations

import itertools
import logging
import secrets
from collections import OrderedDict, deque
from contextvars import ContextVar
from dataclasses import dataclass
from typing import TYPE_CHECKING

from mcp.server.streamable_http import EventCallback, EventId, EventMessage, EventStore, StreamId
from mcp_types import JSONRPCMessage

if TYPE_CHECKING:
    from mcp.server.transport_security import TransportSecuritySettings
    from starlette.types import ASGIApp, Message, Receive, Scope, Send

    from easel_mcp.app import EaselServer

log = logging.getLogger("easel_mcp")

RETRY_MS = 2000
"""The `retry` hint of each priming event: how long a client waits before reconnecting."""
MAX_EVENTS_PER_STREAM = 1000
"""A call sends a progress notification at least every 5 s: this covers more than an hour."""
MAX_STORED_BYTES = 64 * 1024 * 1024
"""All streams together; the oldest events are forgotten first (a result is at most ~300 KB)."""
MAX_SESSIONS = 10_000
"""Sessions whose scope is remembered (the SDK's own default session limit)."""

_scope: ContextVar[str] = ContextVar("easel_event_scope", default="")


@dataclass(frozen=True)
class _Stored:
    scope: str
    stream_id: StreamId
    message: JSONRPCMessage | None
    size: int


class MemoryEventStore(EventStore):
    """The events of this process, per (session, stream), in the order they were sent; bounded."""

    def __init__(
        self, *, max_events_per_stream: int = MAX_EVENTS_PER_STREAM, max_bytes: int = MAX_STORED_BYTES
    ) -> None:
        self.max_events_per_stream = max_events_per_stream
        self.max_bytes = max_bytes
        self._events: OrderedDict[EventId, _Stored] = OrderedDict()
        self._streams: dict[tuple[str, StreamId], deque[EventId]] = {}
        self._bytes = 0
        self._prefix = secrets.token_hex(6)  # ids from another process are never mistaken for ours
        self._counter = itertools.count(1)

    @property
    def stored_bytes(self) -> int:
        return self._bytes

    @property
    def stored_events(self) -> int:  # not __len__: the SDK tests the store for truth
        return len(self._events)

    async def store_event(self, stream_id: StreamId, message: JSONRPCMessage | None) -> EventId:
        event_id = f"{self._prefix}-{next(self._counter)}"
        size = 0 if message is None else len(message.model_dump_json(by_alias=True, exclude_unset=True))
        key = (_scope.get(), stream_id)
        self._events[event_id] = _Stored(key[0], stream_id, message, size)
        self._streams.setdefault(key, deque()).append(event_id)
        self._bytes += size
        stream = self._streams[key]
        while len(stream) > self.max_events_per_stream:
            self._forget(stream[0])
        while self._bytes > self.max_bytes and len(self._events) > 1:
            self._forget(next(iter(self._events)))
        return event_id

    def _forget(self, event_id: EventId) -> None:
        stored = self._events.pop(event_id)
        self._bytes -= stored.size
        key = (stored.scope, stored.stream_id)
        stream = self._streams[key]
        stream.remove(event_id)  # the oldest of its stream: the left end
        if not stream:
            del self._streams[key]

    async def replay_events_after(self, last_event_id: EventId, send_callback: EventCallback) -> StreamId | None:
        stored = self._events.get(last_event_id)
        if stored is None or stored.scope != _scope.get():
            log.warning("cannot resume after event %r: unknown here, forgotten, or another session's", last_event_id)
            return None
        stream = list(self._streams.get((stored.scope, stored.stream_id), ()))
        for event_id in stream[stream.index(last_event_id) + 1 :]:
            event = self._events.get(event_id)
            if event is not None and event.message is not None:
                await send_callback(EventMessage(event.message, event_id))
        return stored.stream_id


class EventScope:
    """ASGI middleware that keys the event store by MCP session.

    A request without `Mcp-Session-Id` opens a session: it gets a fresh scope, and the session id the
    SDK answers with is remembered for it. The SDK starts the session's message loop from that
    request, so the loop (which stores the events) runs in the same scope; later requests of the
    session find their scope by the header."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._sessions: OrderedDict[str, str] = OrderedDict()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        session_id = next((v.decode("latin-1") for k, v in scope["headers"] if k == b"mcp-session-id"), None)
        token = self._sessions.get(session_id) if session_id else None
        if token is None:
            token = secrets.token_hex(8)
            send = self._remembering(send, token)
        else:
            self._sessions.move_to_end(session_id)  # type: ignore[arg-type]
        reset = _scope.set(token)
        try:
            await self.app(scope, receive, send)
        finally:
            _scope.reset(reset)

    def _remembering(self, send: Send, token: str) -> Send:
        async def watch(message: Message) -> None:
            if message["type"] == "http.response.start":
                for key, value in message.get("headers", ()):
                    if key.lower() == b"mcp-session-id":
                        self._sessions[value.decode("latin-1")] = token
                        while len(self._sessions) > MAX_SESSIONS:
                            self._sessions.popitem(last=False)
            await send(message)

        return watch


def resumable_http_app(
    server: EaselServer,
    host: str,
    event_store: EventStore | None = None,
    *,
    stateless: bool = False,
    security: TransportSecuritySettings | None = None,
) -> ASGIApp:
    """The streamable HTTP app with priming events, `retry` and `event_store` (in memory by default). Stateless (any
    replica answers any request) has no sessions, so nothing to resume: a dropped call is found with get_job."""
    if stateless:
        return server.streamable_http_app(host=host, stateless_http=True, transport_security=security)
    store = event_store or MemoryEventStore()
    app = server.streamable_http_app(host=host, event_store=store, retry_interval=RETRY_MS, transport_security=security)
    return EventScope(app)
