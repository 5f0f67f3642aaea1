"""Google Gemini image models over REST (`POST {base}/v1beta/models/{model}:generateContent`).

One pooled `httpx2.AsyncClient` per provider, built on first use; the key goes in `x-goog-api-key`.
Sizes become an aspect ratio and a tier (`providers/gemini_sizes.py`: size auto -> tier from the quality,
low/medium 1K and high 2K; a WxH size -> the nearest ratio, the tier by its long side). Gemini
answers one image per call, so n images are n calls (concurrent, at most 4 at a time) whose usage
is added up; when some of them fail, the images that came back are returned with a note. Edits
send the input images as inline parts after the prompt. Gemini takes no mask: the masked region
is described in the prompt instead, and the result says that it was guidance, not a hard mask.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import quote

import anyio
import anyio.to_thread

from easel_mcp.errors import ConfigurationError, InvalidRequest, ProviderError, UpstreamUnavailable
from easel_mcp.providers.base import EditRequest, GenerateRequest, InputImage, ProviderResult
from easel_mcp.providers.gemini_sizes import image_config
from easel_mcp.providers.gemini_wire import (
    Answer,
    build_body,
    convert,
    mask_instruction,
    parse_answer,
    sum_usage,
    translate_status,
)
from easel_mcp.providers.profile import ProviderProfile, secret_set

if TYPE_CHECKING:
    import httpx2

    from easel_mcp.settings import Settings

DEFAULT_BASE_URL = "https://generativelanguage.googleapis.com"
MISSING = (
    "the gemini provider needs an API key: set GEMINI_API_KEY (or GOOGLE_API_KEY); get one at "
    "https://aistudio.google.com/apikey"
)
MAX_INLINE_BYTES = 20 * 1024 * 1024  # the API's limit on a request's inline data
MASK_NOTE = (
    "gemini takes no mask: the masked region was described in the prompt as guidance, not enforced as a "
    "hard mask (the model may also have changed other areas)"
)

PROFILE = ProviderProfile(
    "gemini",
    "S: image-apis.md §5",
    configured=lambda s: secret_set(s.gemini_api_key),
    families=("gemini",),
    default_model="gemini-3.1-flash-image",
    unknown_models="refuse",
)


class GeminiProvider:
    """Gemini image models (gemini-3.1-flash-image, gemini-3-pro-image, gemini-2.5-flash-image)."""

    name = "gemini"
    profile: ClassVar[ProviderProfile] = PROFILE

    def __init__(
        self,
        *,
        api_key: str,
        base_url: str = DEFAULT_BASE_URL,
        timeout_s: float = 300.0,
        connect_timeout_s: float = 10.0,
        max_concurrency: int = 4,
    ) -> None:
        self._api_key = api_key
        self.base_url = base_url.rstrip("/")
        self._timeout_s = timeout_s
        self._connect_timeout_s = connect_timeout_s
        self.max_concurrency = max_concurrency
        self._client: httpx2.AsyncClient | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> GeminiProvider:
        key = settings.gemini_api_key.get_secret_value().strip() if settings.gemini_api_key else ""
        if not key:
            raise ConfigurationError(MISSING)
        base_url = (settings.gemini_base_url or DEFAULT_BASE_URL).strip()
        if not base_url.startswith(("https://", "http://")):
            raise ConfigurationError(f"EASEL_GEMINI_BASE_URL must be an http(s) URL (got {base_url[:80]!r})")
        return cls(
            api_key=key, base_url=base_url, timeout_s=settings.timeout_s, connect_timeout_s=settings.connect_timeout_s
        )

    @property
    def client(self) -> httpx2.AsyncClient:
        """One pooled client for the provider's lifetime, built on first use."""
        if self._client is None:
            import httpx2

            self._client = httpx2.AsyncClient(
                base_url=self.base_url,
                headers={"x-goog-api-key": self._api_key},
                timeout=httpx2.Timeout(self._timeout_s, connect=self._connect_timeout_s),
            )
        return self._client

    async def warm_up(self) -> None:
        import anyio.to_thread

        await anyio.to_thread.run_sync(importlib.import_module, "httpx2")  # the HTTP stack's import, off the loop
        _ = self.client

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    async def generate(self, request: GenerateRequest) -> ProviderResult:
        aspect, tier = image_config(request.model, request.dimensions, request.quality)
        body = build_body(request.prompt, (), aspect, tier)
        return await self._run(request, body, [])

    async def edit(self, request: EditRequest) -> ProviderResult:
        _check_inline_size(request.images)
        prompt, notes = request.prompt, []
        if request.mask is not None:
            prompt = f"{prompt}\n\n{await anyio.to_thread.run_sync(mask_instruction, request.mask)}"
            notes.append(MASK_NOTE)
        aspect, tier = image_config(request.model, request.dimensions, request.quality)
        body = build_body(prompt, request.images, aspect, tier)
        return await self._run(request, body, notes)

    async def _run(
        self, request: GenerateRequest | EditRequest, body: dict[str, Any], notes: list[str]
    ) -> ProviderResult:
        """n calls (one image each), at most `max_concurrency` at a time."""
        model, n, fmt = request.model, request.n, request.output_format
        outcomes: list[Answer | ProviderError | None] = [None] * n
        limiter = anyio.CapacityLimiter(self.max_concurrency)

        async def one(index: int) -> None:
            async with limiter:
                try:
                    outcomes[index] = await self._call(model, body)
                except ProviderError as e:
                    outcomes[index] = e

        async with anyio.create_task_group() as tg:
            for i in range(n):
                tg.start_soon(one, i)
        answers = [o for o in outcomes if isinstance(o, Answer)]
        errors = [o for o in outcomes if isinstance(o, ProviderError)]
        if not answers:
            raise _failure(errors)
        if errors:
            notes.append(
                f"{len(errors)} of {n} Gemini calls failed, so {len(answers)} image(s) came back; the "
                f"first failure: {errors[0]}"
            )
        # One image per call: the last final image of each answer (earlier ones are rare drafts).
        picked = [a.images[-1] for a in answers]
        images, size = await anyio.to_thread.run_sync(_finish, picked, fmt, request.output_compression)
        return ProviderResult(
            images=images,
            output_format=fmt,
            # the failed calls that were billed count too (one ledger row covers all n calls)
            usage=sum_usage([a.usage for a in answers if a.usage] + [e.usage for e in errors if e.billed and e.usage]),
            request_id=answers[0].response_id,
            revised_prompts=[None] * len(images),
            size=size,
            quality=request.quality,
            notes=notes,
        )

    async def _call(self, model: str, body: dict[str, Any]) -> Answer:
        """One generateContent call: the provider's one boundary between httpx2 and Easel's errors."""
        import httpx2

        name = model.removeprefix("models/")
        path = f"/v1beta/models/{quote(name, safe='-._')}:generateContent"
        try:
            response = await self.client.post(path, json=body)
            if response.status_code >= 400:
                raise translate_status(
                    response.status_code, _json_or_none(response), response.headers.get("retry-after"), (self._api_key,)
                )
            payload = response.json()
        except ProviderError:
            raise
        except httpx2.TimeoutException as e:
            sent = not isinstance(e, httpx2.ConnectTimeout)
            raise UpstreamUnavailable("Gemini did not answer in time; try again", provider=self.name, sent=sent) from e
        except httpx2.HTTPError as e:
            sent = not isinstance(e, httpx2.ConnectError)
            raise UpstreamUnavailable(
                f"could not reach Gemini ({type(e).__name__}); check EASEL_GEMINI_BASE_URL and the network, then "
                "try again",
                provider=self.name,
                sent=sent,
            ) from e
        except ValueError as e:  # JSONDecodeError, UnicodeDecodeError
            raise UpstreamUnavailable(
                f"Gemini's answer could not be read ({type(e).__name__}); try again", provider=self.name
            ) from e
        return parse_answer(payload)


def _json_or_none(response: Any) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def _check_inline_size(images: tuple[InputImage, ...]) -> None:
    total = sum((max(len(img.data), img.size) + 2) // 3 * 4 for img in images)
    if total > MAX_INLINE_BYTES:
        raise InvalidRequest(
            f"the input images come to {total / 2**20:.1f} MB as inline data; Gemini takes at most "
            f"{MAX_INLINE_BYTES / 2**20:g} MB per request: use fewer or smaller images",
            field="images",
        )


def _failure(errors: list[ProviderError]) -> ProviderError:
    """The error for n calls that all failed, as the ledger must count them: a call that may have been
    billed (unknown) keeps the whole reservation counted; else the billed ones with their usage summed."""
    from easel_mcp.retry import billed

    unknown = [e for e in errors if billed(e) is None]
    paid = [e for e in errors if e.billed]
    if unknown or not paid:
        return (unknown or errors)[0]
    paid[0].usage = sum_usage([e.usage for e in paid if e.usage])
    return paid[0]


def _finish(picked: list[tuple[bytes, str]], fmt: str, compression: int | None) -> tuple[list[bytes], str | None]:
    """Images in the requested format, and the first one's size."""
    from easel_mcp.imaging.errors import ImagingError
    from easel_mcp.imaging.io import open_header

    try:
        images = [convert(data, mime, fmt, compression) for data, mime in picked]
    except ImagingError as e:  # the bytes are not an image
        raise UpstreamUnavailable(
            f"Gemini sent image data that could not be read ({type(e).__name__})", provider="gemini", billed=True
        ) from e
    try:
        first, _ = open_header(images[0], what="Gemini's answer image")
    except ImagingError:  # the studio's probe reports an unreadable image with a clear message
        return images, None
    with first:
        return images, f"{first.width}x{first.height}"
