"""OpenAI Images API (and any server that speaks it) through the official SDK.

Generations are JSON, edits are multipart with repeated `image[]` parts and an optional `mask`;
GPT image models answer with base64. The SDK is imported when the provider is built, and its own
retries are off: the retry policy is Easel's (a retried generation can be billed twice).
"""

from __future__ import annotations

import base64
import binascii
from typing import TYPE_CHECKING, Any

from easel_mcp.errors import (
    AuthenticationFailed,
    ConfigurationError,
    ModelNotFound,
    ModerationBlocked,
    OrganizationNotVerified,
    ProviderError,
    QuotaExceeded,
    RateLimited,
    UpstreamRejected,
    UpstreamUnavailable,
)
from easel_mcp.providers.base import EditRequest, GenerateRequest, ProviderResult

if TYPE_CHECKING:
    from openai import AsyncOpenAI

    from easel_mcp.settings import Settings

VERIFY_URL = "https://platform.openai.com/settings/organization/general"


class OpenAIProvider:
    """The OpenAI Images API. Credentials as the official SDK reads them (OPENAI_API_KEY, ...)."""

    name = "openai"

    def __init__(
        self,
        *,
        api_key: str,
        base_url: str | None = None,
        organization: str | None = None,
        project: str | None = None,
        timeout_s: float = 300.0,
        connect_timeout_s: float = 10.0,
    ) -> None:
        self._api_key = api_key
        self._base_url = base_url
        self._organization = organization
        self._project = project
        self._timeout_s = timeout_s
        self._connect_timeout_s = connect_timeout_s
        self._client: AsyncOpenAI | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> OpenAIProvider:
        key = settings.openai_api_key.get_secret_value() if settings.openai_api_key else ""
        if not key.strip():
            raise ConfigurationError(
                "the openai provider needs an API key: set OPENAI_API_KEY (or EASEL_PROVIDER=offline for "
                "placeholder images without a key)"
            )
        return cls(
            api_key=key,
            base_url=settings.openai_base_url,
            organization=settings.openai_org_id,
            project=settings.openai_project_id,
            timeout_s=settings.timeout_s,
            connect_timeout_s=settings.connect_timeout_s,
        )

    @property
    def client(self) -> AsyncOpenAI:
        """One pooled client for the provider's lifetime, built on first use."""
        if self._client is None:
            import httpx2
            from openai import AsyncOpenAI

            self._client = AsyncOpenAI(
                api_key=self._api_key,
                base_url=self._base_url,
                organization=self._organization,
                project=self._project,
                max_retries=0,
                timeout=httpx2.Timeout(self._timeout_s, connect=self._connect_timeout_s),
            )
        return self._client

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.close()
            self._client = None

    async def generate(self, request: GenerateRequest) -> ProviderResult:
        body: dict[str, Any] = {
            "model": request.model,
            "prompt": request.prompt,
            "n": request.n,
            "size": request.size,
            "quality": request.quality,
            "output_format": request.output_format,
        }
        _put(body, "background", request.background)
        _put(body, "output_compression", request.output_compression)
        _put(body, "moderation", request.moderation)
        body.update(request.extra)
        try:
            response = await self.client.images.generate(**body)
        except Exception as e:
            raise translate_error(e, self.name) from e
        return _result(response, request.output_format, self.name)

    async def edit(self, request: EditRequest) -> ProviderResult:
        body: dict[str, Any] = {
            "model": request.model,
            "prompt": request.prompt,
            # Always a list: the SDK then sends repeated `image[]` parts.
            "image": [(img.filename, img.data, img.mime_type) for img in request.images],
            "n": request.n,
            "size": request.size,
            "quality": request.quality,
            "output_format": request.output_format,
        }
        if request.mask is not None:
            body["mask"] = ("mask.png", request.mask, "image/png")
        _put(body, "input_fidelity", request.input_fidelity)
        _put(body, "background", request.background)
        _put(body, "output_compression", request.output_compression)
        body.update(request.extra)
        try:
            response = await self.client.images.edit(**body)
        except Exception as e:
            raise translate_error(e, self.name) from e
        return _result(response, request.output_format, self.name)


def _put(body: dict[str, Any], key: str, value: object) -> None:
    if value is not None:
        body[key] = value


def _result(response: Any, requested_format: str, provider: str) -> ProviderResult:
    from openai.types import ImagesResponse

    if not isinstance(response, ImagesResponse):  # e.g. a text/html page from a proxy
        raise UpstreamUnavailable(
            "the upstream's answer could not be read (not an Images API response); check OPENAI_BASE_URL",
            provider=provider,
        )
    request_id: str | None = getattr(response, "_request_id", None)
    images: list[bytes] = []
    revised: list[str | None] = []
    for item in response.data or []:
        if not item.b64_json:
            raise UpstreamUnavailable(
                "the upstream answered without image data (b64_json); if it is a gateway that answers with "
                "URLs, it is not supported by the openai provider",
                provider=provider,
                request_id=request_id,
                billed=True,
            )
        try:
            images.append(base64.b64decode(item.b64_json, validate=True))
        except (binascii.Error, ValueError) as e:
            raise UpstreamUnavailable(
                "the upstream sent image data that is not valid base64",
                provider=provider,
                request_id=request_id,
                billed=True,
            ) from e
        revised.append(item.revised_prompt)
    if not images:
        raise UpstreamUnavailable(
            "the upstream answered with no images", provider=provider, request_id=request_id, billed=True
        )
    usage = response.usage.model_dump(exclude_none=True) if response.usage is not None else None
    return ProviderResult(
        images=images,
        output_format=response.output_format or requested_format,
        usage=usage,
        request_id=request_id,
        revised_prompts=revised,
        size=response.size,
        quality=response.quality,
        background=response.background,
    )


def translate_error(exc: Exception, provider: str) -> ProviderError:
    """The one place where the SDK's exceptions become Easel's."""
    import openai

    if isinstance(exc, ProviderError):
        return exc
    if isinstance(exc, openai.APIStatusError):
        status = exc.status_code
        fields: dict[str, Any] = {
            "provider": provider,
            "status": status,
            "code": exc.code,
            "request_id": exc.request_id,
            "param": exc.param,
        }
        detail = _redact(_error_message(exc))
        if exc.code in ("moderation_blocked", "content_policy_violation") or exc.type == "image_generation_user_error":
            return ModerationBlocked(
                "the image service's safety system refused this request; reword the prompt (or use other input "
                f"images) and try again. Upstream said: {detail}",
                **fields,
            )
        if status == 401:
            return AuthenticationFailed(
                f"the API key was refused ({detail}); check OPENAI_API_KEY in the server's configuration",
                **fields,
            )
        if status == 403 and "verif" in detail.lower():
            return OrganizationNotVerified(
                f"this model needs a verified OpenAI organisation; verify it at {VERIFY_URL} (it can take 15 "
                f"minutes to apply) or choose another model. Upstream said: {detail}",
                **fields,
            )
        if status == 404 or exc.code == "model_not_found":
            return ModelNotFound(
                f"the upstream does not serve this model ({detail}); choose another model (list_models shows "
                "the catalog)",
                **fields,
            )
        if status == 429 and exc.code == "insufficient_quota":
            return QuotaExceeded(
                f"the account has no quota left ({detail}); add credit or raise the limit in the billing "
                "settings. Retrying will not help.",
                **fields,
            )
        if status == 429:
            retry_after = _retry_after(exc)
            wait = f" in {retry_after:g} s" if retry_after is not None else " shortly"
            return RateLimited(f"rate limited by the upstream; try again{wait}. ({detail})", retry_after_s=retry_after,
                               **fields)
        if 400 <= status < 500:
            field = f" (field '{exc.param}')" if exc.param else ""
            return UpstreamRejected(f"the upstream refused the request{field}: {detail}", **fields)
        return UpstreamUnavailable(f"the upstream failed with HTTP {status}: {detail}; try again", **fields)
    if isinstance(exc, openai.APITimeoutError):
        return UpstreamUnavailable("the upstream did not answer in time; try again", provider=provider, sent=True)
    if isinstance(exc, openai.APIConnectionError):
        import httpx2

        cause = exc.__cause__
        sent = not isinstance(cause, httpx2.ConnectError | httpx2.ConnectTimeout)
        return UpstreamUnavailable(
            f"could not reach the image service ({type(cause).__name__ if cause else 'connection error'}); "
            "check OPENAI_BASE_URL and the network, then try again",
            provider=provider,
            sent=sent,
        )
    if isinstance(exc, openai.OpenAIError | ValueError):  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        return UpstreamUnavailable(
            f"the upstream's answer could not be read ({type(exc).__name__}); try again", provider=provider
        )
    return UpstreamUnavailable(
        f"unexpected failure talking to the upstream ({type(exc).__name__}); try again", provider=provider
    )


def _error_message(exc: Any) -> str:
    body = exc.body
    if isinstance(body, dict):
        message = body.get("message")
        if isinstance(message, str):
            return message
    return str(exc.message)


def _retry_after(exc: Any) -> float | None:
    value = exc.response.headers.get("retry-after")
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def _redact(text: str) -> str:
    """Error bodies sometimes echo the key ("Incorrect API key provided: sk-abc..."): cut it."""
    import re

    return re.sub(r"\b(sk|rk|pk)-[A-Za-z0-9_\-*]{6,}", r"\1-***", text)[:800]
