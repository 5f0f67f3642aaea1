"""OpenAI Images API (and any server that speaks it) through the official SDK.

Generations are JSON, edits are multipart with repeated `image[]` parts and an optional `mask`;
GPT image models answer with base64. The SDK is imported when the provider is built, and its own
retries are off: the retry policy is Easel's (a retried generation can be billed twice).
"""

from __future__ import annotations

import base64
import binascii
import contextlib
from typing import TYPE_CHECKING, Any, ClassVar

from easel_mcp.errors import ConfigurationError, ProviderError, UpstreamUnavailable
from easel_mcp.providers.base import EditRequest, GenerateRequest, PartialCallback, ProviderResult
from easel_mcp.providers.common import add_usage, redact
from easel_mcp.providers.openai_errors import ErrorHints, translate_error
from easel_mcp.providers.profile import ProviderProfile, secret_set

if TYPE_CHECKING:
    from openai import AsyncOpenAI

    from easel_mcp.settings import Settings

OPENAI_FAMILIES = ("gpt-image-1", "gpt-image-2", "gpt-image-2.5", "dall-e")
PROFILE = ProviderProfile(
    "openai",
    "P: openai-python 3.57",
    configured=lambda s: secret_set(s.openai_api_key),
    families=OPENAI_FAMILIES,
    unknown_models="refuse",
)


class OpenAIProvider:
    """The OpenAI Images API. Credentials as the official SDK reads them (OPENAI_API_KEY, ...)."""

    name = "openai"
    profile: ClassVar[ProviderProfile] = PROFILE
    hints: ClassVar[ErrorHints] = ErrorHints()

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

    async def _ready(self) -> AsyncOpenAI:
        """The client, built in a worker thread the first time: importing the SDK takes a few hundred
        milliseconds that must not stall the event loop (other calls' progress, other sessions)."""
        if self._client is None:
            import anyio.to_thread

            client = await anyio.to_thread.run_sync(self._build_client)
            if self._client is None:
                self._client = client
        return self._client

    # Hooks for servers that speak this wire format (azure.py, compatible.py).
    def _build_client(self) -> AsyncOpenAI:
        from openai import AsyncOpenAI

        return AsyncOpenAI(
            api_key=self._api_key,
            base_url=self._base_url,
            organization=self._organization,
            project=self._project,
            max_retries=0,
            timeout=self._timeout(),
        )

    def _timeout(self) -> Any:
        import httpx2

        return httpx2.Timeout(self._timeout_s, connect=self._connect_timeout_s)

    def _wire_model(self, model: str) -> str:
        """The `model` value sent upstream (Azure: the deployment name)."""
        return model

    def _call_options(self) -> dict[str, Any]:
        """Extra SDK keyword arguments for every call (e.g. `extra_headers`)."""
        return {}

    def _secrets(self) -> tuple[str | None, ...]:
        return (self._api_key,)

    async def _image_from_url(self, url: str, request_id: str | None) -> bytes:
        """An answer item with `url` instead of `b64_json`. OpenAI's GPT image models never send one."""
        raise UpstreamUnavailable(
            "the upstream answered without image data (b64_json); if it is a gateway that answers with "
            "URLs, it is not supported by the openai provider: use EASEL_PROVIDER=compatible with EASEL_BASE_URL",
            provider=self.name,
            request_id=request_id,
            billed=True,
        )

    def _translate(self, exc: Exception) -> ProviderError:
        error = translate_error(exc, self.name, self.hints)
        error.message = redact(error.message, self._secrets())
        return error

    async def warm_up(self) -> None:
        await self._ready()

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.close()
            self._client = None

    async def generate(self, request: GenerateRequest) -> ProviderResult:
        body: dict[str, Any] = {
            "model": self._wire_model(request.model),
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
            if request.partial_images and request.on_partial is not None:
                body.update(stream=True, partial_images=request.partial_images)
                stream = await (await self._ready()).images.generate(**body, **self._call_options())
                return await self._streamed(stream, request.output_format, request.on_partial)
            response = await (await self._ready()).images.generate(**body, **self._call_options())
            return await self._result(response, request.output_format)
        except ProviderError:
            raise
        except Exception as e:
            raise self._translate(e) from e

    async def edit(self, request: EditRequest) -> ProviderResult:
        body: dict[str, Any] = {
            "model": self._wire_model(request.model),
            "prompt": request.prompt,
            # Always a list: the SDK then sends repeated `image[]` parts.
            "image": [],  # filled below with open files: streamed from disk, not read into memory
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
            with contextlib.ExitStack() as files:
                body["image"] = [
                    (img.filename, files.enter_context(img.open()), img.mime_type) for img in request.images
                ]
                if request.partial_images and request.on_partial is not None:
                    body.update(stream=True, partial_images=request.partial_images)
                    stream = await (await self._ready()).images.edit(**body, **self._call_options())
                    return await self._streamed(stream, request.output_format, request.on_partial)
                response = await (await self._ready()).images.edit(**body, **self._call_options())
                return await self._result(response, request.output_format)
        except ProviderError:
            raise
        except Exception as e:
            raise self._translate(e) from e

    async def _result(self, response: Any, requested_format: str) -> ProviderResult:
        from openai.types import ImagesResponse

        provider = self.name
        if not isinstance(response, ImagesResponse):  # e.g. a text/html page from a proxy
            raise UpstreamUnavailable(
                f"the upstream's answer could not be read (not an Images API response); check {self.hints.base_url}",
                provider=provider,
            )
        request_id: str | None = getattr(response, "_request_id", None)
        usage = response.usage.model_dump(exclude_none=True) if response.usage is not None else None
        images: list[bytes] = []
        revised: list[str | None] = []
        try:
            for item in response.data or []:
                if item.b64_json:
                    images.append(_decode(item.b64_json, provider, request_id))
                elif item.url:
                    images.append(await self._image_from_url(item.url, request_id))
                revised.append(item.revised_prompt)
            if not images or len(images) < len(response.data or []):
                what = "no images" if not response.data else "an image without data (neither b64_json nor url)"
                raise UpstreamUnavailable(f"the upstream answered with {what}", provider=provider, billed=True)
        except ProviderError as e:  # answered and billed: the ledger keeps what it cost
            e.usage, e.request_id = e.usage or usage, e.request_id or request_id
            raise
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

    async def _streamed(self, stream: Any, requested_format: str, on_partial: PartialCallback) -> ProviderResult:
        """Server-sent events: partial images go to `on_partial` as they come; each completed event is
        one image, with its usage (summed over the images)."""
        response = getattr(stream, "response", None)
        request_id = response.headers.get("x-request-id") if response is not None else None
        images: list[bytes] = []
        usage: dict[str, Any] | None = None
        size = quality = background = None
        fmt = requested_format
        try:
            async for event in stream:
                kind = getattr(event, "type", "")
                if kind.endswith("partial_image"):
                    try:  # a broken draft must not cost the paid final image
                        draft = _decode(event.b64_json, self.name, request_id)
                    except ProviderError:
                        continue
                    await on_partial(event.partial_image_index, draft)
                elif kind.endswith("completed"):
                    if event.usage is not None:
                        usage = add_usage(usage, event.usage.model_dump(exclude_none=True))
                    images.append(_decode(event.b64_json, self.name, request_id))
                    size, quality, background = event.size, event.quality, event.background
                    fmt = event.output_format or fmt
        except ProviderError as e:  # answered and billed: the ledger keeps what it cost so far
            e.usage = e.usage or usage
            raise
        if not images:
            raise UpstreamUnavailable(
                "the upstream's stream ended without a completed image",
                provider=self.name,
                request_id=request_id,
                billed=True,
            )
        return ProviderResult(
            images=images,
            output_format=fmt,
            usage=usage,
            request_id=request_id,
            revised_prompts=[None] * len(images),
            size=size,
            quality=quality,
            background=background,
        )


def _put(body: dict[str, Any], key: str, value: object) -> None:
    if value is not None:
        body[key] = value


def _decode(b64: str, provider: str, request_id: str | None) -> bytes:
    try:
        return base64.b64decode(b64, validate=True)
    except (binascii.Error, ValueError) as e:
        raise UpstreamUnavailable(
            "the upstream sent image data that is not valid base64",
            provider=provider,
            request_id=request_id,
            billed=True,
        ) from e
