"""A fake OpenAI-compatible gateway: the strict fake OpenAI Images API, answering like many gateways do.

* ``url_answers``: ``data[].url`` pointing at ``/files/<id>.png`` on the same server instead of
  ``b64_json`` (the bytes are served by ``GET /files/<id>.<ext>``);
* ``usage=False``: no ``usage`` block;
* ``GET /redirect/<k>/<name>`` answers 302 -> ``/redirect/<k-1>/<name>`` ... -> ``/files/<name>``,
  for redirect-limit tests;
* ``GET /away?to=<url>`` answers 302 -> ``<url>`` (a redirect off the gateway);
* every GET is recorded in ``downloads`` (path and headers), so tests can check which credentials
  were sent with a download.
"""

from __future__ import annotations

import base64
import json
import re
import secrets
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs

from . import openai_wire as wire
from .openai_images import FakeOpenAIImages
from .openai_wire import Message, Receive, Send

_FILE = re.compile(r"^/files/([A-Za-z0-9_\-]+\.(png|jpeg|webp))$")
_REDIRECT = re.compile(r"^/redirect/(\d+)/([A-Za-z0-9_\-]+\.(?:png|jpeg|webp))$")


@dataclass
class Download:
    path: str
    headers: dict[str, str]


class FakeGateway(FakeOpenAIImages):
    def __init__(self, *, url_answers: bool = True, usage: bool = False, **kw: Any) -> None:
        super().__init__(**kw)
        self.url_answers = url_answers
        self.usage = usage
        self.files: dict[str, bytes] = {}
        self.downloads: list[Download] = []

    @property
    def origin(self) -> str:
        return self.base_url.removesuffix("/v1")

    async def __call__(self, scope: Message, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "GET":
            await self._get(scope, send)
            return
        await super().__call__(scope, receive, self._rewriting(send))

    async def _get(self, scope: Message, send: Send) -> None:
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        self.downloads.append(Download(scope["path"], headers))
        rid = "req_" + secrets.token_hex(8)
        if scope["path"] == "/away":
            target = parse_qs(scope.get("query_string", b"").decode()).get("to", ["/"])[0]
            await wire.send_bytes(send, 302, b"", rid, {"location": target})
            return
        if m := _REDIRECT.match(scope["path"]):
            k, name = int(m.group(1)), m.group(2)
            target = f"/redirect/{k - 1}/{name}" if k > 1 else f"/files/{name}"
            await wire.send_bytes(send, 302, b"", rid, {"location": target})
            return
        m = _FILE.match(scope["path"])
        if m is None or m.group(1) not in self.files:
            await wire.send_json(send, 404, wire.error_body("no such file"), rid)
            return
        ctype = "image/" + m.group(2)
        await wire.send_bytes(send, 200, self.files[m.group(1)], rid, {"content-type": ctype})

    def _rewriting(self, send: Send) -> Send:
        """Turn the fake's 200 JSON answers into a gateway's: URLs instead of base64, no usage."""
        start: Message | None = None

        async def rewrite(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start" and message["status"] == 200:
                start = message
                return
            if start is None or message["type"] != "http.response.body":
                await send(message)
                return
            head, start = start, None
            headers = dict(head["headers"])
            body = message.get("body", b"")
            if headers.get(b"content-type", b"").startswith(b"application/json") and not message.get("more_body"):
                body = self._gateway_body(json.loads(body))
                headers[b"content-length"] = str(len(body)).encode()
            await send({**head, "headers": list(headers.items())})
            await send({**message, "body": body})

        return rewrite

    def _gateway_body(self, payload: Any) -> bytes:
        if isinstance(payload, dict):
            if not self.usage:
                payload.pop("usage", None)
            fmt = payload.get("output_format") or "png"
            for item in payload.get("data") or []:
                if self.url_answers and isinstance(item, dict) and item.get("b64_json"):
                    name = f"{secrets.token_hex(8)}.{fmt}"
                    self.files[name] = base64.b64decode(item.pop("b64_json"))
                    item["url"] = f"{self.origin}/files/{name}"
        return json.dumps(payload).encode()
