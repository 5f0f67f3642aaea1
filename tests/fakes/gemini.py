"""A strict local fake of the Gemini API's image generation (``POST /v1beta/models/{m}:generateContent``).

Listens on 127.0.0.1 (random free port) in a background thread. Every request is recorded and
validated (``gemini_rules``): the key header, the model, contents/parts/inlineData (base64 of a real
image of the stated mimeType), ``generationConfig.responseModalities`` including IMAGE, and
``imageConfig`` (aspectRatio offered by the model, imageSize 1K/2K/4K where the model takes it).
Valid requests get a PNG of the asked aspect ratio and tier (edits: the first input, resized),
``usageMetadata`` and a ``responseId``; gemini-3-pro-image answers start with a 'thought' draft.
Scripted answers (``GeminiScripted``) inject blocks, NO_IMAGE, 429 and 5xx.

Usage::

    with FakeGemini() as fake:
        provider = GeminiProvider(api_key=fake.api_key, base_url=fake.base_url)
"""

from __future__ import annotations

import asyncio
import base64
import io
import json
import re
import secrets
import threading
import traceback
from dataclasses import dataclass
from typing import Any

from PIL import Image

from . import gemini_rules as rules
from . import openai_render as render
from . import openai_wire as wire
from .gemini_rules import GeminiScripted, status_error
from .openai_wire import Message, Receive, Send
from .server import serve, shutdown

__all__ = ["FakeGemini", "GeminiRequest", "GeminiScripted"]

_PATH = re.compile(r"^/v1beta/models/([^/:]+):generateContent$")


@dataclass
class GeminiRequest:
    method: str
    path: str
    model: str | None
    headers: dict[str, str]
    query: dict[str, str]
    json: Any
    violations: list[str]


class FakeGemini:
    def __init__(
        self, *, api_key: str | None = "gemini-test-key", answer_mime: str = "image/png", latency_s: float = 0.0
    ) -> None:
        self.api_key = api_key
        self.answer_mime = answer_mime
        self.latency_s = latency_s
        self.base_url = ""
        self.requests: list[GeminiRequest] = []
        self.script: list[GeminiScripted] = []
        self.usage_log: list[dict[str, Any]] = []
        self.charged_usd = 0.0  # the listed price of every image answered (rules.IMAGE_PRICES_USD)
        self.unpriced_images = 0  # images of a tier without a listed price
        self.errors: list[str] = []
        self.max_in_flight = 0
        self._in_flight = 0
        self._lock = threading.Lock()
        self._server: Any = None
        self._thread: threading.Thread | None = None

    def start(self) -> FakeGemini:
        if self._thread is None:
            self._server, self._thread, port = serve(self, "fake-gemini")
            self.base_url = f"http://127.0.0.1:{port}"
        return self

    def stop(self) -> None:
        if self._server is not None and self._thread is not None:
            shutdown(self._server, self._thread)
        self._server = self._thread = None

    def __enter__(self) -> FakeGemini:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def violations(self) -> list[str]:
        return [v for r in list(self.requests) for v in r.violations]

    @property
    def last(self) -> GeminiRequest:
        return self.requests[-1]

    # ------------------------------------------------------------------ ASGI

    async def __call__(self, scope: Message, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        rid = secrets.token_hex(8)
        with self._lock:
            self._in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self._in_flight)
        try:
            await self._handle(scope, receive, send, rid)
        except wire.Disconnected:
            return
        except Exception:
            self.errors.append(traceback.format_exc())
            await _send(send, 500, status_error(500, "INTERNAL", f"fake server bug: {self.errors[-1][-300:]}"))
        finally:
            with self._lock:
                self._in_flight -= 1

    async def _handle(self, scope: Message, receive: Receive, send: Send, rid: str) -> None:
        raw = await wire.read_body(receive)
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        query = dict(p.split("=", 1) for p in scope.get("query_string", b"").decode().split("&") if "=" in p)
        match = _PATH.match(scope["path"])
        model = match.group(1) if match else None
        try:
            body: Any = json.loads(raw) if raw else None
        except ValueError:
            body = None
        problems, images, prompt = rules.validate_body(body, model or "")
        if scope["method"] != "POST" or match is None:
            problems = [f"no such endpoint: {scope['method']} {scope['path']}"]
        if "key" in query:
            problems.append("the key must go in the x-goog-api-key header, not the URL")
        if headers.get("content-type", "").split(";")[0] != "application/json":
            problems.append(f"Content-Type must be application/json, got {headers.get('content-type')!r}")
        rec = GeminiRequest(scope["method"], scope["path"], model, headers, query, body, problems)
        with self._lock:
            self.requests.append(rec)
            scripted = self.script.pop(0) if self.script else None
        delay = self.latency_s + (scripted.delay_s if scripted else 0.0)
        if delay > 0:
            await asyncio.sleep(delay)
        if scripted is not None:
            payload = scripted.raw if scripted.raw is not None else json.dumps(scripted.json).encode()
            await wire.send_bytes(
                send, scripted.status, payload, rid, {"content-type": "application/json", **scripted.headers}
            )
            return
        refusal = self._gate(rec, problems)
        if refusal is not None:
            await _send(send, *refusal)
            return
        assert model is not None
        await _send(send, 200, self._answer(model, body, images, prompt, rid))

    def _gate(self, rec: GeminiRequest, problems: list[str]) -> tuple[int, dict[str, Any]] | None:
        if rec.model is None:
            return 404, status_error(404, "NOT_FOUND", f"no such endpoint: {rec.method} {rec.path}")
        key = rec.headers.get("x-goog-api-key")
        if self.api_key is not None and key is None:
            return 403, status_error(
                403,
                "PERMISSION_DENIED",
                "Method doesn't allow unregistered callers (callers "
                "without established identity). Please use API Key or other form of API "
                "consumer identity to call this API.",
            )
        if self.api_key is not None and key != self.api_key:
            return 400, status_error(
                400,
                "INVALID_ARGUMENT",
                "API key not valid. Please pass a valid API key.",
                [
                    {
                        "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                        "reason": "API_KEY_INVALID",
                        "domain": "googleapis.com",
                    }
                ],
            )
        if rec.model not in rules.MODELS:
            return 404, status_error(
                404,
                "NOT_FOUND",
                f"models/{rec.model} is not found for API version v1beta, or is not supported for generateContent.",
            )
        if problems:
            return 400, status_error(400, "INVALID_ARGUMENT", "; ".join(problems))
        return None

    def _answer(self, model: str, body: dict[str, Any], images: list[bytes], prompt: str, rid: str) -> dict[str, Any]:
        model_rules = rules.MODELS[model]
        image_config = body.get("generationConfig", {}).get("imageConfig") or {}
        tier = image_config.get("imageSize") or "1K"
        first = Image.open(io.BytesIO(images[0])) if images else None
        ratio = image_config.get("aspectRatio") or (
            rules.nearest_ratio(first.width, first.height, model_rules.ratios) if first else "1:1"
        )
        width, height = rules.output_size(ratio, tier)
        picture = (
            first.convert("RGB").resize((width, height))
            if first
            else render.generated_image(prompt, width, height, False)
        )
        parts: list[dict[str, Any]] = []
        if model_rules.thoughts:
            draft = Image.new("RGB", (64, 64), (128, 128, 128))
            parts += [
                {"text": "Planning the composition.", "thought": True},
                {"inlineData": _inline(draft, "image/png"), "thought": True},
            ]
        parts += [{"text": "Here is your image."}, {"inlineData": _inline(picture, self.answer_mime)}]
        usage = rules.usage(prompt, len(images), model_rules.image_tokens[tier], 5)
        price = rules.IMAGE_PRICES_USD.get(model, {}).get(tier)
        with self._lock:
            self.usage_log.append(usage)
            self.charged_usd += price or 0.0
            self.unpriced_images += price is None
        return {
            "candidates": [{"content": {"role": "model", "parts": parts}, "finishReason": "STOP", "index": 0}],
            "usageMetadata": usage,
            "modelVersion": model,
            "responseId": f"resp-{rid}",
        }


def _inline(image: Image.Image, mime: str) -> dict[str, str]:
    out = io.BytesIO()
    image.save(out, "JPEG" if mime == "image/jpeg" else "PNG")
    return {"mimeType": mime, "data": base64.b64encode(out.getvalue()).decode()}


async def _send(send: Send, status: int, payload: Any) -> None:
    await wire.send_bytes(send, status, json.dumps(payload).encode(), "", {"content-type": "application/json"})
