"""A strict local fake of Azure OpenAI's image deployments, built on the fake OpenAI Images API.

Both URL forms of image-apis.md §4 are served on 127.0.0.1:

* dated: ``POST /openai/deployments/{deployment}/images/{generations|edits}?api-version=V`` (the
  query is required and must be a known version);
* v1: ``POST /openai/v1/images/{generations|edits}`` with the deployment name as ``model``.

Auth is ``api-key: <api_key>`` or ``Authorization: Bearer <ad_token>`` (anything else: Azure's 401).
``deployments`` maps deployment name -> model; an unknown deployment gets Azure's 404
``DeploymentNotFound``. Bodies are validated as by ``FakeOpenAIImages`` plus Azure's differences (no
webp output). ``RecordedRequest.path`` is the Azure path and ``.deployment`` the deployment used.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from . import openai_validation as val
from . import openai_wire as wire
from .openai_images import FakeOpenAIImages
from .openai_wire import Message, Receive, RecordedRequest, Scripted, Send

DATED = re.compile(r"^/openai/deployments/([^/]+)/images/(generations|edits)$")
V1 = re.compile(r"^/openai/v1/images/(generations|edits)$")
API_VERSIONS = frozenset({"2025-04-01-preview", "2025-06-01", "2025-10-01-preview"})
_ROUTE = "easel.azure"


def azure_error(code: str, message: str, **extra: Any) -> Message:
    return {"error": {"code": code, "message": message, **extra}}


def content_filter(code: str = "content_filter", inner_key: str | None = "inner_error") -> Scripted:
    """Azure's safety refusal: HTTP 400, code content_filter (or contentFilter), ResponsibleAIPolicyViolation."""
    extra: dict[str, Any] = {"param": "prompt", "type": None}
    if inner_key is not None:
        extra[inner_key] = {
            "code": "ResponsibleAIPolicyViolation",
            "content_filter_results": {"violence": {"filtered": True, "severity": "medium"}},
        }
    return Scripted(400, azure_error(code, "Your task failed as a result of our safety system.", **extra))


class FakeAzureOpenAI(FakeOpenAIImages):
    def __init__(
        self,
        *,
        deployments: Mapping[str, str] | None = None,
        azure_key: str = "azure-test-key",
        ad_token: str = "entra-test-token",
        api_versions: Iterable[str] = API_VERSIONS,
        **kw: Any,
    ) -> None:
        super().__init__(api_key=None, **kw)  # the OpenAI bearer check is replaced by Azure's
        self.deployments = dict(deployments if deployments is not None else {"gpt-image-1.5": "gpt-image-1.5"})
        self.azure_key = azure_key
        self.ad_token = ad_token
        self.api_versions = frozenset(api_versions)
        self.endpoint = ""

    def start(self) -> FakeAzureOpenAI:
        super().start()
        self.endpoint = self.base_url.removesuffix("/v1")
        return self

    async def _handle(self, scope: Message, receive: Receive, send: Send, rid: str) -> None:
        path = scope["path"]
        dated, v1 = DATED.match(path), V1.match(path)
        routed = dict(scope)
        routed[_ROUTE] = {
            "path": path,
            "form": "dated" if dated else "v1" if v1 else None,
            "deployment": dated.group(1) if dated else None,
        }
        if dated or v1:
            endpoint = dated.group(2) if dated else v1.group(1)  # type: ignore[union-attr]
            routed["path"] = f"/v1/images/{endpoint}"
        await super()._handle(routed, receive, send, rid)

    def _annotate(self, scope: Message, rec: RecordedRequest, parsed: wire.Parsed) -> None:
        route = scope.get(_ROUTE, {})
        rec.path = route.get("path", rec.path)
        asked = parsed.body.get("model")
        version = rec.query.get("api-version")
        if route.get("form") == "dated":
            rec.deployment = route["deployment"]
            if version is None:
                parsed.problems.append(
                    val.Violation(
                        "api-version", "Missing required query parameter 'api-version'", "missing_required_parameter"
                    )
                )
            elif version not in self.api_versions:
                parsed.problems.append(val.Violation("api-version", f"Unsupported api-version {version!r}"))
            if asked is not None and asked != rec.deployment:
                parsed.problems.append(
                    val.Violation("model", f"model {asked!r} differs from the deployment {rec.deployment!r} in the URL")
                )
        elif route.get("form") == "v1":
            rec.deployment = asked if isinstance(asked, str) else None
            if version is not None and version not in ("preview", "v1"):
                parsed.problems.append(val.Violation("api-version", "the v1 API takes no dated api-version"))
            if rec.deployment is None:
                parsed.problems.append(
                    val.Violation("model", "model (the deployment name) is required", "missing_required_parameter")
                )

    def _model_of(self, rec: RecordedRequest, parsed: wire.Parsed) -> str:
        return self.deployments.get(rec.deployment or "", rec.deployment or val.DEFAULT_EDIT_MODEL)

    def _validate(self, p: wire.Parsed, rec: RecordedRequest, model: str) -> list[val.Violation]:
        out = super()._validate(p, rec, model)
        if p.body.get("output_format") == "webp":
            out.append(val.Violation("output_format", "webp output is not supported by Azure OpenAI"))
        both = "api-key" in rec.headers and "authorization" in rec.headers
        if both:
            out.append(val.Violation(None, "both api-key and Authorization were sent", "ambiguous_auth"))
        return out

    def _gate(
        self, rec: RecordedRequest, p: wire.Parsed, violations: list[val.Violation], model: str
    ) -> tuple[int, Message] | None:
        key_ok = rec.headers.get("api-key") == self.azure_key
        token_ok = rec.headers.get("authorization") == f"Bearer {self.ad_token}"
        if not (key_ok or token_ok):
            return 401, azure_error(
                "401",
                "Access denied due to invalid subscription key or wrong API endpoint. "
                "Make sure to provide a valid key for an active subscription and use a "
                "correct regional API endpoint for your resource.",
            )
        if p.endpoint is not None and rec.deployment not in self.deployments:
            return 404, azure_error(
                "DeploymentNotFound",
                "The API deployment for this resource does not exist. "
                "If you created the deployment within the last 5 minutes, please wait a "
                "moment and try again.",
            )
        return super()._gate(rec, p, violations, model)
