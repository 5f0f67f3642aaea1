"""Where Easel meets the protocol's edges, on both 2025-11-25 and 2026-07-28: MCP Apps negotiation
(advertised, and app-only tools listed, only to a client that declared Apps), client mistakes as
-32602/-32600 errors that keep their reason (logged as one WARNING line), and refusing malformed
JSON-RPC on HTTP."""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, NoReturn

import anyio
from mcp.server.apps import EXTENSION_ID
from mcp.server.context import CallNext, HandlerResult, ServerMiddleware, ServerRequestContext
from mcp.server.transport_security import DEFAULT_MAX_REQUEST_BODY_SIZE
from mcp.shared.exceptions import MCPError
from mcp.shared.message import SessionMessage
from mcp_types import INVALID_PARAMS, INVALID_REQUEST, PARSE_ERROR, JSONRPCError, Tool, jsonrpc_message_adapter
from mcp_types.version import HANDSHAKE_PROTOCOL_VERSIONS
from pydantic import ValidationError

if TYPE_CHECKING:
    from mcp.shared._stream_protocols import ReadStream, WriteStream
    from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger("easel_mcp")


def refuse(what: str, reason: str, code: int = INVALID_PARAMS) -> NoReturn:
    """A client mistake: one WARNING line in the log, and the reason in a protocol error."""
    log.warning("%s refused: %s", what, reason)
    raise MCPError(code=code, message=reason)


def declares_apps(extensions: Mapping[str, Any] | None) -> bool:
    """Whether a client's `capabilities.extensions` declares MCP Apps."""
    return extensions is not None and EXTENSION_ID in extensions


def client_declares_apps(ctx: ServerRequestContext[Any, Any]) -> bool:
    capabilities = ctx.session.client_capabilities
    return declares_apps(capabilities.extensions if capabilities else None)


def app_only(tool: Tool) -> bool:
    """A tool only an MCP App may call (`_meta.ui.visibility` without "model")."""
    ui = (tool.meta or {}).get("ui")
    visibility = ui.get("visibility") if isinstance(ui, dict) else None
    return isinstance(visibility, list) and "model" not in visibility


def visible_tools(tools: Sequence[Tool], ctx: ServerRequestContext[Any, Any]) -> list[Tool]:
    """The tools to list to this client: app-only tools only to a client that declared Apps."""
    if client_declares_apps(ctx):
        return list(tools)
    return [t for t in tools if not app_only(t)]


class AdvertiseExtensions(ServerMiddleware[Any]):
    """Answer `initialize` with the server's extensions (MCP Apps) when the client declared them.

    The SDK sieves `initialize` results through the 2025-11-25 schema, whose capabilities have no
    `extensions`, so a 2025-11-25 host that declares Apps would never learn that Easel has them;
    hosts (Claude, VS Code, ...) use `capabilities.extensions` on 2025-11-25 as well."""

    def __init__(self, extensions: Mapping[str, dict[str, Any]]) -> None:
        self.extensions = extensions

    async def __call__(self, ctx: ServerRequestContext[Any, Any], call_next: CallNext) -> HandlerResult:
        result = await call_next(ctx)
        if ctx.method != "initialize" or not isinstance(result, dict):
            return result
        capabilities = (ctx.params or {}).get("capabilities")
        declared = capabilities.get("extensions") if isinstance(capabilities, dict) else None
        server_caps = result.get("capabilities")
        if isinstance(declared, dict) and isinstance(server_caps, dict) and not server_caps.get("extensions"):
            offered = {k: v for k, v in self.extensions.items() if k in declared}
            if offered:
                server_caps["extensions"] = offered
        return result


class JsonRpcGuard:
    """ASGI middleware: a 2025-11-25 POST whose body is JSON but not one JSON-RPC message (a batch,
    `"jsonrpc": "1.0"`, no method) is answered -32600 Invalid Request, as JSON-RPC says (the SDK
    answers -32602 with a pydantic dump there; the 2026-07-28 path already answers -32600). With OAuth
    (`requires_credentials`), a request without credentials goes straight on: the SDK answers 401 first."""

    def __init__(self, app: ASGIApp, *, requires_credentials: bool = False) -> None:
        self.app = app
        self.requires_credentials = requires_credentials

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        anonymous = self.requires_credentials and not any(k == b"authorization" for k, _ in scope.get("headers", []))
        if scope["type"] != "http" or scope["method"] != "POST" or anonymous or not self._legacy(scope):
            await self.app(scope, receive, send)
            return
        messages: list[Message] = []
        body = b""
        while len(body) <= DEFAULT_MAX_REQUEST_BODY_SIZE:  # past the SDK's limit: it refuses the body itself
            message = await receive()
            messages.append(message)
            if message["type"] != "http.request":
                break
            body += message.get("body", b"")
            if not message.get("more_body", False):
                break
        reason = _invalid_request(body) if len(body) <= DEFAULT_MAX_REQUEST_BODY_SIZE else None
        if reason is not None:
            log.warning("invalid JSON-RPC message refused: %s", reason)
            error = {"code": INVALID_REQUEST, "message": f"Invalid Request: {reason}"}
            payload = JSONRPCError.model_validate({"jsonrpc": "2.0", "id": None, "error": error})
            await send(
                {"type": "http.response.start", "status": 400, "headers": [(b"content-type", b"application/json")]}
            )
            await send(
                {
                    "type": "http.response.body",
                    "body": payload.model_dump_json(by_alias=True, exclude_none=True).encode(),
                }
            )
            return

        async def replay() -> Message:
            return messages.pop(0) if messages else await receive()

        await self.app(scope, replay, send)

    @staticmethod
    def _legacy(scope: Scope) -> bool:
        version = next((v.decode("latin-1") for k, v in scope["headers"] if k == b"mcp-protocol-version"), None)
        return version is None or version in HANDSHAKE_PROTOCOL_VERSIONS


def _invalid_request(body: bytes) -> str | None:
    """Why `body` is not a single JSON-RPC 2.0 message, or None (also for unparseable JSON, which the
    SDK answers -32700 itself)."""
    try:
        data = json.loads(body)
    except ValueError:
        return None
    if isinstance(data, list):
        return "batches are not supported; send one JSON-RPC message per request"
    if not isinstance(data, dict):
        return "the body must be a JSON-RPC message object"
    if data.get("jsonrpc") != "2.0":
        return 'the "jsonrpc" member must be exactly "2.0"'
    try:
        jsonrpc_message_adapter.validate_python(data, by_name=False)
    except ValidationError:
        return "not a JSON-RPC request, notification or response (check method, id and params)"
    return None


class GuardedReadStream:
    """The stdio read stream, answering each line that is not one JSON-RPC message: -32700 when it is not
    JSON, -32600 otherwise (a batch, `"jsonrpc": "1.0"`, ...). The SDK hands such lines on as exceptions
    and drops them, which leaves the client waiting for an answer that never comes."""

    def __init__(self, inner: ReadStream[SessionMessage | Exception], write: WriteStream[SessionMessage]) -> None:
        self.inner = inner
        self.write = write

    @property
    def last_context(self) -> Any:
        return getattr(self.inner, "last_context", None)

    async def receive(self) -> SessionMessage | Exception:
        while True:
            item = await self.inner.receive()
            if not isinstance(item, Exception):
                return item
            await self.write.send(SessionMessage(_error_for(item)))

    async def aclose(self) -> None:
        await self.inner.aclose()

    def __aiter__(self) -> GuardedReadStream:
        return self

    async def __anext__(self) -> SessionMessage | Exception:
        try:
            return await self.receive()
        except (anyio.EndOfStream, anyio.ClosedResourceError):
            raise StopAsyncIteration from None

    async def __aenter__(self) -> GuardedReadStream:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()


def _error_for(exc: Exception) -> JSONRPCError:
    errors = exc.errors() if isinstance(exc, ValidationError) else []
    if any(e.get("type") == "json_invalid" for e in errors):
        code, message = PARSE_ERROR, "Parse error: the line is not JSON"
    else:
        code, message = INVALID_REQUEST, "Invalid Request: " + _reason_of(errors)
    log.warning("invalid JSON-RPC message refused: %s", message)
    return JSONRPCError.model_validate({"jsonrpc": "2.0", "id": None, "error": {"code": code, "message": message}})


def _reason_of(errors: Sequence[Any]) -> str:
    inputs = [e.get("input") for e in errors]
    if any(isinstance(i, list) for i in inputs):
        return "batches are not supported; send one JSON-RPC message per line"
    if any(isinstance(i, dict) and i.get("jsonrpc") != "2.0" for i in inputs):
        return 'the "jsonrpc" member must be exactly "2.0"'
    return "not a JSON-RPC request, notification or response (check method, id and params)"
