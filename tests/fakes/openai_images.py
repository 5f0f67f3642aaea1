"""A strict local fake of OpenAI's Images API (POST /v1/images/generations and /v1/images/edits).

It listens on 127.0.0.1 (random free port) in a background thread and speaks the real wire
format, so tests can drive the real ``openai`` SDK or plain HTTP against it.  Every request is
recorded and validated against OpenAI's OpenAPI spec plus the model rules of image-apis.md
(see ``openai_validation``).  Usage and the dollars it implies are computed from the tables there.

Usage::

    with FakeOpenAIImages() as fake:
        client = OpenAI(base_url=fake.base_url, api_key="sk-test", max_retries=0)
        fake.script.append(Scripted.rate_limit(retry_after=2))
        ...
        assert fake.violations == []
"""

from __future__ import annotations

import base64
import contextlib
import secrets
import threading
import time
import traceback
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import anyio
import anyio.to_thread
import uvicorn
from PIL import Image

from . import openai_render as render
from . import openai_validation as val
from . import openai_wire as wire
from .openai_wire import Message, Receive, RecordedRequest, Scripted, Send, UploadedFile, error_body
from .server import serve, shutdown

__all__ = ["FakeOpenAIImages", "RecordedRequest", "Scripted", "UploadedFile", "error_body"]


class FakeOpenAIImages:
    def __init__(
        self,
        *,
        latency_s: float = 0.0,
        api_key: str | None = "sk-test",
        spec_path: Path | None = None,
        strict: bool = True,
        models: Iterable[str] | None = None,
    ) -> None:
        self.latency_s = latency_s
        self.api_key = api_key
        self.strict = strict
        self.models = frozenset(models) if models is not None else val.DEFAULT_MODELS
        self.spec = val.SpecValidator(spec_path or val.default_spec_path())
        self.base_url = ""
        self.requests: list[RecordedRequest] = []
        self.script: list[Scripted] = []
        self.usage_log: list[dict[str, Any]] = []
        self.charged_usd = 0.0
        self.errors: list[str] = []  # tracebacks of bugs in the fake itself (answered with 500)
        self._lock = threading.Lock()
        # Events instead of clocks: ``hold()`` keeps every answer back until ``release()``;
        # ``in_flight``/``max_in_flight`` count requests being answered at once.
        self.gate = threading.Event()
        self.gate.set()
        self.in_flight = 0
        self.max_in_flight = 0
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> FakeOpenAIImages:
        if self._thread is not None:
            return self
        self._server, self._thread, port = serve(self, "fake-openai")
        self.base_url = f"http://127.0.0.1:{port}/v1"
        return self

    def stop(self) -> None:
        if self._server is not None and self._thread is not None:
            shutdown(self._server, self._thread)
        self._server = self._thread = None

    def __enter__(self) -> FakeOpenAIImages:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def violations(self) -> list[str]:
        return [v for r in list(self.requests) for v in r.violations]

    @property
    def last(self) -> RecordedRequest:
        return self.requests[-1]

    def hold(self) -> None:
        """Answer nothing until ``release()`` (requests are still received and recorded)."""
        self.gate.clear()

    def release(self) -> None:
        self.gate.set()

    async def received(self, count: int = 1, timeout_s: float = 60) -> None:
        """Wait until at least `count` requests have arrived (generous limit: it only stops a hung test)."""
        with anyio.fail_after(timeout_s):
            while len(self.requests) < count:
                await anyio.sleep(0.005)

    def wait_received(self, count: int = 1, timeout_s: float = 60) -> None:
        """The same, from synchronous code."""
        deadline = time.monotonic() + timeout_s
        while len(self.requests) < count:
            if time.monotonic() > deadline:
                raise TimeoutError(f"the fake received {len(self.requests)} of {count} requests")
            time.sleep(0.005)

    def reset(self) -> None:
        with self._lock:
            self.requests.clear()
            self.script.clear()
            self.usage_log.clear()
            self.errors.clear()
            self.charged_usd = 0.0
            self.max_in_flight = self.in_flight

    # ------------------------------------------------------------------ ASGI

    async def __call__(self, scope: Message, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        rid = "req_" + secrets.token_hex(16)
        started = False

        async def tracked(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self._handle(scope, receive, tracked, rid)
        except wire.Disconnected:
            return
        except Exception:
            self.errors.append(traceback.format_exc())
            if not started:
                await wire.send_json(
                    tracked,
                    500,
                    error_body(f"fake server bug: {self.errors[-1][-300:]}", "server_error"),
                    rid,
                )

    async def _handle(self, scope: Message, receive: Receive, send: Send, rid: str) -> None:
        raw = await wire.read_body(receive)
        rec, parsed = await wire.parse_request(scope, raw, receive)
        self._annotate(scope, rec, parsed)
        model = self._model_of(rec, parsed)
        violations = self._validate(parsed, rec, model)
        rec.violations = [str(v) for v in violations]
        with self._lock:
            self.requests.append(rec)
            scripted = self.script.pop(0) if self.script else None
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            await self._respond(send, receive, rec, parsed, violations, model, scripted, rid)
        finally:
            with self._lock:
                self.in_flight -= 1

    async def _respond(
        self,
        send: Send,
        receive: Receive,
        rec: RecordedRequest,
        parsed: wire.Parsed,
        violations: list[val.Violation],
        model: str,
        scripted: Scripted | None,
        rid: str,
    ) -> None:
        delay = self.latency_s + (scripted.delay_s if scripted else 0.0)
        picture: list[tuple[str, int, int]] = []
        async with anyio.create_task_group() as tg:
            if delay > 0 and (scripted is None or scripted.passthrough):
                # A real upstream draws while the client waits: the latency includes the drawing (done in a worker
                # thread, not after the wait on the fake's event loop, where answers arriving together would queue).
                async def draw() -> None:
                    with contextlib.suppress(Exception):  # a request the fake refuses: nothing to draw
                        picture.append(await anyio.to_thread.run_sync(self._picture, parsed, model))

                tg.start_soon(draw)
            if not await wire.pause(delay, receive, self.gate):
                tg.cancel_scope.cancel()
                return
        if scripted is not None and not scripted.passthrough:
            await wire.send_scripted(send, scripted, rid)
            return
        extra = scripted.headers if scripted else {}
        refusal = self._gate(rec, parsed, violations, model)
        if refusal is not None:
            await wire.send_json(send, refusal[0], refusal[1], rid, extra)
            return
        await self._answer(send, parsed, model, rid, extra, picture[0] if picture else None)

    # ------------------------------------------------------------------ hooks (subclasses: azure, gateway)

    def _annotate(self, scope: Message, rec: RecordedRequest, parsed: wire.Parsed) -> None:
        """Called once a request is parsed; subclasses record what their URL layout carries."""

    def _model_of(self, rec: RecordedRequest, parsed: wire.Parsed) -> str:
        """The model a request is for (the body's ``model``; the edits endpoint's default otherwise)."""
        asked = parsed.body.get("model")
        return asked if isinstance(asked, str) and asked else val.DEFAULT_EDIT_MODEL

    # ------------------------------------------------------------------ validation

    def _validate(self, p: wire.Parsed, rec: RecordedRequest, model: str) -> list[val.Violation]:
        if p.endpoint is None or (p.problems and not p.body):
            return p.problems
        edit = p.endpoint == "edits"
        schema = (
            "CreateImageRequest"
            if not edit
            else ("EditImageBodyJsonParam" if rec.json is not None else "CreateImageEditRequest")
        )
        schema_v = p.problems + self.spec.validate(schema, p.body)
        info = val.model_info(model)
        if p.body.get("quality") in info.qualities:  # the SDK adds xhigh/max for 2.5+, newer than the spec
            schema_v = [v for v in schema_v if v.param != "quality"]
        rules = val.check_model_rules(p.body, model, edit=edit)
        if not edit and p.body.get("model") is None:
            rules.append(
                val.Violation(
                    "model",
                    "model is required (the API default, dall-e-2, is retired)",
                    "missing_required_parameter",
                )
            )
        rules += val.check_unknown_fields(p.body, self.spec.properties(schema))
        if edit and (p.images or rec.json is None):
            rules += val.check_input_images(p.images)
        if edit and p.mask is not None:
            rules += val.check_mask(p.mask, p.images[0] if p.images else None)
        if model not in self.models:
            rules.append(val.Violation("model", f"The model '{model}' does not exist", "model_not_found"))
        return val.drop_overlaps(schema_v, rules)

    def _gate(
        self, rec: RecordedRequest, p: wire.Parsed, violations: list[val.Violation], model: str
    ) -> tuple[int, Message] | None:
        if self.api_key is not None:
            auth = rec.headers.get("authorization", "")
            if not auth.startswith("Bearer "):
                return 401, error_body(
                    "You didn't provide an API key. You need to provide your API key in an "
                    "Authorization header using Bearer auth.",
                    code="invalid_api_key",
                )
            if auth != f"Bearer {self.api_key}":
                shown = auth[7:11] + "*" * 4 + auth[-4:]
                return 401, error_body(f"Incorrect API key provided: {shown}.", code="invalid_api_key")
        if p.endpoint is None:
            return 404, error_body(f"Invalid URL ({rec.method} {rec.path})")
        if model not in self.models:
            return 404, error_body(
                f"The model `{model}` does not exist or you do not have access to it.",
                param="model",
                code="model_not_found",
            )
        if violations and (self.strict or not p.body):
            first = violations[0]
            message = "; ".join(v.message for v in violations)
            return 400, error_body(message, param=first.param, code=first.code)
        return None

    # ------------------------------------------------------------------ answers

    def _picture(self, p: wire.Parsed, model: str) -> tuple[str, int, int]:
        """The answer's image (base64), its width and height."""
        body, edit = p.body, p.endpoint == "edits"
        fmt = str(body.get("output_format")) if body.get("output_format") in ("png", "jpeg", "webp") else "png"
        transparent = body.get("background") == "transparent"
        compression = wire.clamp_int(body.get("output_compression"), 100, 0, 100)
        first = val.open_image(p.images[0]) if edit and p.images else None
        width, height = _output_size(body.get("size"), model, first)
        if edit and first is not None:
            mask = val.open_image(p.mask) if p.mask is not None else None
            image = render.edit_image(first, mask, width, height, transparent)
        else:
            image = render.generated_image(str(body.get("prompt", "")), width, height, transparent)
        return base64.b64encode(render.encode(image, fmt, compression)).decode(), width, height

    async def _answer(
        self,
        send: Send,
        p: wire.Parsed,
        model: str,
        rid: str,
        extra: dict[str, str],
        picture: tuple[str, int, int] | None = None,
    ) -> None:
        body, edit = p.body, p.endpoint == "edits"
        info = val.model_info(model)
        fmt = str(body.get("output_format")) if body.get("output_format") in ("png", "jpeg", "webp") else "png"
        quality = body.get("quality")
        quality = quality if quality in info.qualities and quality != "auto" else "medium"
        transparent = body.get("background") == "transparent"
        n = wire.clamp_int(body.get("n"), 1, 1, 10)
        stream = body.get("stream") is True
        partials = wire.clamp_int(body.get("partial_images"), 0, 0, 3) if stream else 0
        b64, width, height = picture or self._picture(p, model)

        text = val.text_tokens(str(body.get("prompt", "")))
        dims = [img.size for img in map(val.open_image, p.images) if img is not None]
        dims += [(1024, 1024)] * (p.image_refs - len(dims))
        image_in = sum(val.input_image_tokens(w, h) for w, h in dims) if edit else 0
        if edit and dims and body.get("input_fidelity") == "high":
            image_in += val.fidelity_tokens(*dims[0])
        per_image = val.output_tokens(model, width, height, quality)
        common = {
            "background": "transparent" if transparent else "opaque",
            "output_format": fmt,
            "quality": quality,
            "size": f"{width}x{height}",
        }
        if not stream:
            usage = val.usage_block(text, image_in, per_image * n)
            usage["output_tokens_details"] = {"image_tokens": per_image * n, "text_tokens": 0}
            self._bill(model, usage)
            payload = {
                "created": int(time.time()),
                "data": [{"b64_json": b64} for _ in range(n)],
                **common,
                "usage": usage,
            }
            await wire.send_json(send, 200, payload, rid, extra)
            return
        prefix = "image_edit" if edit else "image_generation"
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": wire.asgi_headers(
                    rid,
                    {
                        "content-type": "text/event-stream; charset=utf-8",
                        "cache-control": "no-cache",
                        **extra,
                    },
                ),
            }
        )
        for i in range(n):  # one completed event per image; usage split so that the blocks add up
            for k in range(partials):
                event = {
                    "type": f"{prefix}.partial_image",
                    "b64_json": b64,
                    "created_at": int(time.time()),
                    **common,
                    "partial_image_index": k,
                }
                await send({"type": "http.response.body", "body": wire.sse(event), "more_body": True})
            usage = val.usage_block(
                text if i == 0 else 0,
                image_in if i == 0 else 0,
                per_image + val.PARTIAL_IMAGE_TOKENS * partials,
            )
            self._bill(model, usage)
            event = {
                "type": f"{prefix}.completed",
                "b64_json": b64,
                "created_at": int(time.time()),
                **common,
                "usage": usage,
            }
            await send({"type": "http.response.body", "body": wire.sse(event), "more_body": True})
        await send({"type": "http.response.body", "body": b"", "more_body": False})

    def _bill(self, model: str, usage: dict[str, Any]) -> None:
        with self._lock:
            self.usage_log.append(usage)
            self.charged_usd += val.cost_usd(model, usage)


def _output_size(size: Any, model: str, first: Image.Image | None) -> tuple[int, int]:
    """Requested size if valid for the model, else the first input's size if valid, else 1024x1024."""
    wh = val.parse_size(size)
    if wh is not None and val.size_problem(model, size) is None:
        return wh
    if first is not None and val.size_problem(model, f"{first.width}x{first.height}") is None:
        return first.size
    return 1024, 1024
