"""HTTP-level pieces of the fake OpenAI Images API: error bodies, scripted responses, ASGI helpers."""

from __future__ import annotations

import base64
import binascii
import io
import json
import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

import anyio
from PIL import Image
from starlette.requests import Request

from . import openai_validation as val

Message = dict[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

ENDPOINTS = {"/v1/images/generations": "generations", "/v1/images/edits": "edits"}
INT_FIELDS = frozenset({"n", "output_compression", "partial_images", "frame_count", "frame_duration_ms"})


def error_body(
    message: str, type_: str = "invalid_request_error", param: str | None = None, code: str | None = None
) -> Message:
    return {"error": {"message": message, "type": type_, "param": param, "code": code}}


DEFAULT_ERRORS: dict[int, Message] = {
    400: error_body("Invalid request (scripted).", code="invalid_value"),
    401: error_body("Incorrect API key provided.", code="invalid_api_key"),
    403: error_body(
        "Your organization must be verified to use the model. Please go to "
        "https://platform.openai.com/settings/organization/general and click on Verify Organization."
    ),
    404: error_body("The model does not exist or you do not have access to it.", code="model_not_found"),
    429: error_body(
        "Rate limit reached for images per minute. Please try again later.",
        "requests",
        code="rate_limit_exceeded",
    ),
}


@dataclass
class Scripted:
    """One injected response, consumed in FIFO order before normal handling."""

    status: int = 200
    json: Any = None  # body to send (if None and status == 200: the normal answer)
    headers: dict[str, str] = field(default_factory=dict)
    delay_s: float = 0.0  # sleep before answering (cancelled when the client goes away)
    raw: bytes | None = None  # send these bytes as the body
    reset: bool = False  # send headers and part of the body, then drop the connection

    @property
    def passthrough(self) -> bool:
        return self.status == 200 and self.json is None and self.raw is None and not self.reset

    def body(self) -> bytes:
        if self.raw is not None:
            return self.raw
        if self.json is not None:
            return json.dumps(self.json).encode()
        if self.reset:
            return b'{"created": 1700000000, "data": [{"b64_json": "iVBORw0KGgoAAAANSUhEUgAA' + b"A" * 4096
        default = DEFAULT_ERRORS.get(
            self.status,
            error_body("The server had an error while processing your request. Sorry about that!", "server_error"),
        )
        return json.dumps(default).encode()

    @classmethod
    def rate_limit(cls, retry_after: float = 1, *, ms: bool = False) -> Scripted:
        headers = {"retry-after-ms": str(int(retry_after * 1000))} if ms else {"retry-after": str(retry_after)}
        return cls(429, DEFAULT_ERRORS[429], headers=headers)

    @classmethod
    def insufficient_quota(cls) -> Scripted:
        return cls(
            429,
            error_body(
                "You exceeded your current quota, please check your plan and billing details.",
                "insufficient_quota",
                code="insufficient_quota",
            ),
        )

    @classmethod
    def moderation_blocked(cls) -> Scripted:
        body = error_body(
            "Your request was rejected by the safety system. If you believe this is an error, "
            "contact us at help.openai.com and include the request ID.",
            "image_generation_user_error",
            code="moderation_blocked",
        )
        body["error"]["moderation_details"] = {"categories": ["violence"]}
        return cls(400, body)

    @classmethod
    def unverified_org(cls) -> Scripted:
        return cls(403, DEFAULT_ERRORS[403])

    @classmethod
    def server_error(cls, status: int = 500) -> Scripted:
        return cls(status)

    @classmethod
    def garbage(cls, status: int = 200) -> Scripted:
        """A 200 (by default) whose JSON body is cut off: the SDK raises json.JSONDecodeError."""
        return cls(status, raw=b'{"created": 1700000000, "data": [{"b64_json": <html>502 Bad Gateway</html>')

    @classmethod
    def stall(cls, seconds: float = 30.0) -> Scripted:
        return cls(delay_s=seconds)

    @classmethod
    def connection_reset(cls) -> Scripted:
        return cls(reset=True)


@dataclass
class UploadedFile:
    field: str
    filename: str | None
    content_type: str | None
    data: bytes

    def image(self) -> Image.Image:
        img = Image.open(io.BytesIO(self.data))
        img.load()
        return img


@dataclass
class RecordedRequest:
    method: str
    path: str
    headers: dict[str, str]  # lower-cased keys
    json: dict[str, Any] | None  # JSON body (generations, JSON edits)
    fields: dict[str, list[str]]  # multipart text fields, repeated keys kept in order
    files: dict[str, list[UploadedFile]]  # multipart files: files["image[]"], files["mask"], ...
    query: dict[str, str]
    violations: list[str]  # problems found in THIS request ([] when valid)
    deployment: str | None = None  # Azure: the deployment the URL (dated form) or body (v1 form) named


@dataclass
class Parsed:
    endpoint: str | None
    body: dict[str, Any] = field(default_factory=dict)
    images: list[bytes] = field(default_factory=list)  # decodable input bytes (multipart or data URLs)
    image_refs: int = 0  # input images given (incl. URL / file_id refs that are not inspected)
    mask: bytes | None = None
    problems: list[val.Violation] = field(default_factory=list)


class Disconnected(Exception):
    """The client went away before the request body was read."""


def coerce(key: str, value: str) -> Any:
    """Multipart text to the JSON type the schema expects."""
    if key in INT_FIELDS and value.lstrip("-").isdigit():
        return int(value)
    if key == "stream" and value in ("true", "false"):
        return value == "true"
    return value


def clamp_int(value: Any, default: int, low: int, high: int) -> int:
    return min(high, max(low, value)) if isinstance(value, int) and not isinstance(value, bool) else default


def data_url(ref: Any) -> bytes | None:
    url = ref.get("image_url") if isinstance(ref, dict) else None
    if not isinstance(url, str) or not url.startswith("data:") or ";base64," not in url:
        return None
    try:
        return base64.b64decode(url.split(";base64,", 1)[1], validate=True)
    except (binascii.Error, ValueError):
        return None


def asgi_headers(rid: str, extra: dict[str, str]) -> list[tuple[bytes, bytes]]:
    merged = {"x-request-id": rid, "openai-version": "2020-10-01", **{k.lower(): v for k, v in extra.items()}}
    return [(k.encode("latin-1"), v.encode("latin-1")) for k, v in merged.items()]


def sse(event: Message) -> bytes:
    return f"event: {event['type']}\ndata: {json.dumps(event)}\n\n".encode()


async def send_json(send: Send, status: int, payload: Any, rid: str, extra: dict[str, str] | None = None) -> None:
    await send_bytes(
        send, status, json.dumps(payload).encode(), rid, {"content-type": "application/json", **(extra or {})}
    )


async def send_bytes(send: Send, status: int, body: bytes, rid: str, extra: dict[str, str]) -> None:
    head = {**extra, "content-length": str(len(body))}
    await send({"type": "http.response.start", "status": status, "headers": asgi_headers(rid, head)})
    await send({"type": "http.response.body", "body": body, "more_body": False})


async def send_scripted(send: Send, s: Scripted, rid: str) -> None:
    body = s.body()
    head = {"content-type": "application/json", **{k.lower(): v for k, v in s.headers.items()}}
    if not s.reset:
        await send_bytes(send, s.status, body, rid, head)
        return
    # Promise more bytes than are sent, then return: uvicorn closes the transport mid-body.
    head["content-length"] = str(len(body) + 1000)
    await send({"type": "http.response.start", "status": s.status, "headers": asgi_headers(rid, head)})
    await send({"type": "http.response.body", "body": body[: max(1, len(body) // 2)], "more_body": True})
    await anyio.sleep(0.01)


async def read_body(receive: Receive) -> bytes:
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise Disconnected
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)


async def pause(seconds: float, receive: Receive, gate: threading.Event | None = None) -> bool:
    """Sleep `seconds`, then wait until `gate` is set (if given), but stop early (returning False) when the
    client disconnects."""
    if seconds <= 0 and (gate is None or gate.is_set()):
        return True
    gone = False
    async with anyio.create_task_group() as tg:

        async def watch() -> None:
            nonlocal gone
            while (await receive())["type"] != "http.disconnect":
                pass
            gone = True
            tg.cancel_scope.cancel()

        tg.start_soon(watch)
        await anyio.sleep(seconds)
        while gate is not None and not gate.is_set():
            await anyio.sleep(0.005)
        tg.cancel_scope.cancel()
    return not gone


# ---------------------------------------------------------------------- request parsing


async def parse_request(scope: Message, raw: bytes, receive: Receive) -> tuple[RecordedRequest, Parsed]:
    headers: dict[str, str] = {}
    for k, v in scope.get("headers", []):
        key = k.decode("latin-1").lower()
        headers[key] = f"{headers[key]}, {v.decode('latin-1')}" if key in headers else v.decode("latin-1")
    query = dict(parse_qsl(scope.get("query_string", b"").decode("latin-1")))
    rec = RecordedRequest(scope["method"], scope["path"], headers, None, {}, {}, query, [])
    endpoint = ENDPOINTS.get(scope["path"]) if scope["method"] == "POST" else None
    p = Parsed(endpoint)
    if endpoint is None:
        p.problems.append(val.Violation(None, f"no such endpoint: {scope['method']} {scope['path']}", "not_found"))
        return rec, p
    ctype = headers.get("content-type", "")
    if ctype.startswith("application/json"):
        try:
            body = json.loads(raw)
        except ValueError:
            p.problems.append(val.Violation(None, "We could not parse the JSON body of your request."))
            return rec, p
        if not isinstance(body, dict):
            p.problems.append(val.Violation(None, "The JSON body must be an object."))
            return rec, p
        rec.json = p.body = body
        if endpoint == "edits":
            _json_edit_images(p)
    elif ctype.startswith("multipart/form-data") and endpoint == "edits":
        await _parse_multipart(scope, raw, receive, rec, p)
    else:
        want = "application/json" if endpoint == "generations" else "multipart/form-data or application/json"
        p.problems.append(val.Violation(None, f"Content-Type must be {want}, got {ctype!r}", "invalid_content_type"))
    return rec, p


async def _parse_multipart(scope: Message, raw: bytes, receive: Receive, rec: RecordedRequest, p: Parsed) -> None:
    replayed = False

    async def replay() -> Message:
        nonlocal replayed
        if replayed:
            return await receive()
        replayed = True
        return {"type": "http.request", "body": raw, "more_body": False}

    try:
        form = await Request(scope, replay).form(max_files=64, max_fields=1000)
    except Exception as exc:  # starlette raises HTTPException / MultiPartException
        p.problems.append(val.Violation(None, f"could not parse the multipart body: {exc}"))
        return
    for key, value in form.multi_items():
        if isinstance(value, str):
            rec.fields.setdefault(key, []).append(value)
        else:
            data = await value.read()
            rec.files.setdefault(key, []).append(UploadedFile(key, value.filename, value.content_type, data))
    await form.close()
    for key, values in rec.fields.items():
        if len(values) > 1:
            p.problems.append(val.Violation(key, f"field '{key}' was sent {len(values)} times"))
        p.body[key] = coerce(key, values[-1])
        if key in ("image", "image[]", "mask"):
            p.problems.append(val.Violation(key, f"'{key}' must be a file upload, not a text field"))
    uploads = rec.files.get("image", []) + rec.files.get("image[]", [])
    if "image[]" in rec.files or len(rec.files.get("image", [])) > 1:
        p.body["image"] = ["<binary>"] * len(uploads)
    elif uploads:
        p.body["image"] = "<binary>"
    p.images = [u.data for u in uploads]
    p.image_refs = len(uploads)
    if "mask" in rec.files:
        p.body["mask"] = "<binary>"
        p.mask = rec.files["mask"][0].data
        if len(rec.files["mask"]) > 1:
            p.problems.append(val.Violation("mask", "only one mask may be sent"))
    for key in rec.files:
        if key not in ("image", "image[]", "mask", "markup"):
            p.problems.append(val.Violation(key, f"unexpected file field '{key}'", "unknown_parameter"))


def _json_edit_images(p: Parsed) -> None:
    refs = p.body.get("images")
    if isinstance(refs, list):
        p.image_refs = len(refs)
        p.images = [d for d in (data_url(r) for r in refs) if d is not None]
    p.mask = data_url(p.body.get("mask"))
